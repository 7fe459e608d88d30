//! Passwords: never printed, weak when short, long or among the most common.

use std::sync::LazyLock;

use crate::AuthError;

const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 128;

/// The 10,000 most common passwords (SecLists, MIT), lowercased and sorted bytewise so a
/// lookup is a binary search over the bundled text with no set to build at cold start.
static COMMON: &str = include_str!("../../data/common-passwords.txt");
static COMMON_LINES: LazyLock<Vec<&'static str>> = LazyLock::new(|| COMMON.lines().collect());

/// A password the service accepts for a new account. Its `Debug` prints no secret.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks `repeat` first: `password_mismatch` precedes `weak_password`.
    pub fn parse_new(password: String, repeat: &str) -> Result<Self, AuthError> {
        if password != repeat {
            return Err(AuthError::PasswordMismatch);
        }
        if is_weak(&password) {
            return Err(AuthError::WeakPassword);
        }
        Ok(Self(password))
    }

    /// A password offered at sign-in: only bounded in size, never judged.
    pub fn for_login(password: String) -> Self {
        Self(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

fn is_weak(password: &str) -> bool {
    let chars = password.chars().count();
    !(MIN_CHARS..=MAX_CHARS).contains(&chars) || is_common(password)
}

fn is_common(password: &str) -> bool {
    let wanted = password.to_lowercase();
    COMMON_LINES.binary_search(&wanted.as_str()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_is_sorted_and_large() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(
            lines.len() >= 9_900,
            "only {} common passwords",
            lines.len()
        );
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "list must be sorted and unique"
        );
    }

    #[test]
    fn password_table() {
        let good = [
            "correct horse battery staple",
            "Tr0ub4dour&3x",
            "8charsOK",
            "ünïcödé-pässwörd",
        ];
        let weak = [
            "",
            "short",
            "1234567",
            "password",
            "Password",
            "PASSWORD1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "baseball",
        ];
        for pw in good {
            assert!(
                Password::parse_new(pw.into(), pw).is_ok(),
                "{pw:?} should be accepted"
            );
        }
        for pw in weak {
            assert!(
                matches!(
                    Password::parse_new(pw.into(), pw),
                    Err(AuthError::WeakPassword)
                ),
                "{pw:?} should be weak"
            );
        }
        let long = "x".repeat(129);
        assert!(matches!(
            Password::parse_new(long.clone(), &long),
            Err(AuthError::WeakPassword)
        ));
        let max = "ab3".repeat(42) + "xy";
        assert_eq!(max.chars().count(), 128);
        assert!(Password::parse_new(max.clone(), &max).is_ok());
    }

    #[test]
    fn mismatch_comes_before_weakness() {
        assert!(matches!(
            Password::parse_new("short".into(), "other"),
            Err(AuthError::PasswordMismatch)
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let pw = Password::for_login("hunter2hunter2".into());
        assert!(!format!("{pw:?}").contains("hunter2"));
    }
}
