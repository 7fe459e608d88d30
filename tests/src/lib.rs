//! Test harness for the local stack: DynamoDB Local, moto (SES v2 + SNS) and, for the
//! end-to-end tests, the API served by `cargo lambda watch`. `make test` starts all three
//! and exports where they listen; the tests fail loudly if they are missing.

pub mod authenticator;
pub mod aws_recorder;
pub mod cognito;
pub mod downstream;
pub mod events;
pub mod moto;
pub mod oidc;
pub mod stub_provider;

use std::sync::{Arc, Mutex};

use auth_shared::Config;
use auth_shared::app::Deferred;
use auth_shared::aws::load_sdk_config;
use auth_shared::clock::ManualClock;
use auth_shared::secrets::Secrets;
use auth_shared::{App, FullApp};

/// An environment variable the test stack must provide.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `make test`, which starts the local stack")
    })
}

/// A fresh, never-used email address.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A fresh, valid US number (+1 415 NXX XXXX).
pub fn unique_phone() -> String {
    let n = u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes());
    let exchange = 200 + (n % 800) as u32;
    let line = ((n >> 16) % 10_000) as u32;
    if exchange == 555 || exchange % 100 == 11 {
        return unique_phone();
    }
    format!("+1415{exchange:03}{line:04}")
}

/// The service's configuration as `make test` exports it, with overrides.
pub fn config_with(overrides: &[(&str, &str)]) -> Config {
    Config::from_lookup(|key| {
        overrides
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| std::env::var(key).ok())
    })
    .expect("the test stack exports a complete configuration")
}

/// The library wired to the local stack, with a clock the test moves.
pub struct TestApp {
    pub app: FullApp,
    pub clock: ManualClock,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(config_with(&[])).await
    }

    pub async fn with_config(config: Config) -> Self {
        let sdk = load_sdk_config().await;
        let clock = ManualClock::starting_now();
        let secrets = Secrets::load(&sdk).await.expect("the two secrets load");
        let app = App::new(config, &sdk, Arc::new(clock.clone()))
            .with_hmac_key(Deferred::ready(secrets.hmac_key.as_slice().into()))
            .with_delivery(&sdk)
            .with_hasher()
            .map(|app| app.with_signer(Deferred::ready(Arc::new(secrets.signing_keys))))
            .and_then(|app| app.with_verifier())
            .and_then(|app| {
                // The providers' secrets as the local stack keeps them (none configured: none).
                let secrets: auth_shared::federation::ProviderSecrets =
                    std::env::var("LOCAL_OAUTH_CLIENT_SECRETS")
                        .ok()
                        .map(|json| serde_json::from_str(&json).expect("the providers' secrets"))
                        .unwrap_or_default();
                let federation =
                    auth_shared::federation::Federation::new(Deferred::ready(Arc::new(secrets)))?;
                Ok(app.with_federation(federation))
            })
            .expect("app builds");
        Self { app, clock }
    }

    /// The same configuration, with SNS pointed at a port where nothing listens.
    pub async fn with_dead_sns() -> Self {
        let Self { app, clock } = Self::new().await;
        let sdk = load_sdk_config().await;
        let dead = aws_sdk_sns::config::Builder::from(&sdk)
            .endpoint_url(format!("http://127.0.0.1:{}", closed_port()))
            .build();
        let notifier = auth_shared::notify::Notifier::new(
            aws_sdk_sesv2::Client::new(&sdk),
            aws_sdk_sns::Client::from_conf(dead),
            auth_shared::ops::Base::config(&app),
        );
        Self {
            app: app.with_notifier(notifier),
            clock,
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

impl TestApp {
    pub fn clock_now(&self) -> i64 {
        use auth_shared::Clock;
        self.clock.now()
    }
}

/// The DynamoDB operations a client made, in order (`GetItem`, `TransactWriteItems`, ...).
#[derive(Debug, Default, Clone)]
pub struct DynamoCalls(Arc<Mutex<Vec<String>>>);

impl DynamoCalls {
    /// The calls so far; the list starts again empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[derive(Debug)]
struct RecordCalls(DynamoCalls);

impl aws_sdk_dynamodb::config::Intercept for RecordCalls {
    fn name(&self) -> &'static str {
        "record-dynamodb-calls"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(operation);
        Ok(())
    }
}

impl TestApp {
    /// The usual app, with every DynamoDB call it makes recorded.
    pub async fn recording_dynamodb_calls() -> (Self, DynamoCalls) {
        let Self { app, clock } = Self::new().await;
        let sdk = load_sdk_config().await;
        let calls = DynamoCalls::default();
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(RecordCalls(calls.clone()))
            .build();
        let table = auth_shared::ops::Base::config(&app).table_name.clone();
        let store =
            auth_shared::store::Store::new(aws_sdk_dynamodb::Client::from_conf(conf), table);
        let app = app.with_store(store);
        (Self { app, clock }, calls)
    }
}

/// The code an authenticator app holding `secret` (base32, as `POST /me/totp` answers it)
/// shows at `unix_secs`.
pub fn totp_code(secret: &str, unix_secs: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
    totp_rs::Builder::new()
        .with_secret(secret)
        .build_noncompliant()
        .generate(u64::try_from(unix_secs).expect("after 1970"))
        .to_string()
}
