//! `POST /registration`.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::register::{RegisterRequest, register};
use auth_shared::ops::{Delivers, Hashes, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Delivers + Hashes>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let mut body: RegisterRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&register(&*app, body).await?))
}

/// The Lambda: what this function uses (the table, the HMAC key, SES and SNS, argon2id), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hmac_key(start.hmac_key())
        .with_delivery(&start.sdk)
        .with_hasher()?;
    auth_shared::http::serve(app, handle).await
}
