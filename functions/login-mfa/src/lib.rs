//! `POST /login/mfa`: the challenge of `mfa_required` and a second factor (an authenticator
//! app's code or a recovery code) finish a sign-in.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::login::{MfaRequest, login_mfa};
use auth_shared::ops::{Delivers, Issues, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Delivers + Issues>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let mut body: MfaRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&login_mfa(&*app, body).await?))
}

/// The Lambda: what this function uses (the table, the HMAC key, SES and SNS for the
/// recovery-code notice, the signing key), built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hmac_key(start.hmac_key())
        .with_delivery(&start.sdk)
        .with_signer(start.signing_keys());
    auth_shared::http::serve(app, handle).await
}
