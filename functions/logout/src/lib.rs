//! `POST /logout`: 204, also for an unknown token (RFC 7009).

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::session::logout;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let body = http::json_body(&request)?;
            logout(&app, body).await?;
            Ok(http::no_content())
        }
        .await,
    )
}
