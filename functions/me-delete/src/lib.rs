//! `DELETE /me` (bearer): deletes the account, after its password.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::account::delete_account;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::{Hashes, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Hashes + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let body = http::json_body(&request)?;
    delete_account(&*app, &caller, body).await?;
    Ok(http::no_content())
}

/// The Lambda: what this function uses (the table, argon2id, the public keys), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_hasher()?.with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
