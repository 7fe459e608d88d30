//! Lambda entry point: what this function uses (the table, the public keys), built once per cold
//! start; then requests.

use auth_shared::Startup;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let start = Startup::from_env().await?;
    let app = start.app().with_verifier()?;
    auth_shared::http::serve(app, sessions_revoke_all::handle).await
}
