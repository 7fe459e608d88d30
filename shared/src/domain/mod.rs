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
