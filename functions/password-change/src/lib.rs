//! `POST /password/change` (bearer): the current password and a new one; every session
//! ends and the caller gets a new one.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::password::{ChangeRequest, change};
use auth_shared::ops::{Delivers, Hashes, Issues, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Delivers + Hashes + Issues + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let mut body: ChangeRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&change(&*app, &caller, body).await?))
}

/// The Lambda: what this function uses (the table, SES and SNS for the notice, argon2id, the signing key, the public keys), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_delivery(&start.sdk)
        .with_hasher()?
        .with_signer(start.signing_keys())
        .with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
