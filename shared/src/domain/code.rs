//! Confirmation codes: long random link codes by email, 6-digit codes by SMS.

use crate::AuthError;
use crate::crypto;

/// 32 random bytes, base64url without padding: what goes into `CONFIRM_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailCode(String);

const EMAIL_CODE_BYTES: usize = 32;
const EMAIL_CODE_CHARS: usize = 43;

impl EmailCode {
    pub fn generate() -> Result<Self, AuthError> {
        let bytes: [u8; EMAIL_CODE_BYTES] = crypto::random_array()?;
        Ok(Self(crypto::base64url(&bytes)))
    }

    /// Anything that cannot be a code we issued is simply an unknown code.
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let ok = raw.len() == EMAIL_CODE_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AuthError::InvalidCode)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored: a plain SHA-256 suffices for 256 random bits.
    pub fn digest(&self) -> String {
        crypto::sha256_hex(self.0.as_bytes())
    }
}

impl std::fmt::Debug for EmailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailCode(***)")
    }
}

/// Six decimal digits, uniformly drawn.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsCode(String);

impl SmsCode {
    pub fn generate() -> Result<Self, AuthError> {
        // Rejection sampling keeps the draw uniform over 000000..=999999.
        const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
        loop {
            let n = u32::from_le_bytes(crypto::random_array()?);
            if n < LIMIT {
                return Ok(Self(format!("{:06}", n % 1_000_000)));
            }
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        if raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AuthError::InvalidCode)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored: a keyed MAC bound to the phone, since a million codes are easy to
    /// enumerate against a plain hash.
    pub fn digest(&self, key: &[u8], phone: &str) -> String {
        crypto::hmac_sha256_hex(
            key,
            &[b"sms-code\0", phone.as_bytes(), b"\0", self.0.as_bytes()],
        )
    }
}

impl std::fmt::Debug for SmsCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmsCode(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_codes_are_43_url_safe_chars_and_unique() {
        let a = EmailCode::generate().unwrap();
        let b = EmailCode::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
        assert_eq!(EmailCode::parse(a.expose()).unwrap(), a);
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn malformed_codes_are_unknown_codes() {
        for bad in ["", "abc", &"a".repeat(44), &format!("{}=", "a".repeat(42))] {
            assert!(matches!(EmailCode::parse(bad), Err(AuthError::InvalidCode)));
        }
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert!(matches!(SmsCode::parse(bad), Err(AuthError::InvalidCode)));
        }
    }

    #[test]
    fn sms_codes_are_six_digits_and_spread_out() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let code = SmsCode::generate().unwrap();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
            seen.insert(code.expose().to_owned());
        }
        assert!(seen.len() > 190, "codes repeat too often: {}", seen.len());
    }

    #[test]
    fn sms_digest_is_keyed_and_bound_to_the_phone() {
        let code = SmsCode::parse("123456").unwrap();
        let d = code.digest(b"key-one", "+14155552671");
        assert_ne!(d, code.digest(b"key-two", "+14155552671"));
        assert_ne!(d, code.digest(b"key-one", "+14155552672"));
        assert_eq!(d, code.digest(b"key-one", "+14155552671"));
    }
}
