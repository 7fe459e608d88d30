//! `PATCH /registration/{code}`.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::confirm::confirm;
use auth_shared::ops::{Issues, Keyed};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Issues>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let body = http::optional_json_body(&request)?;
    let code = http::path_param(&request, "code");
    let origin = http::origin(&request);
    Ok(http::ok(&confirm(&*app, &code, body, &origin).await?))
}
