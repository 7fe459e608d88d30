//! The auth secret's key material: RSA-2048 signing keys and the HMAC key.

use auth_shared::crypto::jwt::public_jwk;
use auth_shared::secrets::{SecretDocument, Secrets};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A new RSA-2048 private key as PKCS#8 PEM.
pub fn rsa_private_pem() -> Result<String, Error> {
    let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed")?;
    let der = key.as_der().map_err(|_| "RSA key encoding failed")?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line)?);
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

/// A new secret with a random HMAC key and one signing key.
pub fn new_secret(kid: &str) -> Result<SecretDocument, Error> {
    let hmac: [u8; 32] = auth_shared::crypto::random_array()?;
    let mut doc = SecretDocument {
        hmac_key: auth_shared::crypto::base64url(&hmac),
        signing_keys: Default::default(),
    };
    doc.signing_keys.insert(kid.to_owned(), rsa_private_pem()?);
    Ok(doc)
}

/// The public JWK set of every signing key in a secret.
pub fn public_jwks(doc: &SecretDocument) -> Result<JwkSet, Error> {
    let secrets = Secrets::from_document(doc)?;
    let keys = secrets
        .signing_keys
        .iter()
        .map(|(kid, key)| public_jwk(kid, key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JwkSet { keys })
}
