//! `cargo run -p auth-tools --bin local-setup`: prepares the local stack (endpoints from
//! `AWS_ENDPOINT_URL_*`): the table, the SES sender identity, and the auth secret in Secrets
//! Manager (from the file `AUTH_SECRET_FILE`, under the name `AUTH_SECRET_ID`), and the SNS
//! topic `USER_EVENTS_TOPIC_ARN` with a queue subscribed for each local subscriber
//! (SocialService, BlogService). Idempotent.

use auth_tools::setup;

fn env(name: &str) -> Result<String, setup::Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

#[tokio::main]
async fn main() -> Result<(), setup::Error> {
    let sdk = auth_shared::aws::load_sdk_config().await;
    let table = env("TABLE_NAME")?;
    let sender = env("SENDER_EMAIL")?;
    setup::ensure_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
    setup::ensure_sender(&aws_sdk_sesv2::Client::new(&sdk), &sender).await?;
    let secret_id = env("AUTH_SECRET_ID")?;
    let secret = std::fs::read_to_string(env("AUTH_SECRET_FILE")?)?;
    setup::put_secret(
        &aws_sdk_secretsmanager::Client::new(&sdk),
        &secret_id,
        &secret,
    )
    .await?;
    let topic_arn = env("USER_EVENTS_TOPIC_ARN")?;
    let topic_name = topic_arn.rsplit(':').next().unwrap_or_default();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let created = setup::ensure_topic(&sns, topic_name).await?;
    if created != topic_arn {
        return Err(format!("created topic {created}, expected {topic_arn}").into());
    }
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for (queue, event_types) in setup::LOCAL_SUBSCRIBERS {
        let url = setup::subscribe_queue(&sqs, &sns, &topic_arn, queue, Some(event_types)).await?;
        println!(
            "local-setup: queue {url} receives {}",
            event_types.join(", ")
        );
    }
    println!(
        "local-setup: table {table}, sender {sender}, secret {secret_id} and topic {topic_name} are ready"
    );
    Ok(())
}
