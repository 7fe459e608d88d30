//! Access tokens: RS256 JWTs (API Gateway JWT authorizers accept only RSA) and the public
//! key set they are verified with.
//!
//! Signing uses the aws-lc RSA key parsed once at cold start: parsing a PKCS#8 key costs
//! about as much as a signature, so a signer that re-parsed it per token (as
//! `jsonwebtoken::encode` does) would take twice as long.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::crypto::base64url;
use crate::domain::Channel;

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
    /// How the user proved who they are at the session's sign-in (RFC 8176 values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// When that sign-in happened (OpenID Connect Core's `auth_time`), in seconds; a refresh
    /// keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// How and when the sign-in that started a session proved who the user is: the `amr` (RFC
/// 8176) and `auth_time` of every access token of the session, its refreshes' included.
/// Sessions started before these were kept have neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl SignedIn {
    /// A sign-in with the password alone (`pwd`).
    pub fn password(now: i64) -> Self {
        Self::with(&["pwd"], now)
    }

    /// A sign-in through another identity provider (RFC 8176 `fed`).
    pub fn federated(now: i64) -> Self {
        Self::with(&["fed"], now)
    }

    /// A sign-in with a code sent to the account's identifier: `otp` for an email, `sms`
    /// for a phone (a registration's confirmation, a password reset).
    pub fn code(channel: Channel, now: i64) -> Self {
        Self::with(&[amr_of(channel)], now)
    }

    /// A sign-in with the password, then a code sent to the identifier (an unverified
    /// account's OTP). Not `mfa`: that value is kept for a factor the user enrolled.
    pub fn password_and_code(channel: Channel, now: i64) -> Self {
        Self::with(&["pwd", amr_of(channel)], now)
    }

    /// A sign-in with a passkey, which proves two factors (the key, and the user's PIN or
    /// biometric that user verification checked): `swk` for a synced passkey (its key can
    /// leave the device), `hwk` for a device-bound one, `user`, and `mfa`.
    pub fn passkey(synced: bool, now: i64) -> Self {
        Self::with(&[passkey_amr(synced), "user", "mfa"], now)
    }

    fn with(amr: &[&str], now: i64) -> Self {
        Self {
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
            auth_time: Some(now),
        }
    }
}

/// RFC 8176's value for a passkey: a software-secured key when it is synced (backup
/// eligible), a hardware-secured one when bound to its device.
pub fn passkey_amr(synced: bool) -> &'static str {
    if synced { "swk" } else { "hwk" }
}

/// RFC 8176's value for a code sent by `channel`.
fn amr_of(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "otp",
        Channel::Sms => "sms",
    }
}

/// An RSA private key, parsed once.
#[derive(Clone)]
pub struct SigningKey(Arc<KeyPair>);

impl SigningKey {
    /// A PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) DER key.
    pub fn from_der(der: &[u8], pkcs1: bool) -> Result<Self, String> {
        let pair = if pkcs1 {
            KeyPair::from_der(der)
        } else {
            KeyPair::from_pkcs8(der)
        }
        .map_err(|e| e.to_string())?;
        Ok(Self(Arc::new(pair)))
    }

    pub fn modulus_bits(&self) -> usize {
        self.0.public_modulus_len() * 8
    }

    /// The public JWK of this key under `kid`, as the JWKS publishes it.
    pub fn public_jwk(&self, kid: &str) -> Jwk {
        use aws_lc_rs::signature::KeyPair as _;
        let public = self.0.public_key();
        Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                key_id: Some(kid.to_owned()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: base64url(public.modulus().big_endian_without_leading_zero()),
                e: base64url(public.exponent().big_endian_without_leading_zero()),
            }),
        }
    }

    /// The RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        let mut signature = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| AuthError::internal("RSA signing failed"))?;
        Ok(signature)
    }
}

