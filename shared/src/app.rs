//! The capabilities a use case is given, and how a function's `main` builds exactly the ones
//! it uses, once per cold start.
//!
//! Every use case in [`crate::ops`] names what it needs by trait ([`Base`], [`Keyed`],
//! [`Delivers`], [`Hashes`], [`Issues`], [`Verifies`], [`Federates`]); [`App`] holds a capability only once
//! its `with_*` builder has run, and implements the matching trait only then. A function that
//! never sends (logout, token) therefore builds no SES or SNS client, and its binary does not
//! even link the code that would; one that issues no token loads no signing key; one that
//! needs neither key nor signer never fetches the secret.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::aws::load_sdk_config;
use crate::crypto::{PasswordHasher, TokenSigner, TokenVerifier};
use crate::error::StartupError;
use crate::federation::{Federation, ProviderSecrets};
use crate::notify::Notifier;
use crate::secrets::{self, SigningKeys};
use crate::store::Store;
use crate::{AuthError, Clock, Config, SystemClock};

/// What every use case has: the configuration, the clock and the table.
pub trait Base: Send + Sync + 'static {
    fn config(&self) -> &Config;
    fn store(&self) -> &Store;
    /// Whole seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Milliseconds since the Unix epoch (locks, the refresh grace window).
    fn now_ms(&self) -> i64;
    /// The Cognito user pool accounts migrate from, when one is configured.
    fn cognito(&self) -> Option<&crate::migration::Cognito>;
    /// Sends events again to one service, where the replay topic is configured (the admin
    /// function's `USER_EVENTS_REPLAY_TOPIC_ARN`).
    fn replayer(&self) -> Option<&crate::events::Replayer>;
}

/// The service's HMAC key: code digests and refresh-token children. It may
/// still be on its way from Secrets Manager (see [`Deferred`]): a use case awaits it where it
/// needs it, not before.
pub trait Keyed: Base {
    fn hmac_key(&self) -> impl Future<Output = Result<Arc<[u8]>, AuthError>> + Send;
}

/// Code delivery: email through SES v2, SMS through SNS.
pub trait Delivers: Base {
    fn notifier(&self) -> &Notifier;
}

/// argon2id hashing and verification.
pub trait Hashes: Base {
    fn hasher(&self) -> &PasswordHasher;
}

/// Signs access tokens (the private key `JWT_SIGNING_KID` names), awaited where a token is
/// signed (see [`Deferred`]).
pub trait Issues: Base {
    fn signer(&self) -> impl Future<Output = Result<Arc<TokenSigner>, AuthError>> + Send;
}

/// Checks the access tokens of the bearer routes (the public keys of `JWT_PUBLIC_JWKS`).
pub trait Verifies: Base {
    fn verifier(&self) -> &TokenVerifier;
}

/// Signs in with other providers (`OAUTH_PROVIDERS`): their HTTP, secrets and discovery.
pub trait Federates: Base {
    fn federation(&self) -> &Federation;
}

/// A capability slot not filled: the function was not given it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Without;

/// The HMAC key, from the HMAC secret.
#[derive(Clone)]
pub struct HmacKey(Deferred<Arc<[u8]>>);

/// The signer, once the signing secret is in.
#[derive(Clone)]
pub struct Signer(Deferred<Arc<TokenSigner>>);

/// A value a function fetches at cold start without waiting for it: the fetch starts at
/// init, in the background, and a request awaits it only where it needs it (a sign-in, after
/// its password hash), so a cold start pays the Secrets Manager round trip beside the
/// request's own work instead of before it. A fetch that fails ends the process, as a failed
/// init would: Lambda starts a new execution environment.
pub struct Deferred<T>(tokio::sync::watch::Receiver<Option<T>>);

impl<T> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Clone + Send + Sync + 'static> Deferred<T> {
    /// A value already at hand (tests, tools).
    pub fn ready(value: T) -> Self {
        let (_, rx) = tokio::sync::watch::channel(Some(value));
        Self(rx)
    }

    /// Starts `fetch` now, on the runtime; [`Deferred::get`] waits for it.
    pub fn spawn(
        what: &'static str,
        fetch: impl Future<Output = Result<T, StartupError>> + Send + 'static,
    ) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            match fetch.await {
                Ok(value) => {
                    let _ = tx.send(Some(value));
                }
                Err(error) => {
                    tracing::error!(%error, "{what} could not be loaded; the function stops");
                    std::process::exit(1);
                }
            }
        });
        Self(rx)
    }

    /// The value, once it is in.
    pub async fn get(&self) -> Result<T, AuthError> {
        let mut rx = self.0.clone();
        let value = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| AuthError::internal("a key's fetch ended without a value"))?;
        value
            .clone()
            .ok_or_else(|| AuthError::internal("a key's fetch ended without a value"))
    }
}

