//! `POST /me/passkeys` (bearer): the authenticator's response to a registration ceremony
//! adds the passkey to the caller's account (201).

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::passkeys::{AddRequest, add};
use auth_shared::ops::{Delivers, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Delivers + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let body: AddRequest = http::json_body(&request)?;
    Ok(http::created(&add(&*app, &caller, body).await?))
}

/// The Lambda: what this function uses (the table, SES and SNS for the notice, the public
/// keys), built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_delivery(&start.sdk).with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
