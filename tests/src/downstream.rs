//! Verifies an access token the way a downstream service does: fetch the JWKS, pick the key by
//! `kid`, accept only RS256, check signature, `iss`, `aud` and `exp`.

use auth_shared::crypto::AccessClaims;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

pub async fn fetch_jwks(api_url: &str) -> JwkSet {
    reqwest::get(format!("{api_url}/.well-known/jwks.json"))
        .await
        .expect("the JWKS answers")
        .json()
        .await
        .expect("the JWKS is a JWK set")
}

pub fn verify(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    audience: &str,
) -> Result<AccessClaims, String> {
    let header = decode_header(token).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!("algorithm {:?} is not accepted", header.alg));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("no published key {kid}"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key: {e}"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    decode::<AccessClaims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| format!("rejected: {e}"))
}
