//! Lambda entry point: configuration and clients once per cold start, then serve.

use std::sync::Arc;

use auth_shared::ops::App;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    auth_shared::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    run(service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Error>(token::handle(&app, request).await) }
    }))
    .await
}
