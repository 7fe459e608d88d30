//! `DELETE /me/totp` (bearer): the password and a current code turn the authenticator app off.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::totp::{DisableRequest, disable};
use auth_shared::ops::{Delivers, Hashes, Keyed, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Hashes + Delivers + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let body: DisableRequest = http::json_body(&request)?;
    disable(&*app, &caller, body).await?;
    Ok(http::no_content())
}

/// The Lambda: what this function uses (the table, the HMAC key, argon2id, SES and SNS for the
/// notice, the public keys), built once per cold start; then requests.
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
