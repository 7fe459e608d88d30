//! The safety net of the outbox: anything still pending a few minutes after it was written
//! (a skipped stream record, a failure the stream gave up on, records past the stream's
//! 24-hour retention) is published here, with its original `event_id`. First, accounts left
//! unverified past their expiry are deleted, each announcing itself with `user.deleted`.

use auth_shared::events::Publisher;
use auth_shared::ops::account::expire_unverified;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// Younger items are left to the stream consumer.
pub const MIN_AGE_SECS: i64 = 180;
/// Bounded work per run; the next run continues.
pub const MAX_PER_RUN: usize = 500;
/// Expired accounts deleted per run, at most; the next run continues.
pub const MAX_EXPIRED_PER_RUN: usize = 200;

pub async fn handle(publisher: &Publisher, _event: LambdaEvent<Value>) -> Result<Value, Error> {
    // A failed expiry pass must not hold back publishing; it is tried again next run.
    let expired = expire_unverified(publisher.store(), publisher.now(), MAX_EXPIRED_PER_RUN)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "expiring unverified accounts failed");
            0
        });
    let published = publisher.sweep(MIN_AGE_SECS, MAX_PER_RUN).await?;
    if published > 0 {
        tracing::warn!(
            published,
            "sweeper published events the stream consumer had not"
        );
    }
    Ok(json!({ "expired": expired, "published": published }))
}

/// The Lambda: on a schedule, publishes outbox items the stream consumer missed.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use auth_shared::events::Publisher;
    use lambda_runtime::{run, service_fn};
    use std::sync::Arc;

    auth_shared::telemetry::init();
    let publisher = Arc::new(Publisher::from_env().await?);
    run(service_fn(move |event| {
        let publisher = Arc::clone(&publisher);
        async move { handle(&publisher, event).await }
    }))
    .await
}
