//! Email addresses and phone numbers, the two identifiers an account can be registered with.

use serde::{Deserialize, Serialize};

use crate::AuthError;

/// Longest address SMTP can carry (RFC 5321 path limit less the angle brackets).
const MAX_EMAIL_LEN: usize = 254;

/// A syntactically valid address: trimmed for sending, lowercased for uniqueness.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress {
    address: String,
    key: String,
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let address = raw.trim();
        let valid = address.len() <= MAX_EMAIL_LEN
            && email_address::EmailAddress::parse_with_options(
                address,
                email_address::Options::default()
                    .without_display_text()
                    .without_domain_literal()
                    .with_required_tld(),
            )
            .is_ok()
            && !address.ends_with('.');
        if !valid {
            return Err(AuthError::InvalidEmail);
        }
        Ok(Self {
            address: address.to_owned(),
            key: address.to_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The uniqueness key: the lowercased address.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// For logs: `j***@example.com`.
    pub fn masked(&self) -> String {
        match self.address.split_once('@') {
            Some((local, domain)) => {
                let first = local.chars().next().unwrap_or('*');
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A number that can receive SMS, in the canonical E.164 form the phone-number library
/// formats it in: its identity (claims, send limits, login lock, codes) and where SMS go, so
/// `+44 (0)7400 123456` and `+447400123456` are one phone.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

/// The countries (ISO 3166 alpha-2 region codes) new phone numbers may come from; empty: all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneCountries(Vec<String>);

impl PhoneCountries {
    /// A comma-separated list of region codes (`US,CA,GB`); empty means every country.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut codes = Vec::new();
        for code in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let upper = code.to_ascii_uppercase();
            if upper.parse::<phonenumber::country::Id>().is_err() {
                return Err(format!(
                    "{code} is not a region code the phone library knows"
                ));
            }
            codes.push(upper);
        }
        Ok(Self(codes))
    }

    pub fn allows(&self, phone: &PhoneNumber) -> bool {
        self.0.is_empty() || phone.region().is_some_and(|r| self.0.contains(&r))
    }
}

impl PhoneNumber {
    /// Spaces, `-`, `.` and `()` are stripped; what is left must be E.164 in shape and a
    /// valid number for its country of a type that can receive SMS: mobile, or
    /// fixed-line-or-mobile where the country does not tell them apart. Premium-rate,
    /// shared-cost, toll-free, personal, VoIP, pager, UAN and plain fixed-line numbers are
    /// `invalid_phone`.
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').ok_or(AuthError::InvalidPhone)?;
        let shape_ok = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !shape_ok {
            return Err(AuthError::InvalidPhone);
        }
        let parsed = phonenumber::parse(None, &compact).map_err(|_| AuthError::InvalidPhone)?;
        if !phonenumber::is_valid(&parsed) || !receives_sms(&parsed) {
            return Err(AuthError::InvalidPhone);
        }
        let canonical = parsed.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self(canonical))
    }

    /// The number's region (`GB`), where the library knows it.
    pub fn region(&self) -> Option<String> {
        let parsed = phonenumber::parse(None, &self.0).ok()?;
        parsed.country().id().map(|id| id.as_ref().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: `+44******789`.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        let tail = &self.0[n.saturating_sub(3)..];
        format!(
            "{}{}{tail}",
            &self.0[..3.min(n)],
            "*".repeat(n.saturating_sub(6))
        )
    }
}

fn receives_sms(number: &phonenumber::PhoneNumber) -> bool {
    use phonenumber::Type;
    matches!(
        number.number_type(&phonenumber::metadata::DATABASE),
        Type::Mobile | Type::FixedLineOrMobile
    )
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierKind {
    Email,
    Phone,
}

impl IdentifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "phone" => Some(Self::Phone),
            _ => None,
        }
    }

    /// How codes travel to this kind of identifier.
    pub fn channel(self) -> Channel {
        match self {
            Self::Email => Channel::Email,
            Self::Phone => Channel::Sms,
        }
    }
}

/// How a code travelled: `"email"` or `"sms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

/// Exactly one of an email address or a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Email(EmailAddress),
    Phone(PhoneNumber),
}

impl Identifier {
    /// Parses the `email` / `phone` pair every identifier-taking route accepts.
    pub fn from_pair(email: Option<&str>, phone: Option<&str>) -> Result<Self, AuthError> {
        match (email, phone) {
            (Some(email), None) => EmailAddress::parse(email).map(Self::Email),
            (None, Some(phone)) => PhoneNumber::parse(phone).map(Self::Phone),
            (Some(_), Some(_)) => Err(AuthError::InvalidRequest(
                "send either `email` or `phone`, not both".to_owned(),
            )),
            (None, None) => Err(AuthError::InvalidRequest(
                "one of `email` or `phone` is required".to_owned(),
            )),
        }
    }

