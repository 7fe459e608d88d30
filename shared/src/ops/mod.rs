//! One module per use case. Each takes the parsed request, talks to the store and the
//! notifier through [`App`], and returns a response value or an [`AuthError`].

pub mod account;
pub mod bearer;
pub mod budgets;
mod codes;
pub mod confirm;
pub mod discovery;
mod limits;
pub mod login;
pub mod password;
pub mod register;
pub mod resend;
pub mod session;
mod verify;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::crypto::{PasswordHasher, TokenSigner, TokenVerifier};
use crate::notify::Notifier;
use crate::secrets::Secrets;
use crate::store::{ClaimItem, Store, UserItem, UserStatus, keys};
use crate::{AuthError, Clock, Config, SystemClock};

/// A body that names one identifier and nothing else: exactly one of `email` or `phone`
/// (resending a code, forgetting a password).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierRequest {
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub phone: Option<String>,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: budgets::Origin,
}

/// Everything a handler needs, built once per cold start.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub notifier: Notifier,
    pub hasher: PasswordHasher,
    pub secrets: Arc<Secrets>,
    pub signer: TokenSigner,
    /// Checks the access tokens of the bearer routes; built on the first bearer request,
    /// so the functions that take none pay nothing for it at cold start.
    verifier: Arc<OnceLock<TokenVerifier>>,
    pub clock: Arc<dyn Clock>,
}

impl App {
    /// Reads the environment and the secret and builds the SDK clients; fails fast on bad
    /// configuration.
    pub async fn from_env() -> Result<Self, AuthError> {
        let config = Config::from_env()?;
        let sdk = load_sdk_config().await;
        let secrets = Secrets::load(&sdk).await?;
        Self::new(config, secrets, &sdk, Arc::new(SystemClock))
    }

    pub fn new(
        config: Config,
        secrets: Secrets,
        sdk: &SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        let key = secrets
            .signing_keys
            .get(&config.signing_kid)
            .ok_or_else(|| {
                AuthError::internal(format!(
                    "JWT_SIGNING_KID {} names no key of the auth secret",
                    config.signing_kid
                ))
            })?;
        let signer = TokenSigner::new(
            &config.signing_kid,
            key.clone(),
            &config.issuer,
            &config.audience,
            config.access_token_ttl_secs,
        );
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name);
        let notifier = Notifier::new(
            aws_sdk_sesv2::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            &config,
        );
        Ok(Self {
            config: Arc::new(config),
            store,
            notifier,
            hasher: PasswordHasher::new()?,
            secrets: Arc::new(secrets),
            signer,
            verifier: Arc::default(),
            clock,
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The access-token verifier for the configured keys, issuer and audience.
    pub fn verifier(&self) -> Result<&TokenVerifier, AuthError> {
        if let Some(verifier) = self.verifier.get() {
            return Ok(verifier);
        }
        let built = TokenVerifier::new(
            &self.secrets.signing_keys,
            &self.config.issuer,
            &self.config.audience,
        )?;
        Ok(self.verifier.get_or_init(|| built))
    }
}

/// The roots AWS service endpoints chain to (Amazon Root CA 1–4, Starfield Services Root
/// G2), bundled so that TLS is set up without reading the system's certificate store.
static AWS_ROOT_CAS: &str = include_str!("../../data/aws-root-cas.pem");

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
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(12))
                .build(),
        )
        .load()
        .await
}

/// The user id read when no claim names one.
const NO_USER: &str = "00000000-0000-0000-0000-000000000000";

/// How many times an operation re-reads and re-decides after losing a race.
const MAX_ROUNDS: usize = 6;

/// The live, delivered account that holds an identifier, if any. Always the same two reads
/// (the claim, then a profile), whether or not an account holds the identifier, so neither
/// the calls made nor their timing tell the two apart.
async fn find_account(app: &App, claim_pk: &str, now: i64) -> Result<Option<UserItem>, AuthError> {
    let claim = app
        .store
        .get::<ClaimItem>(claim_pk, keys::CLAIM)
        .await?
        .filter(|c| c.is_live(now));
    // No account has the nil id (ids are random UUIDv4s), so this read finds nothing.
    let user_id = claim.as_ref().map_or(NO_USER, |c| c.user_id.as_str());
    let user: Option<UserItem> = app.store.get(&keys::user(user_id), keys::PROFILE).await?;
    Ok(user.filter(|u| u.is_live(now) && u.status == UserStatus::Active))
}
