//! The auth secret's key material: RSA-2048 signing keys and the HMAC key.

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
        .map(|(kid, key)| key.public_jwk(kid))
        .collect();
    Ok(JwkSet { keys })
}

#[cfg(test)]
mod key_size_tests {
    use auth_shared::secrets::{SecretDocument, Secrets};

    /// A throwaway 1024-bit key, made for this test only.
    const RSA_1024: &str = "-----BEGIN PRIVATE KEY-----\nMIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMjpzHBWqxQbkjUi\nthnlTJWjRPU1+k5cjzWKH10ZxQ2HbYcK/HX3DXJqD7EJl28xRfja+9hXQM6bNcJT\ndV+TUZtTSQG15huAyD1t/kFBW+0ipBZ/Zl6ExfIlfjm57wSp6//kqKw0eJCH3Cnv\nCfzSOVI7/nxRmJZc9yveyy7uj5gJAgMBAAECgYBlJd94xwlGDENlYN5Q1zHhO9th\noBUuEkc+6xSzKGAeWYn4rL1BHmm0qlTQCkYlAqd5i7WyyuqjmVxNQvsabO5t4fiC\n1QD+dBUYrElBjDOgDqMqw4Hb2ps7aVmU4DE86tpJQsa+vAZN9m5TwbLyGv9W5AV1\nNP1+OZmI+/9YqLq+CQJBAOUQ/RxYqjArxPpNe1/vyXxM8ABfK8B8BYHPI6VhGF74\nV2oxoB++xzgeKWfzVrE54SP0NB5epDvyDkN4++PGuVsCQQDgiWNTReDBsbVxPT4y\nE2PUfzT4ICQBa9DDvIHulL4Icqv+Io49X+/6AM4z5COzZhAghpo9enHRYjQUk3KG\ni41rAkACPY1MNq3LdNIjZJidUpoU5ie+yS+DXXMsVttRZca4PxOTzVJ0nQgTy2+6\nPY4Og7NpB51u4pwWngJ3tHo6OxpbAkBL1jtk6coSwanNuGikUyY5pElIsNpYXIjj\nQ20DHtvcUJbEu/kcw6Vy5AjBQAHK2uMBiVTZBN0iYi/C71YUGVhHAkEA3+kSzpYM\nijyQ92u3mFDcmAMXFBLU6sR5jXBn9LCMuumL4W3iPCagxgCxdIV2r7iq4Z53l43X\nN0JRlb6lhYTN3Q==\n-----END PRIVATE KEY-----";

    fn document(pem: String) -> SecretDocument {
        SecretDocument {
            hmac_key: "k".repeat(32),
            signing_keys: [("k1".to_owned(), pem)].into(),
        }
    }

    #[test]
    fn rsa_keys_below_2048_bits_are_refused_at_cold_start() {
        let error = Secrets::from_document(&document(RSA_1024.to_owned()))
            .expect_err("a 1024-bit key is refused");
        assert!(
            format!("{error:?}").contains("at least 2048 bits"),
            "{error:?}"
        );
        let pem = super::rsa_private_pem().expect("a 2048-bit key");
        assert!(Secrets::from_document(&document(pem)).is_ok());
    }
}
