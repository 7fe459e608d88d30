//! Secrets the service must read back (an authenticator app's TOTP secret), stored sealed:
//! AES-256-GCM under a key derived by HKDF-SHA-256 (aws-lc) from the HMAC key and the
//! purpose, with the account's id as associated data, so a sealed value copied onto another
//! account does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine;

use crate::AuthError;

/// The key for `purpose`, derived from the HMAC key.
fn key(hmac_key: &[u8], purpose: &str) -> Result<LessSafeKey, AuthError> {
    let salt = Salt::new(HKDF_SHA256, b"auth-service sealed values");
    let info = [purpose.as_bytes()];
    let prk = salt.extract(hmac_key);
    let okm = prk
        .expand(&info, &AES_256_GCM)
        .map_err(|_| AuthError::internal("HKDF expand failed"))?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

/// `plaintext` sealed for `purpose` and `bound_to`: base64url of a random nonce, the
/// ciphertext and its tag.
pub fn seal(
    hmac_key: &[u8],
    purpose: &str,
    bound_to: &str,
    plaintext: &[u8],
) -> Result<String, AuthError> {
    let nonce_bytes = super::random_array::<NONCE_LEN>()?;
    let mut in_out = plaintext.to_vec();
    key(hmac_key, purpose)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(bound_to.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| AuthError::internal("sealing failed"))?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&in_out);
    Ok(super::base64url(&out))
}

/// The plaintext [`seal`] sealed with the same key, purpose and binding.
pub fn open(
    hmac_key: &[u8],
    purpose: &str,
    bound_to: &str,
    sealed: &str,
) -> Result<Vec<u8>, AuthError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| AuthError::internal("a sealed value is not base64url"))?;
    if bytes.len() < NONCE_LEN {
        return Err(AuthError::internal("a sealed value is too short"));
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| AuthError::internal("a sealed value's nonce is malformed"))?;
    let mut in_out = ciphertext.to_vec();
    let plaintext = key(hmac_key, purpose)?
        .open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut in_out)
        .map_err(|_| AuthError::internal("a sealed value does not open with this key"))?;
    Ok(plaintext.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_purpose_and_binding() -> Result<(), AuthError> {
        let key = [7u8; 32];
        let sealed = seal(&key, "totp", "user-1", b"secret bytes")?;
        assert_eq!(open(&key, "totp", "user-1", &sealed)?, b"secret bytes");
        assert!(!sealed.contains("secret"));
        assert!(open(&[8u8; 32], "totp", "user-1", &sealed).is_err());
        assert!(open(&key, "other", "user-1", &sealed).is_err());
        assert!(open(&key, "totp", "user-2", &sealed).is_err());
        assert_ne!(sealed, seal(&key, "totp", "user-1", b"secret bytes")?);
        Ok(())
    }
}
