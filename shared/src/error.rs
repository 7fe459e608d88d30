//! The service's error vocabulary: every failure a route can answer, by its stable `code`.
//! `crate::http::problem` is the one place that turns these into HTTP responses.

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
    #[error("the identifier is not verified; a one-time code was sent")]
    VerificationRequired {
        challenge_id: String,
        channel: crate::domain::Channel,
    },
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

impl AuthError {
    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }

    /// The stable, machine-readable `code` of the problem document.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidPhone => "invalid_phone",
            Self::PasswordMismatch => "password_mismatch",
            Self::WeakPassword => "weak_password",
            Self::RateLimited { .. } => "rate_limited",
            Self::UserExists => "user_exists",
            Self::DeliveryFailed(_) => "delivery_failed",
            Self::InvalidCode => "invalid_code",
            Self::AlreadyVerified => "already_verified",
            Self::TooManyAttempts => "too_many_attempts",
            Self::UserNotFound => "user_not_found",
            Self::InvalidCredentials => "invalid_credentials",
            Self::VerificationRequired { .. } => "verification_required",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidToken => "invalid_token",
            Self::SessionNotFound => "session_not_found",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Internal(_) => "internal_error",
        }
    }
}
