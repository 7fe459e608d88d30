//! The AWS SDK wiring: TLS trusting the bundled AWS roots, timeouts, and the shared
//! configuration every client is built from.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The roots AWS service endpoints chain to (Amazon Root CA 1–4, Starfield Services Root
/// G2), bundled so that TLS is set up without reading the system's certificate store.
static AWS_ROOT_CAS: &str = include_str!("../data/aws-root-cas.pem");

/// An HTTPS client trusting only the bundled AWS roots: no filesystem scan at cold start.
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
    let trust = TrustStore::empty().with_pem_certificate(AWS_ROOT_CAS.as_bytes());
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(tls) => builder.tls_context(tls).build_https(),
        Err(err) => {
            tracing::warn!(error = %err, "bundled roots unusable; using the system's");
            builder.build_https()
        }
    }
}

/// The shared SDK configuration: region, credentials and endpoints from the environment
/// (`AWS_ENDPOINT_URL_*` points it at local emulators), with timeouts short enough that a
/// dead endpoint fails the request instead of the Lambda.
pub async fn load_sdk_config() -> SdkConfig {
    sdk_loader().load().await
}

/// The loader [`load_sdk_config`] uses, for callers that set more (the benchmark points it
/// at its stand-ins).
pub fn sdk_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(12))
                .build(),
        )
}
