//! Access tokens: RS256 JWTs (API Gateway JWT authorizers accept only RSA) and the public
//! key set they are verified with.

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::AuthError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
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

    pub fn sign(&self, user_id: &str, now: i64) -> Result<String, AuthError> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_owned(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| AuthError::internal(format!("signing an access token: {e}")))
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
