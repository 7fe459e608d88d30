//! `POST /registration`.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::register::{RegisterRequest, register};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let mut body: RegisterRequest = http::json_body(&request)?;
            body.origin = http::origin(&request);
            Ok(http::ok(&register(&app, body).await?))
        }
        .await,
    )
}
