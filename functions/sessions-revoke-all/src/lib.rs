//! `DELETE /sessions` (bearer): signs out everywhere, this session included.

use std::sync::Arc;

use auth_shared::http;
use auth_shared::ops::App;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::session::revoke_all;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    http::respond(
        async {
            let caller = authenticate(&app, http::bearer_token(&request)).await?;
            revoke_all(&app, &caller.user).await?;
            Ok(http::no_content())
        }
        .await,
    )
}
