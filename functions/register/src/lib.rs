//! `POST /registration`.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::register::{RegisterRequest, register};
use auth_shared::ops::{Delivers, Hashes, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Delivers + Hashes>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let mut body: RegisterRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&register(&*app, body).await?))
}
