//! `POST /password/reset`: a reset code and a new password; every earlier session ends.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::password::{ResetRequest, reset};
use auth_shared::ops::{Hashes, Issues, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Hashes + Issues>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let mut body: ResetRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&reset(&*app, body).await?))
}
