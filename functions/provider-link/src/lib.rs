//! `POST /me/providers/{provider}` (bearer, step-up): the provider's authorization URL for
//! the frontend to open; its callback links the identity to the caller's account.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::federation::{LinkRequest, link};
use auth_shared::ops::{Federates, Hashes, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Federates + Hashes + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let provider = http::path_param_after(&request, "provider", "providers");
    let body: LinkRequest = http::json_body(&request)?;
    Ok(http::ok(&link(&*app, &caller, &provider, body).await?))
}

/// The Lambda: what this function uses (the table, the providers' discovery, argon2id for
/// the step-up password, the public keys), built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hasher()?
        .with_verifier()?
        .with_federation(auth_shared::federation::Federation::without_secrets()?);
    auth_shared::http::serve(app, handle).await
}
