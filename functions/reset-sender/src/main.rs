//! Lambda entry point: the table's stream, filtered to new forgot-password requests, in;
//! reset codes out by SES or SNS.

use std::sync::Arc;

use auth_shared::Startup;
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let start = Startup::from_env().await?;
    let hmac_key = start.hmac_key().await?;
    let app = Arc::new(
        start
            .app()
            .with_hmac_key(&hmac_key)
            .with_delivery(&start.sdk),
    );
    run(service_fn(move |event| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Error>(reset_sender::handle(&*app, event).await) }
    }))
    .await
}
