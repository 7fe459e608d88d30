//! `POST /token`: JSON or the OAuth 2.0 form; errors carry RFC 6749's `error` member.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::session::refresh;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond_oauth(
        async {
            let body = http::json_or_form_body(&request)?;
            Ok(http::ok(&refresh(&app, body).await?))
        }
        .await,
    )
}
