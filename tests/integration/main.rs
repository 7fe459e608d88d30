//! Integration tests: the operations against DynamoDB Local and moto, with an injected clock.
//! One binary, a module per area; every test uses identifiers no other test uses.

mod account;
mod budgets;
mod confirmation;
mod events;
mod factors;
mod federation;
mod import;
mod migration;
mod openapi;
mod operators;
mod passkeys;
mod provisioning;
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

/// What an access token says of how the user signed in: its `amr` and `auth_time`.
pub fn signed_in_by(t: &auth_tests::TestApp, access_token: &str) -> (Vec<String>, Option<i64>) {
    use auth_shared::ops::Base as _;
    let config = t.app.config();
    let claims = auth_tests::downstream::verify(
        access_token,
        &published_keys(),
        &config.issuer,
        &config.audience,
    )
    .expect("verifies");
    (claims.amr, claims.auth_time)
}

/// The public keys the functions verify with (`JWT_PUBLIC_JWKS`).
pub fn published_keys() -> jsonwebtoken::jwk::JwkSet {
    serde_json::from_str(&auth_tests::required_env("JWT_PUBLIC_JWKS")).expect("a JWK set")
}

/// The stable code of an error, for assertions that read like the contract.
pub fn code<T: std::fmt::Debug>(result: Result<T, AuthError>) -> &'static str {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err.code(),
    }
}
