//! `GET /me/activity?cursor=…&limit=…` (bearer): the caller's audit trail, newest first, a
//! page at a time.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::Verifies;
use auth_shared::ops::audit::mine;
use auth_shared::ops::bearer::authenticate;
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let cursor = http::query_param(&request, "cursor");
    let limit = http::query_param(&request, "limit");
    Ok(http::ok(
        &mine(&*app, &caller, cursor.as_deref(), limit.as_deref()).await?,
    ))
}

/// The Lambda: what this function uses (the table, the public keys), built once per cold
/// start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start.app().with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
