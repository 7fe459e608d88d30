//! `GET /me` (bearer): the caller's account.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Verifies;
use auth_shared::ops::account::me;
use auth_shared::ops::bearer::authenticate;
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    Ok(http::ok(&me(&caller, &app.config().subscriber_services)?))
}

/// The Lambda: what this function uses (the table, the public keys), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
