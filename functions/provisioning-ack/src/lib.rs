//! Records the acknowledgements other services send to the acknowledgement queue
//! (`{service, user_id, event_id, status, detail?}`) on the accounts they answer. Idempotent:
//! a late or repeated acknowledgement never takes a `created` back; one for an unknown
//! account or service, or one that is not an acknowledgement, is logged and dropped (a retry
//! would not change it). A message that could not be recorded (DynamoDB failed) is a batch
//! item failure, so SQS delivers it again.

use auth_shared::provisioning::{self, Ack, Recorded};
use auth_shared::store::Store;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;

/// The table and the configured services.
pub struct Acks {
    pub store: Store,
    pub services: Vec<String>,
}

/// At most this much of a service's failure detail reaches the log.
const DETAIL_CHARS: usize = 200;

async fn one(acks: &Acks, message: &SqsMessage) -> Result<(), String> {
    let body = message.body.as_deref().unwrap_or_default();
    let ack: Ack = match serde_json::from_str(body) {
        Ok(ack) => ack,
        Err(error) => {
            tracing::warn!(%error, message_id = ?message.message_id, "not an acknowledgement; dropped");
            return Ok(());
        }
    };
    let outcome = provisioning::record(&acks.store, &acks.services, &ack)
        .await
        .map_err(|e| e.to_string())?;
    let detail: Option<String> = ack
        .detail
        .as_deref()
        .map(|d| d.chars().take(DETAIL_CHARS).collect());
    match outcome {
        Recorded::Recorded => tracing::info!(
            service = %ack.service, user_id = %ack.user_id, event_id = %ack.event_id,
            status = ?ack.status, ?detail, "acknowledgement recorded"
        ),
        Recorded::AlreadyCreated => tracing::info!(
            service = %ack.service, user_id = %ack.user_id, status = ?ack.status,
            "the service had already acknowledged the user as created; unchanged"
        ),
        Recorded::UnknownUser => tracing::warn!(
            service = %ack.service, user_id = %ack.user_id, "acknowledgement for an unknown user; dropped"
        ),
        Recorded::UnknownService => tracing::warn!(
            service = %ack.service, user_id = %ack.user_id, "acknowledgement from a service not configured; dropped"
        ),
    }
    Ok(())
}

pub async fn handle(acks: &Acks, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.payload.records {
        if let Err(error) = one(acks, message).await {
            tracing::error!(%error, message_id = ?message.message_id, "acknowledgement not recorded; SQS retries it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

impl Acks {
    /// From `TABLE_NAME` and `SUBSCRIBER_SERVICES`.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
        let sdk = auth_shared::aws::load_sdk_config().await;
        Ok(Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(&sdk), table),
            services: provisioning::services_from_env()?,
        })
    }
}

/// The Lambda: the acknowledgement queue in; the accounts' `provisioning` out.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use lambda_runtime::{Error, run, service_fn};
    use std::sync::Arc;

    auth_shared::telemetry::init();
    let acks = Arc::new(Acks::from_env().await?);
    run(service_fn(move |event| {
        let acks = Arc::clone(&acks);
        async move { Ok::<_, Error>(handle(&acks, event).await) }
    }))
    .await
}
