//! Key material, in two secrets so that each function can read only what it uses: the HMAC
//! key (`AUTH_HMAC_SECRET_ID`: every function that stores or checks a code) and the JWT
//! signing keys (`AUTH_SIGNING_SECRET_ID`: only the functions that issue tokens). In AWS both
//! are Secrets Manager secrets, fetched once per execution environment. Never logged, never in
//! code; a secret that fails to parse is reported without its value.

use std::collections::BTreeMap;

use crate::crypto::jwt::SigningKey;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::StartupError;

/// What `auth-keygen new` makes: both keys, which the operator stores as the two secrets
/// ([`SecretDocument::hmac_part`], [`SecretDocument::signing_part`]).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDocument {
    /// Keys the HMACs of short codes and the derivation of refresh tokens.
    pub hmac_key: String,
    /// `kid` → PKCS#8 PEM of an RSA-2048 (or larger) private key.
    pub signing_keys: BTreeMap<String, String>,
}

/// The HMAC secret's JSON document.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacDocument {
    pub hmac_key: String,
}

/// The signing secret's JSON document.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningDocument {
    pub signing_keys: BTreeMap<String, String>,
}

impl SecretDocument {
    pub fn hmac_part(&self) -> HmacDocument {
        HmacDocument {
            hmac_key: self.hmac_key.clone(),
        }
    }

    pub fn signing_part(&self) -> SigningDocument {
        SigningDocument {
            signing_keys: self.signing_keys.clone(),
        }
    }
}

/// Every configured signing key, by `kid`, parsed once.
pub type SigningKeys = BTreeMap<String, SigningKey>;

#[derive(Clone)]
pub struct Secrets {
    pub hmac_key: Vec<u8>,
    /// Every configured key, by `kid`, parsed once.
    pub signing_keys: SigningKeys,
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
        Self::from_document(&Self::document_from_json(json)?)
    }

    /// The key document `auth-keygen` makes, parsed without echoing it on failure.
    pub fn document_from_json(json: &str) -> Result<SecretDocument, StartupError> {
        parse_json(json, "the key document")
    }

    pub fn from_document(doc: &SecretDocument) -> Result<Self, StartupError> {
        Ok(Self {
            hmac_key: hmac_key_of(&doc.hmac_part())?,
            signing_keys: signing_keys_of(&doc.signing_part())?,
        })
    }

    /// Both secrets, as the functions that need both fetch them (tests, tools).
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let (hmac_key, signing_keys) =
            tokio::try_join!(load_hmac_key(sdk), load_signing_keys(sdk))?;
        Ok(Self {
            hmac_key,
            signing_keys,
        })
    }
}

fn hmac_key_of(doc: &HmacDocument) -> Result<Vec<u8>, StartupError> {
    if doc.hmac_key.len() < 32 {
        return Err(StartupError::Secret(
            "hmac_key must be at least 32 bytes".to_owned(),
        ));
    }
    Ok(doc.hmac_key.as_bytes().to_vec())
}

fn signing_keys_of(doc: &SigningDocument) -> Result<SigningKeys, StartupError> {
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
    Ok(signing_keys)
}

/// Parses a secret's JSON. serde_json's messages quote the offending value (`invalid type:
/// string "…"`), which here would be key material: only where and what kind of error is
/// reported.
fn parse_json<T: DeserializeOwned>(json: &str, what: &str) -> Result<T, StartupError> {
    serde_json::from_str(json).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "not the expected document",
            serde_json::error::Category::Eof => "cut short",
        };
        StartupError::Secret(format!(
            "{what} is {kind} (line {}, column {}); its value is not shown",
            e.line(),
            e.column()
        ))
    })
}

/// The secret string of the Secrets Manager secret whose id the variable `id_var` holds.
async fn fetch(sdk: &aws_config::SdkConfig, id_var: &str) -> Result<String, StartupError> {
    let id = std::env::var(id_var)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| StartupError::Secret(format!("{id_var} is not set")))?;
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(&id)
        .send()
        .await
        .map_err(|e| StartupError::SecretFetch(aws_sdk_secretsmanager::Error::from(e).into()))?;
    out.secret_string().map(str::to_owned).ok_or_else(|| {
        StartupError::Secret(format!("the secret {id_var} names has no string value"))
    })
}

/// The HMAC key, from the secret `AUTH_HMAC_SECRET_ID` names (`{"hmac_key": …}`).
pub async fn load_hmac_key(sdk: &aws_config::SdkConfig) -> Result<Vec<u8>, StartupError> {
    let json = fetch(sdk, "AUTH_HMAC_SECRET_ID").await?;
    hmac_key_of(&parse_json(&json, "the HMAC secret")?)
}

/// The signing keys, from the secret `AUTH_SIGNING_SECRET_ID` names (`{"signing_keys": …}`).
pub async fn load_signing_keys(sdk: &aws_config::SdkConfig) -> Result<SigningKeys, StartupError> {
    signing_keys_from_json(&fetch(sdk, "AUTH_SIGNING_SECRET_ID").await?)
}

/// The other providers' secrets, from the secret `AUTH_OAUTH_SECRET_ID` names (`{"<provider>":
/// {"client_secret": …} or {"private_key": …}}`); none when no provider is configured.
pub async fn load_oauth_secrets(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::federation::ProviderSecrets, StartupError> {
    if std::env::var("AUTH_OAUTH_SECRET_ID").is_ok_and(|v| v.is_empty()) {
        return Ok(Default::default());
    }
    parse_json(
        &fetch(sdk, "AUTH_OAUTH_SECRET_ID").await?,
        "the OAuth secret",
    )
}

/// The signing secret's value, parsed: every key checked and kept.
pub fn signing_keys_from_json(json: &str) -> Result<SigningKeys, StartupError> {
    signing_keys_of(&parse_json(json, "the signing secret")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_that_fails_to_parse_is_reported_without_its_value() {
        for json in [
            r#"{"hmac_key": 123456789012345678901234567890}"#,
            r#"{"hmac_key": "abcdefghijklmnopqrstuvwxyz0123456789", "signing_keys": {}}"#,
        ] {
            let err = parse_json::<HmacDocument>(json, "the HMAC secret")
                .err()
                .expect("refused")
                .to_string();
            for secret in [
                "123456789012345678901234567890",
                "abcdefghijklmnopqrstuvwxyz",
            ] {
                assert!(!err.contains(secret), "{err}");
            }
        }
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
            assert!(err.contains("not shown"), "{err}");
        }
    }
}
