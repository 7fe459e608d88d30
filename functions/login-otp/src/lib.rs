//! `POST /login/otp`.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::login::{OtpRequest, login_with_otp};
use auth_shared::ops::{Issues, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Issues>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let mut body: OtpRequest = http::json_body(&request)?;
    body.origin = http::origin(&request);
    Ok(http::ok(&login_with_otp(&*app, body).await?))
}
