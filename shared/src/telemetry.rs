//! JSON logs through `tracing`; CloudWatch adds the timestamp and request id.
//!
//! The service's own logs never carry a password, code, token or key at any level. The Lambda
//! runtime and the AWS SDK stack are not ours: at debug and trace they print whole events
//! (request bodies with passwords), responses (token pairs) and SDK payloads (codes, secret
//! values), and the WebAuthn library prints its ceremony states and the responses it checks.
//! Their level is therefore capped at [`CAPPED_LEVEL`] whatever `RUST_LOG` says.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The most verbose level the capped crates may log at.
pub const CAPPED_LEVEL: Level = Level::INFO;

/// Targets (module paths) of crates that log request or response payloads below
/// [`CAPPED_LEVEL`]: the Lambda runtime, the AWS SDK and smithy stack, the HTTP/TLS layers
/// under them, and the WebAuthn library.
const CAPPED_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_lambda_events",
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sdk_",
    "aws_sigv4",
    "aws_smithy_",
    "aws_types",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower",
    "reqwest",
    "webauthn_rs",
];

/// Whether an event from `target` at `level` may be logged at all.
pub fn allowed(target: &str, level: &Level) -> bool {
    *level <= CAPPED_LEVEL || !CAPPED_TARGETS.iter().any(|t| target.starts_with(t))
}

fn cap(metadata: &Metadata<'_>) -> bool {
    allowed(metadata.target(), metadata.level())
}

/// Installs the subscriber once per process; `RUST_LOG` picks the level (default `info`),
/// capped for the runtime and the SDK.
pub fn init() {
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .with_filter(env.and(filter_fn(cap)));
    let _ = Registry::default().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_and_sdk_payload_logs_are_capped_at_info() {
        for target in [
            "lambda_runtime::layers::trace",
            "lambda_runtime_api_client",
            "aws_smithy_runtime::client::orchestrator",
            "aws_sdk_dynamodb::operation",
            "hyper_util::client",
            "webauthn_rs_core::core",
        ] {
            assert!(!allowed(target, &Level::TRACE), "{target} at trace");
            assert!(!allowed(target, &Level::DEBUG), "{target} at debug");
            assert!(allowed(target, &Level::INFO), "{target} at info");
            assert!(allowed(target, &Level::ERROR), "{target} at error");
        }
        assert!(allowed("auth_shared::ops::login", &Level::TRACE));
        assert!(allowed("register", &Level::DEBUG));
    }
}
