//! `cargo run -p auth-tests --bin local-setup`: creates the table and the SES sender identity
//! on the local stack (the endpoints come from `AWS_ENDPOINT_URL_*`). Safe to run twice.

use auth_tests::{required_env, setup};

#[tokio::main]
async fn main() -> Result<(), setup::Error> {
    let sdk = auth_shared::ops::load_sdk_config().await;
    let table = required_env("TABLE_NAME");
    let sender = required_env("SENDER_EMAIL");
    setup::ensure_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
    setup::ensure_sender(&aws_sdk_sesv2::Client::new(&sdk), &sender).await?;
    println!("local-setup: table {table} and sender identity {sender} are ready");
    Ok(())
}
