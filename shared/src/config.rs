//! Configuration from the environment, read once at cold start; a missing value fails the
//! init instead of the first request.

use std::sync::Arc;

use webauthn_rs::prelude::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::domain::PhoneCountries;
use crate::error::StartupError;

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    /// The SES-verified address codes are sent from.
    pub sender_email: String,
    /// Where an email confirmation link points; the literal `{code}` is replaced by the code.
    pub confirm_url: String,
    /// Where a password-reset link points; the literal `{code}` is replaced by the code.
    pub reset_url: String,
    /// Where the link that confirms a new email address points (`{code}` as above).
    pub identifier_change_url: String,
    /// `iss` of access tokens: the API's base URL, no trailing slash.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Which configured key signs; every configured key is published.
    pub signing_kid: String,
    /// `JWT_PUBLIC_JWKS`: the public keys bearer routes verify access tokens with (the
    /// JWKS's keys); only the functions that serve bearer routes need it.
    pub public_jwks: Option<String>,
    pub access_token_ttl_secs: i64,
    /// Absolute lifetime of a refresh-token family, counted from sign-in.
    pub refresh_lifetime_secs: i64,
    /// How long a rotated refresh token may be presented again (two tabs refreshing together).
    pub refresh_grace_secs: i64,
    pub login_otp_ttl_secs: i64,
    pub sms_code_ttl_secs: i64,
    pub email_code_ttl_secs: i64,
    /// How long a password-reset link works (an SMS reset code lives `sms_code_ttl_secs`).
    pub reset_link_ttl_secs: i64,
    /// How long a registration may stay between its write and its commit (a crash in between).
    pub pending_ttl_secs: i64,
    /// How long an account may stay unverified before its identifier is free again.
    pub unverified_ttl_secs: i64,
    pub max_code_attempts: u32,
    pub send_cooldown_secs: i64,
    pub sends_per_hour: usize,
    /// Abuse budget: codes sent on behalf of one source IP per hour (every channel).
    pub sends_per_ip_per_hour: u64,
    /// Circuit breaker: SMS sent per hour by the whole service; past it SMS answer 429
    /// while email goes on.
    pub sms_per_hour: u64,
    /// Tries of 6-digit codes one identifier gets in 24 hours, across all its codes.
    pub code_tries_per_identifier_per_day: u32,
    /// Failed sign-ins and wrong 6-digit codes one source address (IPv6: its /64) gets in
    /// an hour.
    pub failures_per_ip_per_hour: u64,
    /// Countries new phone numbers may come from (empty: every country).
    pub sms_countries: PhoneCountries,
    /// The passkeys' relying party: its id (`PASSKEY_RP_ID`, by default the host of
    /// `CONFIRM_URL`) and the origins whose WebAuthn responses count (`PASSKEY_ORIGINS`,
    /// comma-separated, by default the origin of `CONFIRM_URL`).
    pub relying_party: Arc<Webauthn>,
    pub passkey_rp_id: String,
    /// Other identity providers (`OAUTH_PROVIDERS`, JSON) and the frontend pages their
    /// sign-ins may return to (`OAUTH_REDIRECT_URIS`, comma-separated, matched exactly).
    pub providers: crate::federation::Providers,
    /// Lazy migration from a Cognito user pool (`COGNITO_USER_POOL_ID` and
    /// `COGNITO_CLIENT_ID`, both or neither): off unless set.
    pub cognito: Option<CognitoPool>,
    /// The services that acknowledge new users (`SUBSCRIBER_SERVICES`, comma-separated;
    /// none when unset): each one's status is in `GET /me`'s `provisioning`.
    pub subscriber_services: Vec<String>,
    /// Where `authctl events replay` publishes (`USER_EVENTS_REPLAY_TOPIC_ARN`; the admin
    /// function's only).
    pub replay_topic_arn: Option<String>,
}

