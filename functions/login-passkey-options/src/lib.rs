//! `POST /login/passkey/options`: WebAuthn request options for signing in with a passkey,
//! no identifier typed (the authenticator offers the passkeys it holds for this site).

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Base;
use auth_shared::ops::passkeys::{NoFields, sign_in_options};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<impl Base>, request: Request) -> Result<Response<Body>, AuthError> {
    let _: Option<NoFields> = http::optional_json_body(&request)?;
    Ok(http::ok(&sign_in_options(&*app).await?))
}

/// The Lambda: what this function uses (the table), built once per cold start; then
/// requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app();
    auth_shared::http::serve(app, handle).await
}
