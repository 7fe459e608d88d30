//! `GET|POST /oauth/{provider}/callback`: the provider's answer (a query, or a form post)
//! is verified and the browser sent back to the frontend page the flow started from, with a
//! one-time sign-in code, `linked` or an error code in the fragment (302).

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Federates;
use auth_shared::ops::federation::{CallbackParams, callback};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Federates>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let provider = http::path_param_after(&request, "provider", "oauth");
    let params: CallbackParams = http::query_or_form(&request)?;
    let cookies = request
        .headers()
        .get(lambda_http::http::header::COOKIE)
        .and_then(|v| v.to_str().ok());
    let redirect = callback(&*app, &provider, params, cookies).await?;
    Ok(http::redirect_setting(
        &redirect.location,
        redirect.set_cookie.as_deref(),
    ))
}

/// The Lambda: what this function uses (the table, the providers and their secrets),
/// built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_federation(auth_shared::federation::Federation::new(
            start.oauth_secrets(),
        )?);
    auth_shared::http::serve(app, handle).await
}
