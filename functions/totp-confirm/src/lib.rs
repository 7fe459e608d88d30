//! `POST /me/totp/confirm` (bearer): a current code turns the pending authenticator app on;
//! the answer carries the 10 recovery codes, once.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::totp::{CodeRequest, confirm};
use auth_shared::ops::{Delivers, Keyed, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Delivers + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let body: CodeRequest = http::json_body(&request)?;
    Ok(http::ok(&confirm(&*app, &caller, body).await?))
}

/// The Lambda: what this function uses (the table, the HMAC key, SES and SNS for the notice,
/// the public keys), built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hmac_key(start.hmac_key())
        .with_delivery(&start.sdk)
        .with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
