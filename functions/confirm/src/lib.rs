//! `PATCH /registration/{code}`.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::confirm::confirm;
use auth_shared::ops::{Issues, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Issues>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let body = http::optional_json_body(&request)?;
    let code = http::path_param(&request, "code");
    let origin = http::origin(&request);
    Ok(http::ok(&confirm(&*app, &code, body, &origin).await?))
}

/// The Lambda: what this function uses (the table, the HMAC key, the signing key), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hmac_key(start.hmac_key())
        .with_signer(start.signing_keys());
    auth_shared::http::serve(app, handle).await
}
