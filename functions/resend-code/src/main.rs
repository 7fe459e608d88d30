//! Lambda entry point: what this function uses (the table, the HMAC key, SES and SNS), built once per cold
//! start; then requests.

use auth_shared::Startup;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let start = Startup::from_env().await?;
    let hmac_key = start.hmac_key().await?;
    let app = start
        .app()
        .with_hmac_key(&hmac_key)
        .with_delivery(&start.sdk);
    auth_shared::http::serve(app, resend_code::handle).await
}
