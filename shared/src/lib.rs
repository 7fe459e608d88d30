//! The auth service's library: every Lambda under `functions/` is a thin adapter over it.
//!
//! - [`domain`]: parsed request values (email, phone, password, username, codes).
//! - [`ops`]: one module per use case (register, confirm, resend, login, session, ...).
//! - [`app`]: the capabilities a use case names, and how each function builds only those.
//! - [`store`]: the DynamoDB single-table layout, its keys, and its rules as named methods.
//! - [`notify`]: code delivery by SES v2 (email) and SNS (SMS).
//! - [`crypto`]: password hashing and code generation.
//! - [`http`]: request parsing and the one mapping from errors to HTTP responses.
//! - [`config`]: the environment, read once at cold start.

/// `Debug` for a request or response type that holds a raw token or code: the type and its
/// harmless fields print, the secret ones print as `[redacted]`, so a stray `{:?}` in a log
/// line or a test failure leaks nothing.
macro_rules! redacted_debug {
    ($ty:ident { $($shown:ident),* ; $($hidden:ident),* }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($hidden), &"[redacted]"))*
                    .finish()
            }
        }
    };
}

pub mod app;
pub mod aws;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod events;
pub mod federation;
pub mod http;
pub mod migration;
pub mod notify;
pub mod ops;
pub mod provisioning;
pub mod secrets;
pub mod store;
pub mod telemetry;

pub use app::{App, FullApp, Startup};
pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use error::{AuthError, StartupError};