    /// Checks the one-of shape before any value is parsed, so that `invalid_request`
    /// precedes `invalid_email` / `invalid_phone`.
    pub fn check_pair(email: Option<&str>, phone: Option<&str>) -> Result<(), AuthError> {
        match (email, phone) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Self::from_pair(email, phone).map(drop),
        }
    }

    pub fn kind(&self) -> IdentifierKind {
        match self {
            Self::Email(_) => IdentifierKind::Email,
            Self::Phone(_) => IdentifierKind::Phone,
        }
    }

    /// The normalised value an identifier is unique by (lowercased email, E.164 phone).
    pub fn normalized(&self) -> &str {
        match self {
            Self::Email(email) => email.key(),
            Self::Phone(phone) => phone.as_str(),
        }
    }

    /// The value codes are sent to.
    pub fn address(&self) -> &str {
        match self {
            Self::Email(email) => email.as_str(),
            Self::Phone(phone) => phone.as_str(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Self::Email(email) => email.masked(),
            Self::Phone(phone) => phone.masked(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_keyed_lowercase() {
        let email = EmailAddress::parse("  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe@Example.COM");
        assert_eq!(email.key(), "jane.doe@example.com");
        assert_eq!(email.masked(), "J***@Example.COM");
    }

    #[test]
    fn email_table() {
        let good = [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "x_y-z@example.co.uk",
            "  padded@example.com\t",
        ];
        let bad = [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@example.",
            "a b@example.com",
            "a@@example.com",
            "Jane <jane@example.com>",
            "a@[127.0.0.1]",
        ];
        for raw in good {
            assert!(EmailAddress::parse(raw).is_ok(), "{raw:?} should parse");
        }
        for raw in bad {
            assert!(
                matches!(EmailAddress::parse(raw), Err(AuthError::InvalidEmail)),
                "{raw:?} should be invalid_email"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn phones_are_stripped_to_their_canonical_e164_form() {
        let phone = PhoneNumber::parse("+1 (415) 555-2671").unwrap();
        assert_eq!(phone.as_str(), "+14155552671");
        assert_eq!(phone.masked(), "+14******671");
        // How the UK writes a mobile number, trunk prefix and all, is one phone with the
        // international form.
        for typed in [
            "+44 (0)7400 123456",
            "+447400123456",
            "+44 7400 123 456",
            "+44.7400.123456",
        ] {
            assert_eq!(
                PhoneNumber::parse(typed).unwrap().as_str(),
                "+447400123456",
                "{typed}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("+49 (0)151 23456789").unwrap().as_str(),
            "+4915123456789"
        );
    }

    #[test]
    fn only_numbers_that_receive_sms_are_accepted() {
        // (number, what it is); all valid numbers for their country.
        let accepted = [
            ("+14155552671", "US fixed-line-or-mobile"),
            ("+16137827274", "CA fixed-line-or-mobile"),
            ("+447400123456", "GB mobile"),
            ("+447911123456", "GG mobile"),
            ("+4915123456789", "DE mobile"),
            ("+33612345678", "FR mobile"),
            ("+61406823897", "AU mobile"),
            ("+34612345678", "ES mobile"),
            ("+32474091150", "BE mobile"),
        ];
        let refused = [
            ("+18007233456", "US toll-free"),
            ("+19002345678", "US premium-rate"),
            ("+442079460958", "GB fixed-line (London)"),
            ("+441212345678", "GB fixed-line"),
            ("+448001234567", "GB toll-free"),
            ("+449098790000", "GB premium-rate"),
            ("+448431234567", "GB shared-cost"),
            ("+447012345678", "GB personal number"),
            ("+445612345678", "GB VoIP"),
            ("+447640123456", "GB pager"),
            ("+445512345678", "GB UAN"),
            ("+611900123456", "AU premium-rate"),
            ("+61212345678", "AU fixed-line"),
            ("+4930123456", "DE fixed-line (Berlin)"),
            ("+498001234567", "DE toll-free"),
            ("+33801234567", "FR toll-free"),
            ("+33123456789", "FR fixed-line"),
        ];
        for (raw, what) in accepted {
            assert!(
                PhoneNumber::parse(raw).is_ok(),
                "{what} {raw} should be accepted"
            );
        }
        for (raw, what) in refused {
            assert!(
                matches!(PhoneNumber::parse(raw), Err(AuthError::InvalidPhone)),
                "{what} {raw} should be invalid_phone"
            );
        }
    }

    #[test]
    fn a_country_allow_list_limits_new_numbers() {
        let all = PhoneCountries::parse("").unwrap();
        let north_america = PhoneCountries::parse("us, CA").unwrap();
        let us = PhoneNumber::parse("+14155552671").unwrap();
        let gb = PhoneNumber::parse("+447400123456").unwrap();
        assert_eq!(gb.region().as_deref(), Some("GB"), "{:?}", us.region());
        assert!(all.allows(&gb) && all.allows(&us));
        assert!(north_america.allows(&us));
        assert!(!north_america.allows(&gb));
        assert!(PhoneCountries::parse("US,XX").is_err());
    }

    #[test]
    fn phone_table() {
        let good = [
            "+14155552671",
            "+447911123456",
            "+4915123456789",
            "+33612345678",
        ];
        let bad = [
            "",
            "14155552671",
            "+0123456789",
            "+1415",
            "+1234567890123456",
            "+1415555267a",
            "+1 415 555 26 71 x",
            "++14155552671",
            "+10000000000",
            "+999123456789",
        ];
        for raw in good {
            assert!(PhoneNumber::parse(raw).is_ok(), "{raw:?} should parse");
        }
        for raw in bad {
            assert!(
                matches!(PhoneNumber::parse(raw), Err(AuthError::InvalidPhone)),
                "{raw:?} should be invalid_phone"
            );
        }
    }

    #[test]
    fn exactly_one_identifier() {
        assert!(matches!(
            Identifier::from_pair(Some("a@example.com"), Some("+14155552671")),
            Err(AuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            Identifier::from_pair(None, None),
            Err(AuthError::InvalidRequest(_))
        ));
        let id = Identifier::from_pair(None, Some("+14155552671")).unwrap();
        assert_eq!(id.kind().channel(), Channel::Sms);
        assert_eq!(id.normalized(), "+14155552671");
    }
}
