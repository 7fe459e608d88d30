//! One module per use case. Each takes the parsed request and the capabilities it names
//! ([`Base`], [`Keyed`], [`Delivers`], [`Hashes`], [`Issues`], [`Verifies`]), and returns a
//! response value or an [`AuthError`].

pub mod account;
pub mod admin;
pub mod audit;
pub mod bearer;
pub mod budgets;
mod codes;
pub mod confirm;
pub mod discovery;
pub mod federation;
pub mod import;
mod limits;
pub mod login;
mod migrate;
mod notices;
pub mod passkeys;
pub mod password;
pub mod register;
pub mod resend;
pub mod session;
pub mod totp;
mod verify;

use crate::AuthError;
pub use crate::app::{Base, Delivers, Federates, Hashes, Issues, Keyed, Verifies};
use crate::store::{ClaimItem, UserItem, UserStatus, keys};

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

/// The user id read when no claim names one.
const NO_USER: &str = "00000000-0000-0000-0000-000000000000";

/// How many times an operation re-reads and re-decides after losing a race.
pub(crate) const MAX_ROUNDS: usize = 6;

/// `account_disabled` for an account an operator disabled: asked once a sign-in's first
/// proof is right (so the answer tells nothing to someone without it), and again by every
/// transaction that starts or continues a session (`store::generation_is`), which a disable
/// committed meanwhile fails.
pub(crate) fn refuse_disabled(user: &crate::store::UserItem) -> Result<(), AuthError> {
    if user.is_disabled() {
        return Err(disabled(user));
    }
    Ok(())
}

/// The answer to a disabled account's sign-in (see [`refuse_disabled`]).
pub(crate) fn disabled(user: &crate::store::UserItem) -> AuthError {
    tracing::info!(user_id = %user.user_id, "sign-in refused: the account is disabled");
    AuthError::AccountDisabled
}

/// The live, delivered account that holds an identifier, if any. Always the same two reads
/// (the claim, then a profile), whether or not an account holds the identifier, so neither
/// the calls made nor their timing tell the two apart.
async fn find_account(
    app: &impl Base,
    claim_pk: &str,
    now: i64,
) -> Result<Option<UserItem>, AuthError> {
    let claim = app
        .store()
        .get::<ClaimItem>(claim_pk, keys::CLAIM)
        .await?
        .filter(|c| c.is_live(now));
    // No account has the nil id (ids are random UUIDv4s), so this read finds nothing.
    let user_id = claim.as_ref().map_or(NO_USER, |c| c.user_id.as_str());
    let user: Option<UserItem> = app.store().get(&keys::user(user_id), keys::PROFILE).await?;
    Ok(user.filter(|u| u.is_live(now) && u.status == UserStatus::Active))
}
