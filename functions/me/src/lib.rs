//! `GET /me` (bearer): the caller's account.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::account::me;
use auth_shared::ops::bearer::authenticate;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let caller = authenticate(&app, http::bearer_token(&request)).await?;
            Ok(http::ok(&me(&caller)?))
        }
        .await,
    )
}
