//! Optional usernames: 3–32 ASCII letters, digits, `_` or `.`; unique by their lowercased form.

use crate::AuthError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    key: String,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let ok = (3..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !ok {
            return Err(AuthError::InvalidRequest(
                "`username` must be 3 to 32 ASCII letters, digits, `_` or `.`".to_owned(),
            ));
        }
        Ok(Self {
            display: raw.to_owned(),
            key: raw.to_ascii_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_table() {
        for good in ["abc", "Jane.Doe_42", &"a".repeat(32)] {
            assert!(Username::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "ab",
            &"a".repeat(33),
            "with space",
            "dash-name",
            "émile",
            "a@b",
        ] {
            assert!(
                matches!(Username::parse(bad), Err(AuthError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
        assert_eq!(Username::parse("Jane.Doe").unwrap().key(), "jane.doe");
    }
}
