//! `POST /login/provider`: the one-time code a provider's callback handed the frontend
//! signs in (a token pair, or `mfa_required`).

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Issues;
use auth_shared::ops::federation::{ProviderCodeRequest, login_provider};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<impl Issues>, request: Request) -> Result<Response<Body>, AuthError> {
    let mut body: ProviderCodeRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&login_provider(&*app, body).await?))
}

/// The Lambda: what this function uses (the table, the signing key), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_signer(start.signing_keys());
    auth_shared::http::serve(app, handle).await
}
