//! `DELETE /me/providers/{provider}` (bearer, step-up): the provider no longer signs in to
//! the caller's account, unless it is the account's last way to sign in.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::federation::unlink;
use auth_shared::ops::totp::StepUpRequest;
use auth_shared::ops::{Hashes, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Hashes + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let provider = http::path_param_after(&request, "provider", "providers");
    let body: StepUpRequest = http::optional_json_body(&request)?.unwrap_or_default();
    unlink(&*app, &caller, &provider, body.password).await?;
    Ok(http::no_content())
}

/// The Lambda: what this function uses (the table, argon2id for the step-up password, the
/// public keys), built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_hasher()?.with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
