//! `POST /password/forgot`: 202 `{}` whether or not an account holds the identifier.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::password::{ForgotRequest, forgot};
use auth_shared::ops::{Delivers, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Delivers>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let mut body: ForgotRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::accepted(&forgot(&*app, body).await?))
}
