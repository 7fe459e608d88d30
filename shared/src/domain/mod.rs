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

/// For an optional request member: absent is `None`, but an explicit `null` is a wrong type
/// (400 `invalid_request`) like any other, so a client's mistake never passes silently.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
