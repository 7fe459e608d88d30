//! `DELETE /me/passkeys/{id}` (bearer, step-up): removes one of the caller's passkeys.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::passkeys::remove;
use auth_shared::ops::totp::StepUpRequest;
use auth_shared::ops::{Delivers, Hashes, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Hashes + Delivers + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let id = http::path_param(&request, "id");
    let body: StepUpRequest = http::optional_json_body(&request)?.unwrap_or_default();
    remove(&*app, &caller, &id, body).await?;
    Ok(http::no_content())
}

/// The Lambda: what this function uses (the table, argon2id for the step-up password, SES
/// and SNS for the notice, the public keys), built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hasher()?
        .with_delivery(&start.sdk)
        .with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
