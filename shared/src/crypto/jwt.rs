//! Access tokens: RS256 JWTs (API Gateway JWT authorizers accept only RSA) and the public
//! key set they are verified with.

use std::collections::BTreeMap;

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// RFC 9068's media type for JWT access tokens, the header's `typ`.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session: the refresh-token family this token was issued with.
    pub sid: String,
}

/// Signs access tokens with the key `JWT_SIGNING_KID` names.
#[derive(Clone)]
pub struct TokenSigner {
    kid: String,
    key: EncodingKey,
    header: Header,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl TokenSigner {
    pub fn new(kid: &str, key: EncodingKey, issuer: &str, audience: &str, ttl_secs: i64) -> Self {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        Self {
            kid: kid.to_owned(),
            key,
            header,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// An access token for `user_id` in the session `session_id`.
    pub fn sign(&self, user_id: &str, session_id: &str, now: i64) -> Result<String, AuthError> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_owned(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_owned(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| AuthError::internal(format!("signing an access token: {e}")))
    }
}

/// Checks access tokens presented to this service's own routes: RS256 only, signed by one of
/// the configured keys (picked by `kid`), `typ: at+jwt`, this issuer and audience, and not
/// expired at the service's clock.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: BTreeMap<String, DecodingKey>,
    validation: Validation,
}

impl TokenVerifier {
    /// A verifier for the public halves of `signing_keys`.
    pub fn new(
        signing_keys: &BTreeMap<String, EncodingKey>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        let mut keys = BTreeMap::new();
        for (kid, key) in signing_keys {
            let jwk = public_jwk(kid, key)?;
            let decoding = DecodingKey::from_jwk(&jwk)
                .map_err(|e| AuthError::internal(format!("public key of {kid}: {e}")))?;
            keys.insert(kid.clone(), decoding);
        }
        // Pinned to RS256, so neither `none` nor an HMAC keyed with a public key passes.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is compared with the service's clock below, not the library's.
        validation.validate_exp = false;
        validation.leeway = 0;
        Ok(Self { keys, validation })
    }

    /// The claims of a valid token; `None` for anything else, whatever the reason.
    pub fn verify(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return None;
        }
        let key = self.keys.get(header.kid.as_deref()?)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .ok()?
            .claims;
        (claims.exp > now).then_some(claims)
    }
}

/// The public JWK of a signing key, as the JWKS publishes it.
pub fn public_jwk(kid: &str, key: &EncodingKey) -> Result<Jwk, AuthError> {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS256)
        .map_err(|e| AuthError::internal(format!("deriving the public key of {kid}: {e}")))?;
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
    Ok(jwk)
}
