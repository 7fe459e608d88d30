//! `cargo run -p auth-tools --bin local-setup`: prepares the local stack (endpoints from
//! `AWS_ENDPOINT_URL_*`): the table, the SES sender identity, the two secrets in Secrets
//! Manager (from the key document `AUTH_SECRET_FILE`: the HMAC key under the name
//! `AUTH_HMAC_SECRET_ID`, the signing keys under `AUTH_SIGNING_SECRET_ID`; the providers'
//! secrets `LOCAL_OAUTH_CLIENT_SECRETS`, when set, under `AUTH_OAUTH_SECRET_ID`), and the SNS
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
    // The key document, stored as the two secrets a deployment has: the HMAC key, and the
    // signing keys, each readable only by the functions that use it.
    let document = auth_shared::secrets::Secrets::document_from_json(&std::fs::read_to_string(
        env("AUTH_SECRET_FILE")?,
    )?)?;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let hmac_id = env("AUTH_HMAC_SECRET_ID")?;
    let signing_id = env("AUTH_SIGNING_SECRET_ID")?;
    setup::put_secret(
        &secrets,
        &hmac_id,
        &serde_json::to_string(&document.hmac_part())?,
    )
    .await?;
    setup::put_secret(
        &secrets,
        &signing_id,
        &serde_json::to_string(&document.signing_part())?,
    )
    .await?;
    let mut secret_id = format!("{hmac_id} and {signing_id}");
    // The other providers' secrets, as a deployment keeps them (one secret, by provider).
    if let Ok(json) = std::env::var("LOCAL_OAUTH_CLIENT_SECRETS") {
        let oauth_id = env("AUTH_OAUTH_SECRET_ID")?;
        let _: auth_shared::federation::ProviderSecrets = serde_json::from_str(&json)
            .map_err(|_| "LOCAL_OAUTH_CLIENT_SECRETS is not the providers' secret document")?;
        setup::put_secret(&secrets, &oauth_id, &json).await?;
        secret_id = format!("{hmac_id}, {signing_id} and {oauth_id}");
    }
    let topic_arn = env("USER_EVENTS_TOPIC_ARN")?;
    let topic_name = topic_arn.rsplit(':').next().unwrap_or_default();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let created = setup::ensure_topic(&sns, topic_name).await?;
    if created != topic_arn {
        return Err(format!("created topic {created}, expected {topic_arn}").into());
    }
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // The replay topic (authctl events replay), to which each service's queue subscribes
    // for what is replayed for it.
    let replay_arn = env("USER_EVENTS_REPLAY_TOPIC_ARN")?;
    let replay_name = replay_arn.rsplit(':').next().unwrap_or_default();
    if setup::ensure_topic(&sns, replay_name).await? != replay_arn {
        return Err(format!("the replay topic is not {replay_arn}").into());
    }
    for (queue, event_types) in setup::LOCAL_SUBSCRIBERS {
        let url = setup::subscribe_queue(&sqs, &sns, &topic_arn, queue, Some(event_types)).await?;
        let service = setup::service_of(queue);
        setup::subscribe_to_replays(&sqs, &sns, &replay_arn, queue, service, event_types).await?;
        println!(
            "local-setup: queue {url} receives {} (and what is replayed for {service})",
            event_types.join(", ")
        );
    }
    for (service, queue) in setup::STAND_INS {
        setup::subscribe_queue(
            &sqs,
            &sns,
            &topic_arn,
            queue,
            Some(&[auth_shared::events::USER_CREATED]),
        )
        .await?;
        println!("local-setup: the {service} stand-in consumes {queue}");
    }
    let acks = sqs
        .create_queue()
        .queue_name(setup::ACK_QUEUE)
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    println!("local-setup: acknowledgements go to {acks}");
    println!(
        "local-setup: table {table}, sender {sender}, secrets {secret_id} and topic {topic_name} are ready"
    );
    Ok(())
}
