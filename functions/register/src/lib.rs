//! `POST /registration`.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::register::register;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let body = http::json_body(&request)?;
            Ok(http::ok(&register(&app, body).await?))
        }
        .await,
    )
}
