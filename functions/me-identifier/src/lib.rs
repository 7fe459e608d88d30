//! `POST /me/identifier` (bearer): sends a code to a new email or phone.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::account::{IdentifierChangeRequest, request_identifier_change};
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::{Delivers, Hashes, Keyed, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Delivers + Hashes + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let mut body: IdentifierChangeRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::accepted(
        &request_identifier_change(&*app, &caller, body).await?,
    ))
}

/// The Lambda: what this function uses (the table, the HMAC key, SES and SNS, argon2id, the public keys), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hmac_key(start.hmac_key())
        .with_delivery(&start.sdk)
        .with_hasher()?
        .with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
