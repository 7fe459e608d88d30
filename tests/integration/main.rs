//! Integration tests: the operations against DynamoDB Local and moto, with an injected clock.
//! One binary, a module per area; every test uses identifiers no other test uses.

mod account;
mod budgets;
mod confirmation;
mod events;
mod openapi;
mod recovery;
mod registration;
mod resend;
mod routes;
mod sessions;
mod signin;

use auth_shared::AuthError;
use auth_shared::ops::budgets::Origin;

/// The origin of a call that is not an HTTP request.
pub static NO_ORIGIN: Origin = Origin {
    ip: None,
    user_agent: None,
};

/// The stable code of an error, for assertions that read like the contract.
pub fn code<T: std::fmt::Debug>(result: Result<T, AuthError>) -> &'static str {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err.code(),
    }
}