/// The Cognito user pool accounts migrate from, and its app client (which must allow
/// `ADMIN_USER_PASSWORD_AUTH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoPool {
    pub user_pool_id: String,
    pub client_id: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("sender_email", &self.sender_email)
            .field("confirm_url", &self.confirm_url)
            .field("reset_url", &self.reset_url)
            .field("identifier_change_url", &self.identifier_change_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("signing_kid", &self.signing_kid)
            .field("passkey_rp_id", &self.passkey_rp_id)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, StartupError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, StartupError> {
        let required = |key: &str| {
            lookup(key)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| StartupError::Config(format!("{key} is not set")))
        };
        let number = |key: &str, default: i64| -> Result<i64, StartupError> {
            match lookup(key) {
                None => Ok(default),
                Some(v) => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StartupError::Config(format!("{key} must be a positive integer"))
                }),
            }
        };

        // The code travels in the fragment (`#code={code}`): browsers send no fragment to a
        // server, so it never reaches a web server's log or a Referer header.
        let link_template = |key: &str| {
            let url = required(key)?;
            let in_fragment = matches!(
                (url.find('#'), url.find("{code}")),
                (Some(hash), Some(code)) if hash < code
            );
            if in_fragment {
                Ok(url)
            } else {
                Err(StartupError::Config(format!(
                    "{key} must hold the literal {{code}} in its fragment, e.g. https://app.example.com/confirm#code={{code}}"
                )))
            }
        };
        let confirm_url = link_template("CONFIRM_URL")?;
        let reset_url = link_template("RESET_URL")?;
        let identifier_change_url = link_template("IDENTIFIER_CHANGE_URL")?;
        let issuer = required("ISSUER")?.trim_end_matches('/').to_owned();
        let (relying_party, passkey_rp_id) = relying_party(
            lookup("PASSKEY_RP_ID").filter(|v| !v.trim().is_empty()),
            lookup("PASSKEY_ORIGINS").filter(|v| !v.trim().is_empty()),
            &confirm_url,
        )?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            sender_email: required("SENDER_EMAIL")?,
            confirm_url,
            reset_url,
            identifier_change_url,
            issuer,
            audience: required("JWT_AUDIENCE")?,
            signing_kid: required("JWT_SIGNING_KID")?,
            public_jwks: lookup("JWT_PUBLIC_JWKS").filter(|v| !v.trim().is_empty()),
            access_token_ttl_secs: number("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)?,
            refresh_lifetime_secs: number("REFRESH_TOKEN_LIFETIME_SECONDS", 30 * 24 * 60 * 60)?,
            refresh_grace_secs: number("REFRESH_TOKEN_GRACE_SECONDS", 10)?,
            login_otp_ttl_secs: number("LOGIN_OTP_TTL_SECONDS", 10 * 60)?,
            sms_code_ttl_secs: number("SMS_CODE_TTL_SECONDS", 10 * 60)?,
            email_code_ttl_secs: number("EMAIL_CODE_TTL_SECONDS", 24 * 60 * 60)?,
            reset_link_ttl_secs: number("RESET_LINK_TTL_SECONDS", 60 * 60)?,
            pending_ttl_secs: number("PENDING_REGISTRATION_TTL_SECONDS", 15 * 60)?,
            unverified_ttl_secs: number("UNVERIFIED_ACCOUNT_TTL_SECONDS", 7 * 24 * 60 * 60)?,
            max_code_attempts: 5,
            send_cooldown_secs: 60,
            sends_per_hour: 5,
            sends_per_ip_per_hour: number("SENDS_PER_IP_PER_HOUR", 20)? as u64,
            sms_per_hour: number("SMS_PER_HOUR", 1000)? as u64,
            code_tries_per_identifier_per_day: number("CODE_TRIES_PER_IDENTIFIER_PER_DAY", 20)?
                .min(i64::from(u32::MAX)) as u32,
            failures_per_ip_per_hour: number("FAILURES_PER_IP_PER_HOUR", 100)? as u64,
            sms_countries: PhoneCountries::parse(
                &lookup("SMS_ALLOWED_COUNTRIES").unwrap_or_default(),
            )
            .map_err(|e| StartupError::Config(format!("SMS_ALLOWED_COUNTRIES: {e}")))?,
            relying_party,
            passkey_rp_id,
            providers: crate::federation::Providers::parse(
                lookup("OAUTH_PROVIDERS").as_deref(),
                lookup("OAUTH_REDIRECT_URIS").as_deref(),
            )
            .map_err(StartupError::Config)?,
            cognito: match (
                lookup("COGNITO_USER_POOL_ID").filter(|v| !v.trim().is_empty()),
                lookup("COGNITO_CLIENT_ID").filter(|v| !v.trim().is_empty()),
            ) {
                (Some(user_pool_id), Some(client_id)) => Some(CognitoPool {
                    user_pool_id,
                    client_id,
                }),
                (None, None) => None,
                _ => {
                    return Err(StartupError::Config(
                        "COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID are set together, or neither"
                            .into(),
                    ));
                }
            },
            subscriber_services: crate::provisioning::services(
                &lookup("SUBSCRIBER_SERVICES").unwrap_or_default(),
            )
            .map_err(StartupError::Config)?,
            replay_topic_arn: lookup("USER_EVENTS_REPLAY_TOPIC_ARN")
                .filter(|v| !v.trim().is_empty()),
        })
    }

    /// The timeline key a new account starts with: awaiting its acknowledgements when any
    /// service is configured to send them.
    pub fn awaiting(&self) -> Option<String> {
        (!self.subscriber_services.is_empty()).then(|| crate::provisioning::AWAITING.to_owned())
    }
}

