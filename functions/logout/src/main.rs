//! Lambda entry point: what this function uses (the table only), built once per cold
//! start; then requests.

use auth_shared::Startup;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let start = Startup::from_env().await?;
    let app = start.app();
    auth_shared::http::serve_oauth(app, logout::handle).await
}
