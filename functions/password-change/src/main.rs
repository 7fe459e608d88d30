//! Lambda entry point: what this function uses (the table, argon2id, the signing key, the public keys), built once per cold
//! start; then requests.

use auth_shared::Startup;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let start = Startup::from_env().await?;
    let signing_keys = start.signing_keys().await?;
    let app = start
        .app()
        .with_hasher()?
        .with_signer(&signing_keys)?
        .with_verifier()?;
    auth_shared::http::serve(app, password_change::handle).await
}