/// How long a WebAuthn ceremony's options ask the browser to wait, and its state lives.
pub const PASSKEY_CEREMONY_SECS: u64 = 300;

/// The passkeys' relying party. Browsers refuse WebAuthn on an IP-address origin, and the
/// relying-party id must be the origins' host or a registrable suffix of it; both are
/// checked here, at cold start, not at a user's first passkey.
fn relying_party(
    rp_id: Option<String>,
    origins: Option<String>,
    confirm_url: &str,
) -> Result<(Arc<Webauthn>, String), StartupError> {
    let bad =
        |e: String| StartupError::Config(format!("passkeys (PASSKEY_RP_ID, PASSKEY_ORIGINS): {e}"));
    let web_app = Url::parse(confirm_url).map_err(|e| bad(format!("CONFIRM_URL: {e}")))?;
    let origins: Vec<Url> = match origins {
        Some(list) => list
            .split(',')
            .map(|o| Url::parse(o.trim()).map_err(|e| bad(format!("{o}: {e}"))))
            .collect::<Result<_, _>>()?,
        None => vec![
            Url::parse(&web_app.origin().ascii_serialization()).map_err(|e| bad(e.to_string()))?,
        ],
    };
    let rp_id = match rp_id {
        Some(id) => id.trim().to_owned(),
        None => web_app
            .domain()
            .ok_or_else(|| {
                bad("CONFIRM_URL's host is an IP address; serve the web app on a name (e.g. http://localhost:5173) or set PASSKEY_RP_ID".to_owned())
            })?
            .to_owned(),
    };
    let (first, rest) = origins
        .split_first()
        .ok_or_else(|| bad("no origin".to_owned()))?;
    let mut builder = WebauthnBuilder::new(&rp_id, first)
        .map_err(|e| bad(format!("{rp_id} for {first}: {e}")))?
        .rp_name(&rp_id)
        .timeout(std::time::Duration::from_secs(PASSKEY_CEREMONY_SECS));
    for origin in rest {
        let fits = origin
            .domain()
            .is_some_and(|host| host == rp_id || host.ends_with(&format!(".{rp_id}")));
        if !fits {
            return Err(bad(format!(
                "{origin} is not on {rp_id} or a subdomain of it"
            )));
        }
        builder = builder.append_allowed_origin(origin);
    }
    let relying_party = builder.build().map_err(|e| bad(e.to_string()))?;
    Ok((Arc::new(relying_party), rp_id))
}

