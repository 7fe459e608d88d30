//! `POST /password/forgot`: 202 `{}` whether or not an account holds the identifier.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::password::{ForgotRequest, forgot};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let mut body: ForgotRequest = http::json_body(&request)?;
            body.origin = http::origin(&request);
            Ok(http::accepted(&forgot(&app, body).await?))
        }
        .await,
    )
}
