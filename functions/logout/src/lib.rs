//! `POST /logout`: revokes the token's family, and says the same for an unknown token
//! (RFC 7009). JSON `{"refresh_token"}` answers 204; RFC 7009's form
//! (`token=...&token_type_hint=...`) gets RFC 7009's own answer, 200 with no body, which
//! OAuth client libraries require. Errors are OAuth-style JSON.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Base;
use auth_shared::ops::session::logout;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<impl Base>, request: Request) -> Result<Response<Body>, AuthError> {
    let body = http::json_or_form_body(&request)?;
    logout(&*app, body).await?;
    Ok(if http::is_form(&request) {
        http::empty(lambda_http::http::StatusCode::OK)
    } else {
        http::no_content()
    })
}

/// The Lambda: what this function uses (the table only), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app();
    auth_shared::http::serve_oauth(app, handle).await
}
