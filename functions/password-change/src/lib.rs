//! `POST /password/change` (bearer): the current password and a new one; every session
//! ends and the caller gets a new one.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::password::{ChangeRequest, change};
use auth_shared::ops::{Hashes, Issues, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Hashes + Issues + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request)).await?;
    let mut body: ChangeRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&change(&*app, &caller, body).await?))
}
