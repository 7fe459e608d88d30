//! `GET /oauth/{provider}/start?redirect_uri=…`: sends the browser to the provider (302),
//! with `state`, `nonce` and PKCE kept for the callback, and a cookie that binds the flow to
//! this browser.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Federates;
use auth_shared::ops::federation::start;
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Federates>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let provider = http::path_param_after(&request, "provider", "oauth");
    let redirect_uri = http::query_param(&request, "redirect_uri");
    let redirect = start(&*app, &provider, redirect_uri.as_deref()).await?;
    Ok(http::redirect_setting(
        &redirect.location,
        redirect.set_cookie.as_deref(),
    ))
}

/// The Lambda: what this function uses (the table, the providers' discovery; no secret: an
/// authorization URL needs none), built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_federation(auth_shared::federation::Federation::without_secrets()?);
    auth_shared::http::serve(app, handle).await
}
