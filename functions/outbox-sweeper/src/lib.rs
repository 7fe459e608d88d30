//! The safety net of the outbox: anything still pending a few minutes after it was written
//! (a skipped stream record, a failure the stream gave up on, records past the stream's
//! 24-hour retention) is published here, with its original `event_id`. First, accounts left
//! unverified past their expiry are deleted, each announcing itself with `user.deleted`.
//! Last, it counts per subscribing service the accounts it has not acknowledged after
//! `PROVISIONING_LAG_SECS` (one log line per service, which a metric filter turns into the
//! `UnacknowledgedUsers` metric and its alarm).

use auth_shared::events::Publisher;
use auth_shared::ops::account::expire_unverified;
use auth_shared::provisioning;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// Younger items are left to the stream consumer.
pub const MIN_AGE_SECS: i64 = 180;
/// Bounded work per run; the next run continues.
pub const MAX_PER_RUN: usize = 500;
/// Expired accounts deleted per run, at most; the next run continues.
pub const MAX_EXPIRED_PER_RUN: usize = 200;
/// Accounts made longer ago than this no longer count as unacknowledged (the alarm has
/// fired long before), so a service silent for good does not make every run read more.
pub const PROVISIONING_WINDOW_SECS: i64 = 24 * 3600;

/// What the sweeper is told besides the outbox: the subscribing services, and how long each
/// may take to acknowledge a new user.
pub struct Sweeper {
    pub publisher: Publisher,
    pub services: Vec<String>,
    pub lag_secs: i64,
}

pub async fn handle(sweeper: &Sweeper, _event: LambdaEvent<Value>) -> Result<Value, Error> {
    let publisher = &sweeper.publisher;
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
    let unacknowledged = provisioning::unacknowledged(
        publisher.store(),
        &sweeper.services,
        publisher.now(),
        sweeper.lag_secs,
        PROVISIONING_WINDOW_SECS,
    )
    .await?;
    for (service, count) in &unacknowledged {
        // One line per service and run, zero included, so the metric has a point each run.
        tracing::info!(
            unacknowledged_service = %service,
            unacknowledged = count,
            after_secs = sweeper.lag_secs,
            "users the service has not acknowledged"
        );
    }
    Ok(json!({ "expired": expired, "published": published, "unacknowledged": unacknowledged }))
}

impl Sweeper {
    /// From the publisher's settings, `SUBSCRIBER_SERVICES` and `PROVISIONING_LAG_SECS`
    /// (300 when unset).
    pub async fn from_env() -> Result<Self, Error> {
        let lag_secs = match std::env::var("PROVISIONING_LAG_SECS") {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse()
                .map_err(|_| format!("PROVISIONING_LAG_SECS is not a number: {v}"))?,
            _ => 300,
        };
        Ok(Self {
            publisher: Publisher::from_env().await?,
            services: provisioning::services_from_env()?,
            lag_secs,
        })
    }
}

/// The Lambda: on a schedule, publishes outbox items the stream consumer missed.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use lambda_runtime::{run, service_fn};
    use std::sync::Arc;

    auth_shared::telemetry::init();
    let sweeper = Arc::new(Sweeper::from_env().await?);
    run(service_fn(move |event| {
        let sweeper = Arc::clone(&sweeper);
        async move { handle(&sweeper, event).await }
    }))
    .await
}
