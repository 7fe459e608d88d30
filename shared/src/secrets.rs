//! Key material: the HMAC key and the JWT signing keys. In AWS it is one Secrets Manager
//! secret (`AUTH_SECRET_ID`), fetched once per execution environment; locally it can also be
//! given inline (`AUTH_SECRET`). Never logged, never in code.

use std::collections::BTreeMap;

use crate::crypto::jwt::SigningKey;
use serde::{Deserialize, Serialize};

use crate::error::StartupError;

/// The secret's JSON document.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDocument {
    /// Keys the HMACs of short codes and the derivation of refresh tokens.
    pub hmac_key: String,
    /// `kid` → PKCS#8 PEM of an RSA-2048 (or larger) private key.
    pub signing_keys: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct Secrets {
    pub hmac_key: Vec<u8>,
    /// Every configured key, by `kid`, parsed once.
    pub signing_keys: BTreeMap<String, SigningKey>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "signing_kids",
                &self.signing_keys.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Shorter RSA keys are refused at cold start (NIST SP 800-57: 2048 bits at least).
pub const MIN_RSA_BITS: usize = 2048;

/// An RSA private key in PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), parsed once.
fn rsa_signing_key(pem: &str) -> Result<SigningKey, String> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "not a PEM".to_owned())?;
    // aws-lc refuses keys below 2048 bits itself (`TooSmall`); the size check after it
    // keeps the rule explicit whatever the library's floor.
    SigningKey::from_der(&der, pem.contains("BEGIN RSA PRIVATE KEY"))
        .map_err(|e| format!("not an RSA private key of at least {MIN_RSA_BITS} bits ({e})"))
}

impl Secrets {
    pub fn from_json(json: &str) -> Result<Self, StartupError> {
        // serde_json's messages quote the offending value (`invalid type: string "…"`), which
        // here would be key material: only where and what kind of error is reported.
        let doc: SecretDocument = serde_json::from_str(json).map_err(|e| {
            let kind = match e.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "not valid JSON",
                serde_json::error::Category::Data => {
                    "not {\"hmac_key\": string, \"signing_keys\": {kid: PEM}}"
                }
                serde_json::error::Category::Eof => "cut short",
            };
            StartupError::Secret(format!(
                "the auth secret is {kind} (line {}, column {}); its value is not shown",
                e.line(),
                e.column()
            ))
        })?;
        Self::from_document(&doc)
    }

    pub fn from_document(doc: &SecretDocument) -> Result<Self, StartupError> {
        if doc.hmac_key.len() < 32 {
            return Err(StartupError::Secret(
                "hmac_key must be at least 32 bytes".to_owned(),
            ));
        }
        let mut signing_keys = BTreeMap::new();
        for (kid, pem) in &doc.signing_keys {
            let key = rsa_signing_key(pem)
                .map_err(|e| StartupError::Secret(format!("signing key {kid}: {e}")))?;
            let bits = key.modulus_bits();
            if bits < MIN_RSA_BITS {
                return Err(StartupError::Secret(format!(
                    "signing key {kid} has {bits} bits; RSA keys must have at least {MIN_RSA_BITS}"
                )));
            }
            signing_keys.insert(kid.clone(), key);
        }
        Ok(Self {
            hmac_key: doc.hmac_key.as_bytes().to_vec(),
            signing_keys,
        })
    }

    /// Reads `AUTH_SECRET_ID` from Secrets Manager, or else `AUTH_SECRET` inline.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        if let Some(id) = std::env::var("AUTH_SECRET_ID")
            .ok()
            .filter(|v| !v.is_empty())
        {
            let client = aws_sdk_secretsmanager::Client::new(sdk);
            let out = client
                .get_secret_value()
                .secret_id(&id)
                .send()
                .await
                .map_err(|e| {
                    StartupError::SecretFetch(aws_sdk_secretsmanager::Error::from(e).into())
                })?;
            let json = out.secret_string().ok_or_else(|| {
                StartupError::Secret("the auth secret has no string value".to_owned())
            })?;
            return Self::from_json(json);
        }
        match std::env::var("AUTH_SECRET") {
            Ok(json) if !json.is_empty() => Self::from_json(&json),
            _ => Err(StartupError::Secret(
                "set AUTH_SECRET_ID (Secrets Manager) or AUTH_SECRET".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_that_fails_to_parse_is_reported_without_its_value() {
        let leaks = [
            r#"{"hmac_key": 123456789012345678901234567890, "signing_keys": {}}"#,
            r#"{"hmac_key": "abcdefghijklmnopqrstuvwxyz0123456789", "signing_keys": "abcdefghijklmnopqrstuvwxyz0123456789"}"#,
            r#"{"hmac_key": "abcdefghijklmnopqrstuvwxyz0123456789", "signing_keys": {"k": 123456789012345678901234567890}}"#,
            r#"{"hmac_key": "abcdefghijklmnopqrstuvwxyz0123456789" "#,
        ];
        for json in leaks {
            let err = Secrets::from_json(json).unwrap_err().to_string();
            for secret in [
                "123456789012345678901234567890",
                "abcdefghijklmnopqrstuvwxyz",
            ] {
                assert!(!err.contains(secret), "{err}");
            }
            assert!(err.contains("auth secret"), "{err}");
        }
    }
}
