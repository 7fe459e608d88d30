//! The service's error vocabulary: every failure a route can answer, by its stable `code`.
//! [`AuthError::answer`] is the one table of status, code and title; `crate::http` turns it
//! into responses.

use std::error::Error as StdError;

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Malformed request: bad JSON, wrong types, unknown fields, both or neither identifier.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the email address is not valid")]
    InvalidEmail,
    #[error("the phone number is not a valid E.164 number")]
    InvalidPhone,
    #[error("password and repeat_password differ")]
    PasswordMismatch,
    #[error("the password is too short, too long or too common")]
    WeakPassword,
    #[error("too many requests; retry after {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("an account with this identifier already exists")]
    UserExists,
    #[error("the code could not be delivered")]
    DeliveryFailed(#[source] BoxError),
    #[error("the code is unknown, expired or already used")]
    InvalidCode,
    #[error("the identifier is already verified")]
    AlreadyVerified,
    #[error("too many wrong attempts; request a new code")]
    TooManyAttempts,
    #[error("no account with this identifier")]
    UserNotFound,
    #[error("wrong identifier or password")]
    InvalidCredentials,
    /// An operator disabled the account: it signs in nowhere until enabled.
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("the identifier is not verified; a one-time code was sent")]
    VerificationRequired {
        challenge_id: String,
        channel: crate::domain::Channel,
    },
    /// The password was right and the account has a second factor: `POST /login/mfa` with
    /// the challenge and one of `methods` finishes the sign-in.
    #[error("a second factor is required")]
    MfaRequired {
        challenge_id: String,
        methods: Vec<&'static str>,
        /// WebAuthn request options naming the account's passkeys, when it has any.
        passkey_options: Option<serde_json::Value>,
    },
    #[error("the challenge is unknown, expired or already used")]
    InvalidChallenge,
    /// A WebAuthn response that is wrong, stale, or names no passkey of the account.
    #[error("the credential does not verify")]
    InvalidCredential,
    /// A sensitive route called with a session older than the step-up window and no password.
    #[error("sign in again, or send the password, to do this")]
    ReauthenticationRequired,
    #[error("an authenticator app is already turned on for this account")]
    TotpAlreadyEnabled,
    #[error("no authenticator app is turned on for this account")]
    TotpNotEnabled,
    #[error("the account has no passkey with this id")]
    PasskeyNotFound,
    #[error("the account has as many passkeys as it may; remove one first")]
    TooManyPasskeys,
    #[error("no provider of this name is configured")]
    ProviderNotFound,
    #[error("redirect_uri is not one of the configured frontend pages")]
    InvalidRedirectUri,
    /// A provider's callback whose `state` is unknown, used or expired: nowhere is known to
    /// be safe to send it back to.
    #[error("the sign-in's state is unknown, expired or already used")]
    InvalidState,
    #[error("the provider could not be reached; try again")]
    ProviderUnavailable,
    #[error("this provider is already linked to the account")]
    ProviderAlreadyLinked,
    #[error("this provider is not linked to the account")]
    ProviderNotLinked,
    #[error("the account would have no way left to sign in")]
    LastSignInMethod,
    #[error("the refresh token is unknown, expired or revoked")]
    InvalidGrant,
    #[error("only grant_type=refresh_token is supported")]
    UnsupportedGrantType,
    /// A bearer route's access token is missing, malformed, expired, or its session ended.
    #[error("the access token is missing, invalid or expired, or its session has ended")]
    InvalidToken,
    #[error("no such session")]
    SessionNotFound,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// How an error is answered: status, `code` and title chosen together, and the RFC 6749
/// §5.2 `error` the OAuth endpoints (`/token`, `/logout`) add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
    pub oauth_error: &'static str,
}

