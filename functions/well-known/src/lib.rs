//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`.

use auth_shared::http;
use auth_shared::ops::discovery::Discovery;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

/// Long enough to spare the function, short enough that a newly published key spreads
/// well before it signs.
const MAX_AGE_SECS: u32 = 300;

pub fn handle(discovery: &Discovery, request: Request) -> Response<Body> {
    let path = request.uri().path();
    if path.ends_with("/.well-known/jwks.json") {
        http::cacheable(&discovery.jwks, MAX_AGE_SECS)
    } else if path.ends_with("/.well-known/openid-configuration") {
        http::cacheable(&discovery.openid_configuration, MAX_AGE_SECS)
    } else {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    }
}

/// The Lambda: the public keys and discovery document, built once per cold start.
/// This function is given no private key and no AWS client.
pub async fn run() -> Result<(), lambda_http::Error> {
    use auth_shared::ops::discovery::Discovery;
    use lambda_http::{Error, run, service_fn};
    use std::sync::Arc;

    auth_shared::telemetry::init();
    let discovery = Arc::new(Discovery::from_env()?);
    run(service_fn(move |request| {
        let discovery = Arc::clone(&discovery);
        async move { Ok::<_, Error>(handle(&discovery, request)) }
    }))
    .await
}
