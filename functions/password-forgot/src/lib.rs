//! `POST /password/forgot`: 202 `{}` whether or not an account holds the identifier. The
//! request is recorded here; `reset-sender` sends the code from the table's stream.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Keyed;
use auth_shared::ops::password::{ForgotRequest, forgot};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<impl Keyed>, request: Request) -> Result<Response<Body>, AuthError> {
    let mut body: ForgotRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::accepted(&forgot(&*app, body).await?))
}

/// The Lambda: what this function uses (the table and the HMAC key), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_hmac_key(start.hmac_key());
    auth_shared::http::serve(app, handle).await
}