/// The capabilities of one function: the base, then each `with_*` one it was built with.
pub struct App<K = Without, D = Without, H = Without, S = Without, V = Without, F = Without> {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    store: Store,
    key: K,
    delivery: D,
    hasher: H,
    signer: S,
    verifier: V,
    federation: F,
    /// Only when `COGNITO_USER_POOL_ID` is set: a client of the pool's API.
    cognito: Option<Arc<crate::migration::Cognito>>,
    /// Only when `USER_EVENTS_REPLAY_TOPIC_ARN` is set: the replay topic's publisher.
    replayer: Option<Arc<crate::events::Replayer>>,
}

/// Every capability: what the integration tests drive the use cases with.
pub type FullApp = App<HmacKey, Notifier, PasswordHasher, Signer, TokenVerifier, Federation>;

impl App {
    /// The base every use case has: configuration, clock and the DynamoDB client.
    pub fn new(config: Config, sdk: &SdkConfig, clock: Arc<dyn Clock>) -> Self {
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name);
        let cognito = config
            .cognito
            .clone()
            .map(|pool| Arc::new(crate::migration::Cognito::new(sdk, pool)));
        let replayer = config
            .replay_topic_arn
            .as_deref()
            .map(|topic| Arc::new(crate::events::Replayer::new(sdk, topic)));
        Self {
            cognito,
            replayer,
            config: Arc::new(config),
            clock,
            store,
            key: Without,
            delivery: Without,
            hasher: Without,
            signer: Without,
            verifier: Without,
            federation: Without,
        }
    }
}

impl<K, D, H, S, V, F> App<K, D, H, S, V, F> {
    fn with<K2, D2, H2, S2, V2>(
        self,
        parts: impl FnOnce(K, D, H, S, V) -> (K2, D2, H2, S2, V2),
    ) -> App<K2, D2, H2, S2, V2, F> {
        let (key, delivery, hasher, signer, verifier) = parts(
            self.key,
            self.delivery,
            self.hasher,
            self.signer,
            self.verifier,
        );
        App {
            config: self.config,
            clock: self.clock,
            store: self.store,
            key,
            delivery,
            hasher,
            signer,
            verifier,
            federation: self.federation,
            cognito: self.cognito,
            replayer: self.replayer,
        }
    }

    /// The other providers: an HTTP client and their secrets (possibly still on their way,
    /// see [`Startup::oauth_secrets`]).
    pub fn with_federation(self, federation: Federation) -> App<K, D, H, S, V, Federation> {
        App {
            config: self.config,
            clock: self.clock,
            store: self.store,
            key: self.key,
            delivery: self.delivery,
            hasher: self.hasher,
            signer: self.signer,
            verifier: self.verifier,
            federation,
            cognito: self.cognito,
            replayer: self.replayer,
        }
    }

    /// The same capabilities on another table client (tests record its calls).
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }

    /// The HMAC key, from the HMAC secret ([`Startup::hmac_key`]), possibly still on its way.
    pub fn with_hmac_key(self, key: Deferred<Arc<[u8]>>) -> App<HmacKey, D, H, S, V, F> {
        let key = HmacKey(key);
        self.with(|_, d, h, s, v| (key, d, h, s, v))
    }

    /// SES v2 and SNS clients for code delivery.
    pub fn with_delivery(self, sdk: &SdkConfig) -> App<K, Notifier, H, S, V, F> {
        let notifier = Notifier::new(
            aws_sdk_sesv2::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            &self.config,
        );
        self.with_notifier(notifier)
    }

    /// Delivery through a notifier built elsewhere (tests point one at a dead endpoint).
    pub fn with_notifier(self, notifier: Notifier) -> App<K, Notifier, H, S, V, F> {
        self.with(|k, _, h, s, v| (k, notifier, h, s, v))
    }

    pub fn with_hasher(self) -> Result<App<K, D, PasswordHasher, S, V, F>, StartupError> {
        let hasher = PasswordHasher::new().map_err(|e| StartupError::Config(e.to_string()))?;
        Ok(self.with(|k, d, _, s, v| (k, d, hasher, s, v)))
    }

    /// The signer for the key `JWT_SIGNING_KID` names, from the signing keys (possibly still
    /// on their way, see [`Startup::signing_keys`]).
    pub fn with_signer(self, keys: Deferred<Arc<SigningKeys>>) -> App<K, D, H, Signer, V, F> {
        let config = Arc::clone(&self.config);
        // The signer is made from the keys as soon as they are in, once per cold start.
        let signer = Signer(Deferred::spawn("the signing key", async move {
            let keys = keys
                .get()
                .await
                .map_err(|e| StartupError::Secret(e.to_string()))?;
            signer_for(&config, &keys).map(Arc::new)
        }));
        self.with(|k, d, h, _, v| (k, d, h, signer, v))
    }

    /// The verifier for the public keys of `JWT_PUBLIC_JWKS`: no secret needed.
    pub fn with_verifier(self) -> Result<App<K, D, H, S, TokenVerifier, F>, StartupError> {
        let config = &self.config;
        let jwks = config
            .public_jwks
            .as_deref()
            .ok_or_else(|| StartupError::Config("JWT_PUBLIC_JWKS is not set".to_owned()))?;
        let keys = crate::ops::discovery::public_key_set(jwks)?;
        let verifier = TokenVerifier::new(&keys, &config.issuer, &config.audience)
            .map_err(StartupError::Config)?;
        Ok(self.with(|k, d, h, s, _| (k, d, h, s, verifier)))
    }
}

