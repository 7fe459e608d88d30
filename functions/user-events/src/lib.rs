//! Publishes the outbox items a DynamoDB stream batch inserted. A record that fails is
//! reported as a batch item failure, so Lambda retries from it (bisecting, within the bounds
//! the template sets) while the item stays pending for the sweeper.

use auth_shared::events::{OutboxItem, Publisher, inserted};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;

/// The outbox item a record inserted, if it is one still pending.
fn pending_outbox_item(record: &EventRecord) -> Option<Result<OutboxItem, serde_dynamo::Error>> {
    inserted::<OutboxItem>(record, "OUTBOX#")
        .filter(|i| i.as_ref().map_or(true, |i| i.status == "pending"))
}

pub async fn handle(publisher: &Publisher, event: LambdaEvent<Event>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.payload.records {
        let outcome = match pending_outbox_item(record) {
            None => continue,
            Some(Ok(item)) => publisher.publish(&item).await.map_err(|e| e.to_string()),
            Some(Err(e)) => Err(format!("unreadable outbox item: {e}")),
        };
        if let Err(error) = outcome {
            // Everything from this record on is retried; later records are not attempted,
            // so nothing is published out of order needlessly.
            tracing::warn!(%error, sequence = ?record.change.sequence_number, "publish failed");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

/// The Lambda: the table's stream, filtered to new outbox items, in; SNS out.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use auth_shared::events::Publisher;
    use lambda_runtime::{Error, run, service_fn};
    use std::sync::Arc;

    auth_shared::telemetry::init();
    let publisher = Arc::new(Publisher::from_env().await?);
    run(service_fn(move |event| {
        let publisher = Arc::clone(&publisher);
        async move { Ok::<_, Error>(handle(&publisher, event).await) }
    }))
    .await
}
