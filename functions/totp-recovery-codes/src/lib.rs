//! `POST /me/totp/recovery-codes` (bearer, step-up): 10 new recovery codes, shown once; the
//! old ones stop working.

use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::http;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::totp::{StepUpRequest, replace_recovery_codes};
use auth_shared::ops::{Hashes, Keyed, Verifies};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: Arc<impl Keyed + Hashes + Verifies>,
    request: Request,
) -> Result<Response<Body>, AuthError> {
    let caller = authenticate(&*app, http::bearer_token(&request))
        .await?
        .from(http::origin(&request));
    let body: StepUpRequest = http::optional_json_body(&request)?.unwrap_or_default();
    Ok(http::ok(
        &replace_recovery_codes(&*app, &caller, body).await?,
    ))
}

/// The Lambda: what this function uses (the table, the HMAC key, argon2id, the public keys),
/// built once per cold start; then requests.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::Startup;

    let start = Startup::from_env().await?;
    let app = start
        .app()
        .with_hmac_key(start.hmac_key())
        .with_hasher()?
        .with_verifier()?;
    auth_shared::http::serve(app, handle).await
}