impl<K, D, H, S, V, F> Base for App<K, D, H, S, V, F>
where
    K: Send + Sync + 'static,
    D: Send + Sync + 'static,
    H: Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
    F: Send + Sync + 'static,
{
    fn config(&self) -> &Config {
        &self.config
    }

    fn store(&self) -> &Store {
        &self.store
    }

    fn cognito(&self) -> Option<&crate::migration::Cognito> {
        self.cognito.as_deref()
    }

    fn replayer(&self) -> Option<&crate::events::Replayer> {
        self.replayer.as_deref()
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

macro_rules! capability {
    ($trait:ident :: $method:ident -> $ty:ty, $field:ident, <$($p:ident),*> $app:ty) => {
        impl<$($p: Send + Sync + 'static),*> $trait for $app {
            fn $method(&self) -> &$ty {
                &self.$field
            }
        }
    };
}

capability!(Delivers::notifier -> Notifier, delivery, <K, H, S, V, F> App<K, Notifier, H, S, V, F>);
capability!(Hashes::hasher -> PasswordHasher, hasher, <K, D, S, V, F> App<K, D, PasswordHasher, S, V, F>);
capability!(Verifies::verifier -> TokenVerifier, verifier, <K, D, H, S, F> App<K, D, H, S, TokenVerifier, F>);
capability!(Federates::federation -> Federation, federation, <K, D, H, S, V> App<K, D, H, S, V, Federation>);

impl<D, H, S, V, F> Keyed for App<HmacKey, D, H, S, V, F>
where
    D: Send + Sync + 'static,
    H: Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
    F: Send + Sync + 'static,
{
    async fn hmac_key(&self) -> Result<Arc<[u8]>, AuthError> {
        self.key.0.get().await
    }
}

impl<K, D, H, V, F> Issues for App<K, D, H, Signer, V, F>
where
    K: Send + Sync + 'static,
    D: Send + Sync + 'static,
    H: Send + Sync + 'static,
    V: Send + Sync + 'static,
    F: Send + Sync + 'static,
{
    async fn signer(&self) -> Result<Arc<TokenSigner>, AuthError> {
        self.signer.0.get().await
    }
}

/// The signer for the key `JWT_SIGNING_KID` names among `keys`.
fn signer_for(config: &Config, keys: &SigningKeys) -> Result<TokenSigner, StartupError> {
    let key = keys.get(&config.signing_kid).ok_or_else(|| {
        StartupError::Config(format!(
            "JWT_SIGNING_KID {} names no key of the signing secret",
            config.signing_kid
        ))
    })?;
    Ok(TokenSigner::new(
        &config.signing_kid,
        key.clone(),
        &config.issuer,
        &config.audience,
        config.access_token_ttl_secs,
    ))
}

/// What a function's `main` starts from: logging, the configuration and the AWS SDK
/// configuration, read once per cold start. A secret is fetched only when asked for, and
/// then in the background.
pub struct Startup {
    pub config: Config,
    pub sdk: SdkConfig,
}

impl Startup {
    pub async fn from_env() -> Result<Self, StartupError> {
        crate::telemetry::init();
        let config = Config::from_env()?;
        Ok(Self {
            config,
            sdk: load_sdk_config().await,
        })
    }

    /// The HMAC key: one Secrets Manager call, to the HMAC secret only, started now and
    /// awaited only where a request needs the key.
    pub fn hmac_key(&self) -> Deferred<Arc<[u8]>> {
        let sdk = self.sdk.clone();
        Deferred::spawn("the HMAC key", async move {
            secrets::load_hmac_key(&sdk).await.map(Arc::from)
        })
    }

    /// The signing keys: one Secrets Manager call, to the signing secret only, started now
    /// and awaited only where a token is signed.
    pub fn signing_keys(&self) -> Deferred<Arc<SigningKeys>> {
        let sdk = self.sdk.clone();
        Deferred::spawn("the signing keys", async move {
            secrets::load_signing_keys(&sdk).await.map(Arc::new)
        })
    }

    /// The other providers' secrets: one Secrets Manager call, to the OAuth secret only
    /// (`AUTH_OAUTH_SECRET_ID`), started now and awaited where a provider is called.
    pub fn oauth_secrets(&self) -> Deferred<Arc<ProviderSecrets>> {
        if self.config.providers.list.is_empty() {
            // No provider is configured: there is no secret to read.
            return Deferred::ready(Arc::new(ProviderSecrets::new()));
        }
        let sdk = self.sdk.clone();
        Deferred::spawn("the providers' secrets", async move {
            secrets::load_oauth_secrets(&sdk).await.map(Arc::new)
        })
    }

    /// The base capabilities on the system clock.
    pub fn app(&self) -> App {
        App::new(self.config.clone(), &self.sdk, Arc::new(SystemClock))
    }
}
