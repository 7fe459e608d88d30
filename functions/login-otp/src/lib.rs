//! `POST /login/otp`.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::login::{OtpRequest, login_with_otp};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let mut body: OtpRequest = http::json_body(&request)?;
            body.origin = http::origin(&request);
            Ok(http::ok(&login_with_otp(&app, body).await?))
        }
        .await,
    )
}