/// A mailed link: `template` with `{code}` replaced by the code and `{email}`, if present,
/// by the address it is mailed to (form-encoded), so the page it opens can say which
/// address it is about without asking the service.
pub fn mailed_link(template: &str, code: &str, email: &str) -> String {
    let encoded = serde_urlencoded::to_string([("", email)]).unwrap_or_default();
    template
        .replace("{code}", code)
        .replace("{email}", encoded.trim_start_matches('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("TABLE_NAME", "auth"),
        ("SENDER_EMAIL", "no-reply@example.com"),
        ("CONFIRM_URL", "https://app.example.com/confirm#code={code}"),
        ("RESET_URL", "https://app.example.com/reset#code={code}"),
        (
            "IDENTIFIER_CHANGE_URL",
            "https://app.example.com/change#code={code}",
        ),
        ("ISSUER", "https://auth.example.com/"),
        ("JWT_AUDIENCE", "example-app"),
        ("JWT_SIGNING_KID", "k1"),
    ];

    #[test]
    fn reads_required_values_and_defaults() {
        let config = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(config.table_name, "auth");
        assert_eq!(config.sms_code_ttl_secs, 600);
        assert_eq!(config.email_code_ttl_secs, 86_400);
        assert_eq!(config.reset_link_ttl_secs, 3_600);
        assert_eq!(config.pending_ttl_secs, 900);
        assert_eq!(config.unverified_ttl_secs, 604_800);
        assert_eq!(
            mailed_link(&config.confirm_url, "abc", "a+b@example.com"),
            "https://app.example.com/confirm#code=abc"
        );
        assert_eq!(
            mailed_link(
                "https://app.example.com/confirm#code={code}&email={email}",
                "abc",
                "Ann Lee+x@example.com"
            ),
            "https://app.example.com/confirm#code=abc&email=Ann+Lee%2Bx%40example.com"
        );
        assert_eq!(config.issuer, "https://auth.example.com");
        assert_eq!(config.access_token_ttl_secs, 900);
        assert_eq!(config.refresh_lifetime_secs, 30 * 86_400);
        assert_eq!(config.refresh_grace_secs, 10);
        assert_eq!(config.sends_per_ip_per_hour, 20);
        assert_eq!(config.sms_per_hour, 1000);
        assert_eq!(config.code_tries_per_identifier_per_day, 20);
        assert_eq!(config.failures_per_ip_per_hour, 100);
        assert_eq!(config.sms_countries, PhoneCountries::default());
    }

    #[test]
    fn passkeys_belong_to_the_web_app_unless_configured_otherwise() {
        let config = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(config.passkey_rp_id, "app.example.com");
        let origins: Vec<String> = config
            .relying_party
            .get_allowed_origins()
            .iter()
            .map(|o| o.origin().ascii_serialization())
            .collect();
        assert_eq!(origins, ["https://app.example.com"]);

        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = BASE.to_vec();
            pairs.extend_from_slice(extra);
            Config::from_lookup(env(&pairs))
        };
        let shared = with(&[
            ("PASSKEY_RP_ID", "example.com"),
            (
                "PASSKEY_ORIGINS",
                "https://app.example.com, https://www.example.com",
            ),
        ])
        .unwrap();
        assert_eq!(shared.passkey_rp_id, "example.com");
        assert_eq!(shared.relying_party.get_allowed_origins().len(), 2);
        // An id the origins are not on, an origin off the id, an IP-address web app.
        assert!(with(&[("PASSKEY_RP_ID", "other.com")]).is_err());
        assert!(
            with(&[
                ("PASSKEY_RP_ID", "example.com"),
                (
                    "PASSKEY_ORIGINS",
                    "https://app.example.com,https://evil.com"
                ),
            ])
            .is_err()
        );
        let mut pairs: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "CONFIRM_URL")
            .collect();
        pairs.push(("CONFIRM_URL", "http://127.0.0.1:5173/confirm#code={code}"));
        assert!(Config::from_lookup(env(&pairs)).is_err());
    }

    #[test]
    fn fails_fast_on_missing_or_bad_values() {
        for drop in [
            "TABLE_NAME",
            "SENDER_EMAIL",
            "CONFIRM_URL",
            "RESET_URL",
            "IDENTIFIER_CHANGE_URL",
            "ISSUER",
            "JWT_AUDIENCE",
            "JWT_SIGNING_KID",
        ] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != drop).collect();
            assert!(Config::from_lookup(env(&pairs)).is_err(), "{drop} missing");
        }
        let mut pairs: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "CONFIRM_URL")
            .collect();
        pairs.push(("CONFIRM_URL", "https://app.example.com/confirm"));
        assert!(
            Config::from_lookup(env(&pairs)).is_err(),
            "CONFIRM_URL without {{code}}"
        );
        // A code in the path or the query would reach server logs and Referer headers.
        for outside in [
            "https://app.example.com/confirm/{code}",
            "https://app.example.com/confirm?code={code}#x",
        ] {
            let mut pairs: Vec<_> = BASE
                .iter()
                .copied()
                .filter(|(k, _)| *k != "RESET_URL")
                .collect();
            pairs.push(("RESET_URL", outside));
            assert!(Config::from_lookup(env(&pairs)).is_err(), "{outside}");
        }
        let mut pairs = BASE.to_vec();
        pairs.push(("REFRESH_TOKEN_GRACE_SECONDS", "-3"));
        assert!(Config::from_lookup(env(&pairs)).is_err(), "negative grace");
        let mut pairs = BASE.to_vec();
        pairs.push(("SMS_ALLOWED_COUNTRIES", "US,Narnia"));
        assert!(Config::from_lookup(env(&pairs)).is_err(), "unknown country");
    }
}
