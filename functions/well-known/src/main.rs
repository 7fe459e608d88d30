//! Lambda entry point: the public keys and discovery document, built once per cold start.
//! This function is given no private key and no AWS client.

use std::sync::Arc;

use auth_shared::ops::discovery::Discovery;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    auth_shared::telemetry::init();
    let discovery = Arc::new(Discovery::from_env()?);
    run(service_fn(move |request| {
        let discovery = Arc::clone(&discovery);
        async move { Ok::<_, Error>(well_known::handle(&discovery, request)) }
    }))
    .await
}
