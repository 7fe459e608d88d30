//! Lambda entry point: what this function uses (the table, argon2id, the signing key, the public keys), built once per cold
//! start; then requests.

use auth_shared::Startup;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let start = Startup::from_env().await?;
    let secrets = start.secrets().await?;
    let app = start
        .app()
        .with_hasher()?
        .with_signer(&secrets)?
        .with_verifier()?;
    auth_shared::http::serve(app, password_change::handle).await
}
