//! `POST /login`.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::login::{LoginRequest, login};
use auth_shared::ops::{Delivers, Hashes, Issues, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Delivers + Hashes + Issues>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let mut body: LoginRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&login(&*app, body).await?))
}
