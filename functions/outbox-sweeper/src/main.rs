//! Lambda entry point: on a schedule, publishes outbox items the stream consumer missed.

use std::sync::Arc;

use auth_shared::events::Publisher;
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    auth_shared::telemetry::init();
    let publisher = Arc::new(Publisher::from_env().await?);
    run(service_fn(move |event| {
        let publisher = Arc::clone(&publisher);
        async move { outbox_sweeper::handle(&publisher, event).await }
    }))
    .await
}
