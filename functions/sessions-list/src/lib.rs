//! `GET /sessions` (bearer): the caller's live sessions, newest first.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::session::list;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let caller = authenticate(&app, http::bearer_token(&request)).await?;
            Ok(http::ok(&list(&app, &caller).await?))
        }
        .await,
    )
}
