//! Parsed request values: once constructed, a value is valid (parse, don't validate).

mod code;
mod identifier;
mod password;
mod username;

pub use code::{EmailCode, SmsCode};
pub use identifier::{
    Channel, EmailAddress, Identifier, IdentifierKind, PhoneCountries, PhoneNumber,
};
pub use password::Password;
pub use username::Username;

/// An RFC 3339 time (`2024-05-01T12:00:00Z`, any offset) as epoch seconds; `None` when it
/// is not one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// For an optional request member: absent is `None`, but an explicit `null` is a wrong type
/// (400 `invalid_request`) like any other, so a client's mistake never passes silently.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
