//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`: public data
//! only. The function serving them is given the public keys (`JWT_PUBLIC_JWKS`), never a
//! private one.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use serde_json::{Value, json};

use crate::error::StartupError;

#[derive(Debug, Clone)]
pub struct Discovery {
    pub jwks: JwkSet,
    pub openid_configuration: Value,
}

impl Discovery {
    pub fn from_env() -> Result<Self, StartupError> {
        let var = |key: &str| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| StartupError::Config(format!("{key} is not set")))
        };
        Self::new(&var("ISSUER")?, &var("JWT_PUBLIC_JWKS")?)
    }

    /// `public_jwks`: a JWK set (`{"keys": [...]}`) or a bare array of RSA public JWKs.
    pub fn new(issuer: &str, public_jwks: &str) -> Result<Self, StartupError> {
        let issuer = issuer.trim_end_matches('/');
        let set = public_key_set(public_jwks)?;
        let openid_configuration = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}/token"),
            "revocation_endpoint": format!("{issuer}/logout"),
            // Only what the service does: no authorization endpoint, so no response types,
            // no implicit flow and no ID tokens; refresh tokens come from sign-in.
            "grant_types_supported": ["refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti"],
        });
        Ok(Self {
            jwks: set,
            openid_configuration,
        })
    }
}

/// The RSA public keys of `JWT_PUBLIC_JWKS`: a JWK set (`{"keys": [...]}`) or a bare array
/// of RSA public JWKs, each with a `kid`. The JWKS serves them; bearer routes verify with them.
pub fn public_key_set(public_jwks: &str) -> Result<JwkSet, StartupError> {
    let value: Value = serde_json::from_str(public_jwks)
        .map_err(|e| StartupError::Config(format!("JWT_PUBLIC_JWKS is not JSON: {e}")))?;
    let keys = match value {
        Value::Array(keys) => keys,
        Value::Object(mut set) => match set.remove("keys") {
            Some(Value::Array(keys)) => keys,
            _ => {
                return Err(StartupError::Config(
                    "JWT_PUBLIC_JWKS has no `keys` array".to_owned(),
                ));
            }
        },
        _ => {
            return Err(StartupError::Config(
                "JWT_PUBLIC_JWKS must be a JWK set".to_owned(),
            ));
        }
    };
    let mut set = JwkSet { keys: Vec::new() };
    for key in keys {
        let mut jwk: Jwk = serde_json::from_value(key)
            .map_err(|e| StartupError::Config(format!("JWT_PUBLIC_JWKS holds a bad key: {e}")))?;
        let public_rsa = matches!(&jwk.algorithm, AlgorithmParameters::RSA(_));
        if !public_rsa || jwk.common.key_id.is_none() {
            return Err(StartupError::Config(
                "every published key must be an RSA public JWK with a kid".to_owned(),
            ));
        }
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        set.keys.push(jwk);
    }
    if set.keys.is_empty() {
        return Err(StartupError::Config(
            "JWT_PUBLIC_JWKS publishes no key".to_owned(),
        ));
    }
    Ok(set)
}
