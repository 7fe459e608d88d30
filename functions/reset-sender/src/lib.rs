//! Sends the reset codes that `POST /password/forgot` requests, from the table's stream: the
//! request itself only records them, so it answers alike, in the same time, whether or not
//! an account holds the identifier. A record that fails is reported as a batch item failure,
//! so Lambda retries from it; a request served already is skipped.

use auth_shared::events::inserted;
use auth_shared::ops::password::send_reset;
use auth_shared::ops::{Delivers, Keyed};
use auth_shared::store::ForgotItem;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;

pub async fn handle(
    app: &(impl Keyed + Delivers),
    event: LambdaEvent<Event>,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.payload.records {
        let outcome = match inserted::<ForgotItem>(record, "FORGOT#") {
            None => continue,
            Some(Ok(request)) => send_reset(app, &request).await.map_err(|e| e.to_string()),
            Some(Err(e)) => {
                // Not retried: a malformed item stays malformed.
                tracing::error!(error = %e, "unreadable forgot-password request");
                continue;
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, sequence = ?record.change.sequence_number, "reset code not sent");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    tracing::debug!(
        records = event.payload.records.len(),
        failures = response.batch_item_failures.len(),
        "batch served"
    );
    response
}

/// The Lambda: the table's stream, filtered to new forgot-password requests, in;
/// reset codes out by SES or SNS.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use auth_shared::Startup;
    use lambda_runtime::{Error, run, service_fn};
    use std::sync::Arc;

    let start = Startup::from_env().await?;
    let app = Arc::new(
        start
            .app()
            .with_hmac_key(start.hmac_key())
            .with_delivery(&start.sdk),
    );
    run(service_fn(move |event| {
        let app = Arc::clone(&app);
        // Boxed: the handler's future nests the SDK's, too deep to lay out inside the
        // runtime's own future (rustc's query depth limit).
        async move { Ok::<_, Error>(Box::pin(handle(&*app, event)).await) }
    }))
    .await
}
