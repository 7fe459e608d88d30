//! The capabilities a use case is given, and how a function's `main` builds exactly the ones
//! it uses, once per cold start.
//!
//! Every use case in [`crate::ops`] names what it needs by trait ([`Base`], [`Keyed`],
//! [`Delivers`], [`Hashes`], [`Issues`], [`Verifies`]); [`App`] holds a capability only once
//! its `with_*` builder has run, and implements the matching trait only then. A function that
//! never sends (logout, token) therefore builds no SES or SNS client, and its binary does not
//! even link the code that would; one that issues no token loads no signing key; one that
//! needs neither key nor signer never fetches the secret.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::aws::load_sdk_config;
use crate::crypto::{PasswordHasher, TokenSigner, TokenVerifier};
use crate::error::StartupError;
use crate::notify::Notifier;
use crate::secrets::{self, SigningKeys};
use crate::store::Store;
use crate::{Clock, Config, SystemClock};

/// What every use case has: the configuration, the clock and the table.
pub trait Base: Send + Sync + 'static {
    fn config(&self) -> &Config;
    fn store(&self) -> &Store;
    /// Whole seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Milliseconds since the Unix epoch (locks, the refresh grace window).
    fn now_ms(&self) -> i64;
}

/// The service's HMAC key: code digests, IP budget keys, refresh-token children.
pub trait Keyed: Base {
    fn hmac_key(&self) -> &[u8];
}

/// Code delivery: email through SES v2, SMS through SNS.
pub trait Delivers: Base {
    fn notifier(&self) -> &Notifier;
}

/// argon2id hashing and verification.
pub trait Hashes: Base {
    fn hasher(&self) -> &PasswordHasher;
}

/// Signs access tokens (the private key `JWT_SIGNING_KID` names).
pub trait Issues: Base {
    fn signer(&self) -> &TokenSigner;
}

/// Checks the access tokens of the bearer routes (the public keys of `JWT_PUBLIC_JWKS`).
pub trait Verifies: Base {
    fn verifier(&self) -> &TokenVerifier;
}

/// A capability slot not filled: the function was not given it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Without;

/// The HMAC key, from the auth secret.
#[derive(Clone)]
pub struct HmacKey(Arc<[u8]>);

/// The capabilities of one function: the base, then each `with_*` one it was built with.
pub struct App<K = Without, D = Without, H = Without, S = Without, V = Without> {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    store: Store,
    key: K,
    delivery: D,
    hasher: H,
    signer: S,
    verifier: V,
}

/// Every capability: what the integration tests drive the use cases with.
pub type FullApp = App<HmacKey, Notifier, PasswordHasher, TokenSigner, TokenVerifier>;

impl App {
    /// The base every use case has: configuration, clock and the DynamoDB client.
    pub fn new(config: Config, sdk: &SdkConfig, clock: Arc<dyn Clock>) -> Self {
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name);
        Self {
            config: Arc::new(config),
            clock,
            store,
            key: Without,
            delivery: Without,
            hasher: Without,
            signer: Without,
            verifier: Without,
        }
    }
}

impl<K, D, H, S, V> App<K, D, H, S, V> {
    fn with<K2, D2, H2, S2, V2>(
        self,
        parts: impl FnOnce(K, D, H, S, V) -> (K2, D2, H2, S2, V2),
    ) -> App<K2, D2, H2, S2, V2> {
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
        }
    }

    /// The same capabilities on another table client (tests record its calls).
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }

    /// The HMAC key, from the HMAC secret ([`Startup::hmac_key`]).
    pub fn with_hmac_key(self, key: &[u8]) -> App<HmacKey, D, H, S, V> {
        let key = HmacKey(key.into());
        self.with(|_, d, h, s, v| (key, d, h, s, v))
    }

    /// SES v2 and SNS clients for code delivery.
    pub fn with_delivery(self, sdk: &SdkConfig) -> App<K, Notifier, H, S, V> {
        let notifier = Notifier::new(
            aws_sdk_sesv2::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            &self.config,
        );
        self.with_notifier(notifier)
    }

    /// Delivery through a notifier built elsewhere (tests point one at a dead endpoint).
    pub fn with_notifier(self, notifier: Notifier) -> App<K, Notifier, H, S, V> {
        self.with(|k, _, h, s, v| (k, notifier, h, s, v))
    }

    pub fn with_hasher(self) -> Result<App<K, D, PasswordHasher, S, V>, StartupError> {
        let hasher = PasswordHasher::new().map_err(|e| StartupError::Config(e.to_string()))?;
        Ok(self.with(|k, d, _, s, v| (k, d, hasher, s, v)))
    }

    /// The signer for the key `JWT_SIGNING_KID` names, parsed once.
    pub fn with_signer(
        self,
        keys: &SigningKeys,
    ) -> Result<App<K, D, H, TokenSigner, V>, StartupError> {
        let config = &self.config;
        let key = keys.get(&config.signing_kid).ok_or_else(|| {
            StartupError::Config(format!(
                "JWT_SIGNING_KID {} names no key of the signing secret",
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
        Ok(self.with(|k, d, h, _, v| (k, d, h, signer, v)))
    }

    /// The verifier for the public keys of `JWT_PUBLIC_JWKS`: no secret needed.
    pub fn with_verifier(self) -> Result<App<K, D, H, S, TokenVerifier>, StartupError> {
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

impl<K, D, H, S, V> Base for App<K, D, H, S, V>
where
    K: Send + Sync + 'static,
    D: Send + Sync + 'static,
    H: Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn config(&self) -> &Config {
        &self.config
    }

    fn store(&self) -> &Store {
        &self.store
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

capability!(Delivers::notifier -> Notifier, delivery, <K, H, S, V> App<K, Notifier, H, S, V>);
capability!(Hashes::hasher -> PasswordHasher, hasher, <K, D, S, V> App<K, D, PasswordHasher, S, V>);
capability!(Issues::signer -> TokenSigner, signer, <K, D, H, V> App<K, D, H, TokenSigner, V>);
capability!(Verifies::verifier -> TokenVerifier, verifier, <K, D, H, S> App<K, D, H, S, TokenVerifier>);

impl<D, H, S, V> Keyed for App<HmacKey, D, H, S, V>
where
    D: Send + Sync + 'static,
    H: Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn hmac_key(&self) -> &[u8] {
        &self.key.0
    }
}

/// What a function's `main` starts from: logging, the configuration and the AWS SDK
/// configuration, read once per cold start. The secret is fetched only when asked for.
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

    /// The HMAC key: one Secrets Manager call, to the HMAC secret only.
    pub async fn hmac_key(&self) -> Result<Vec<u8>, StartupError> {
        secrets::load_hmac_key(&self.sdk).await
    }

    /// The signing keys: one Secrets Manager call, to the signing secret only.
    pub async fn signing_keys(&self) -> Result<SigningKeys, StartupError> {
        secrets::load_signing_keys(&self.sdk).await
    }

    /// Both keys, for a function that checks codes and issues tokens: the two calls at once.
    pub async fn keys(&self) -> Result<(Vec<u8>, SigningKeys), StartupError> {
        tokio::try_join!(self.hmac_key(), self.signing_keys())
    }

    /// The base capabilities on the system clock.
    pub fn app(&self) -> App {
        App::new(self.config.clone(), &self.sdk, Arc::new(SystemClock))
    }
}
