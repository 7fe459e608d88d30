//! `POST /password/reset`: a reset code and a new password; every earlier session ends.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::password::{ResetRequest, reset};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let mut body: ResetRequest = http::json_body(&request)?;
            body.origin = http::origin(&request);
            Ok(http::ok(&reset(&app, body).await?))
        }
        .await,
    )
}
