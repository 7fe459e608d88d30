//! Lambda entry point: what this function uses (the table, the HMAC key, SES and SNS, argon2id, the signing key), built once per cold
//! start; then requests.

use auth_shared::Startup;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let start = Startup::from_env().await?;
    let (hmac_key, signing_keys) = start.keys().await?;
    let app = start
        .app()
        .with_hmac_key(&hmac_key)
        .with_delivery(&start.sdk)
        .with_hasher()?
        .with_signer(&signing_keys)?;
    auth_shared::http::serve(app, login::handle).await
}
