//! `DELETE /registration/{code}`: "I did not sign up".

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Keyed;
use auth_shared::ops::confirm::decline;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<impl Keyed>, request: Request) -> Result<Response<Body>, AuthError> {
    let body = http::optional_json_body(&request)?;
    let code = http::path_param(&request, "code");
    let origin = http::origin(&request);
    decline(&*app, &code, body, &origin).await?;
    Ok(http::no_content())
}

/// The Lambda: what this function uses (the table and the HMAC key), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_hmac_key(start.hmac_key());
    auth_shared::http::serve(app, handle).await
}