#[derive(Serialize)]
struct JwtHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Signs access tokens with the key `JWT_SIGNING_KID` names.
#[derive(Clone)]
pub struct TokenSigner {
    kid: String,
    key: SigningKey,
    /// The encoded header: the same for every token.
    header_b64: String,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl TokenSigner {
    pub fn new(kid: &str, key: SigningKey, issuer: &str, audience: &str, ttl_secs: i64) -> Self {
        let header = JwtHeader {
            alg: "RS256",
            typ: ACCESS_TOKEN_TYP,
            kid,
        };
        // A struct of three strings always serialises.
        let header_json = serde_json::to_vec(&header).unwrap_or_default();
        Self {
            kid: kid.to_owned(),
            key,
            header_b64: base64url(&header_json),
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

    /// An access token for `user_id` in the session `session_id`, which `signed_in` started.
    pub fn sign(
        &self,
        user_id: &str,
        session_id: &str,
        signed_in: &SignedIn,
        now: i64,
    ) -> Result<String, AuthError> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_owned(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_owned(),
            amr: signed_in.amr.clone(),
            auth_time: signed_in.auth_time,
        };
        let payload = serde_json::to_vec(&claims)
            .map_err(|e| AuthError::internal(format!("encoding access-token claims: {e}")))?;
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 2 + 350);
        token.push_str(&self.header_b64);
        token.push('.');
        token.push_str(&base64url(&payload));
        let signature = self.key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&base64url(&signature));
        Ok(token)
    }
}

/// Checks access tokens presented to this service's own routes: RS256 only, signed by one of
/// the published keys (picked by `kid`), `typ: at+jwt`, this issuer and audience, and not
/// expired at the service's clock.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: BTreeMap<String, DecodingKey>,
    validation: Validation,
}

impl TokenVerifier {
    /// A verifier for the RSA keys of a public JWK set (the one `JWT_PUBLIC_JWKS` holds and
    /// `/.well-known/jwks.json` serves).
    pub fn new(jwks: &JwkSet, issuer: &str, audience: &str) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        for jwk in &jwks.keys {
            let kid = jwk.common.key_id.clone().ok_or("a public key has no kid")?;
            let decoding =
                DecodingKey::from_jwk(jwk).map_err(|e| format!("public key {kid}: {e}"))?;
            keys.insert(kid, decoding);
        }
        if keys.is_empty() {
            return Err("no public key to verify access tokens with".to_owned());
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a test may fail loudly
mod tests {
    use super::*;

    fn key() -> SigningKey {
        let pair = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        use aws_lc_rs::encoding::AsDer;
        let der = pair.as_der().unwrap();
        SigningKey::from_der(der.as_ref(), false).unwrap()
    }

    #[test]
    fn tokens_signed_with_the_kept_key_verify_against_its_public_jwk() {
        let key = key();
        let signer = TokenSigner::new("k1", key.clone(), "https://iss", "aud", 900);
        let signed_in = SignedIn::password(990);
        let token = signer
            .sign("user-1", "session-1", &signed_in, 1_000)
            .unwrap();
        let jwks = JwkSet {
            keys: vec![key.public_jwk("k1")],
        };
        let verifier = TokenVerifier::new(&jwks, "https://iss", "aud").unwrap();
        let claims = verifier.verify(&token, 1_000).expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str()),
            ("user-1", "session-1")
        );
        assert_eq!(claims.exp, 1_900);
        assert_eq!(
            (claims.amr, claims.auth_time),
            (vec!["pwd".to_owned()], Some(990))
        );
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some(ACCESS_TOKEN_TYP));
        assert_eq!(header.kid.as_deref(), Some("k1"));
        // Expired at the service's clock, another audience, another key: refused.
        assert!(verifier.verify(&token, 1_900).is_none());
        let other = TokenVerifier::new(&jwks, "https://iss", "other").unwrap();
        assert!(other.verify(&token, 1_000).is_none());
        let stranger = JwkSet {
            keys: vec![self::key().public_jwk("k1")],
        };
        let stranger = TokenVerifier::new(&stranger, "https://iss", "aud").unwrap();
        assert!(stranger.verify(&token, 1_000).is_none());
    }
}