impl AuthError {
    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }

    /// The one table of answers.
    pub fn answer(&self) -> Answer {
        use AuthError::*;
        const REQ: &str = "invalid_request";
        let (status, code, title, oauth_error) = match self {
            InvalidRequest(_) => (400, "invalid_request", "Invalid request", REQ),
            InvalidEmail => (400, "invalid_email", "Invalid email address", REQ),
            InvalidPhone => (400, "invalid_phone", "Invalid phone number", REQ),
            PasswordMismatch => (400, "password_mismatch", "Passwords do not match", REQ),
            WeakPassword => (400, "weak_password", "Weak password", REQ),
            UserExists => (400, "user_exists", "User already exists", REQ),
            DeliveryFailed(_) => (400, "delivery_failed", "Code delivery failed", REQ),
            InvalidCode => (400, "invalid_code", "Invalid code", REQ),
            AlreadyVerified => (400, "already_verified", "Already verified", REQ),
            TooManyAttempts => (400, "too_many_attempts", "Too many attempts", REQ),
            UserNotFound => (400, "user_not_found", "User not found", REQ),
            RateLimited { .. } => (429, "rate_limited", "Too many requests", REQ),
            InvalidCredentials => (401, "invalid_credentials", "Invalid credentials", REQ),
            AccountDisabled => (403, "account_disabled", "Account disabled", "invalid_grant"),
            VerificationRequired { .. } => {
                (403, "verification_required", "Verification required", REQ)
            }
            MfaRequired { .. } => (403, "mfa_required", "Second factor required", REQ),
            InvalidChallenge => (400, "invalid_challenge", "Invalid challenge", REQ),
            InvalidCredential => (400, "invalid_credential", "Invalid credential", REQ),
            ReauthenticationRequired => (
                401,
                "reauthentication_required",
                "Reauthentication required",
                REQ,
            ),
            TotpAlreadyEnabled => (409, "totp_already_enabled", "Already enabled", REQ),
            TotpNotEnabled => (404, "totp_not_enabled", "Not enabled", REQ),
            PasskeyNotFound => (404, "passkey_not_found", "Passkey not found", REQ),
            TooManyPasskeys => (409, "too_many_passkeys", "Too many passkeys", REQ),
            ProviderNotFound => (404, "provider_not_found", "Provider not found", REQ),
            InvalidRedirectUri => (400, "invalid_redirect_uri", "Invalid redirect URI", REQ),
            InvalidState => (400, "invalid_state", "Invalid state", REQ),
            ProviderUnavailable => (502, "provider_unavailable", "Provider unavailable", REQ),
            ProviderAlreadyLinked => (409, "provider_already_linked", "Already linked", REQ),
            ProviderNotLinked => (404, "provider_not_linked", "Not linked", REQ),
            LastSignInMethod => (409, "last_sign_in_method", "Last way to sign in", REQ),
            InvalidGrant => (400, "invalid_grant", "Invalid grant", "invalid_grant"),
            UnsupportedGrantType => (
                400,
                "unsupported_grant_type",
                "Unsupported grant type",
                "unsupported_grant_type",
            ),
            InvalidToken => (401, "invalid_token", "Invalid access token", REQ),
            SessionNotFound => (404, "session_not_found", "Session not found", REQ),
            PayloadTooLarge { .. } => (413, "payload_too_large", "Payload too large", REQ),
            UnsupportedMediaType => (415, "unsupported_media_type", "Unsupported media type", REQ),
            Internal(_) => (500, "internal_error", "Internal error", "server_error"),
        };
        Answer {
            status,
            code,
            title,
            oauth_error,
        }
    }

    /// The stable, machine-readable `code` of the problem document.
    pub fn code(&self) -> &'static str {
        self.answer().code
    }
}

/// Names the step that failed in an internal error's cause chain, for the log line:
/// `result.step("reading a CLAIM item")?`. Client errors pass through unchanged. A step
/// names what was being done, never a value (no address, code or token).
pub trait Step<T> {
    fn step(self, step: impl Into<String>) -> Result<T, AuthError>;
}

impl<T> Step<T> for Result<T, AuthError> {
    fn step(self, step: impl Into<String>) -> Result<T, AuthError> {
        self.map_err(|err| match err {
            AuthError::Internal(source) => AuthError::Internal(Box::new(StepFailed {
                step: step.into(),
                source,
            })),
            other => other,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{step}")]
struct StepFailed {
    step: String,
    #[source]
    source: BoxError,
}

/// An error and every cause under it, `outer: inner: innermost`.
///
/// ```
/// use auth_shared::error::{Step, chain};
/// use auth_shared::AuthError;
/// let failed: Result<(), AuthError> = Err(AuthError::internal("connection refused"));
/// let err = failed.step("reading a CLAIM item").unwrap_err();
/// assert_eq!(chain(&err), "internal error: reading a CLAIM item: connection refused");
/// ```
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// Why a function could not start: configuration, the secret, a key. Reported once, at cold
/// start, by the runtime (the init fails and Lambda retries it); never an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("the auth secret: {0}")]
    Secret(String),
    #[error("fetching the auth secret from Secrets Manager")]
    SecretFetch(#[source] BoxError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_names_the_failed_step_and_its_causes() {
        let failed: Result<(), AuthError> = Err(AuthError::internal("connection refused"));
        let err = failed.step("reading a CLAIM item").unwrap_err();
        assert_eq!(
            chain(&err),
            "internal error: reading a CLAIM item: connection refused"
        );
        assert_eq!(err.answer().status, 500);
        // A client error is not an internal one and is answered as it is.
        let client: Result<(), AuthError> = Err(AuthError::InvalidCode);
        assert_eq!(
            client.step("spending the code").unwrap_err().code(),
            "invalid_code"
        );
    }
}
