//! `PATCH /registration/{code}`: a code verifies its account once; wrong SMS codes are
//! counted and the 5th burns the code. `DELETE /registration/{code}`: "I did not sign up",
//! the same code deletes the unverified account instead and frees its identifier.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::domain::{IdentifierKind, PhoneNumber};
use crate::events::DeletionReason;
use crate::ops::account;
use crate::ops::budgets::{self, Origin};
use crate::ops::codes::{PresentedCode, Purpose};
use crate::ops::session::{NewSession, SignedIn, TokenPair};
use crate::ops::{Issues, Keyed};
use crate::ops::{MAX_ROUNDS, verify};
use crate::store::{
    CodeItem, DeletedBy, Deletion, TxOutcome, UserItem, UserStatus, VerifiedBy, keys,
};

/// The body that goes with a 6-digit SMS code; a link code comes without a body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    pub phone: String,
}

#[derive(Serialize, Deserialize)]
pub struct Confirmed {
    pub user_id: String,
    /// What was verified: `"email"` or `"phone"`.
    pub verified: IdentifierKind,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

redacted_debug!(Confirmed { user_id, verified; tokens });

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn confirm(
    app: &(impl Keyed + Issues),
    raw_code: &str,
    body: Option<ConfirmBody>,
    origin: &Origin,
) -> Result<Confirmed, AuthError> {
    let (presented, mut code) = registration_code_try(app, raw_code, body, origin).await?;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let user = unverified_holder(app, &presented, &code, origin, now).await?;
        let kind = verify::kind_of(&user)?;

        // Verified, so signed in (seed 002): the first session starts in the same
        // transaction, in the account's current session generation.
        let session = NewSession::new(
            app,
            &user.user_id,
            user.session_generation,
            origin,
            SignedIn::code(kind.channel(), now),
            now,
        )?;
        let mut items = vec![app.store().code_spent(&code, now)?];
        items.extend(verify::verify_account(
            app,
            &user,
            VerifiedBy::Code {
                code_pk: &presented.pk,
                generation: user.session_generation,
            },
            now,
        )?);
        items.extend(session.writes(app, now)?);

        match app.store().transact(items).await? {
            TxOutcome::Committed => {
                tracing::Span::current().record("user_id", user.user_id.as_str());
                tracing::info!(verified = kind.as_str(), "identifier verified");
                return Ok(Confirmed {
                    user_id: user.user_id,
                    verified: kind,
                    tokens: session.pair(app, now).await?,
                });
            }
            // Someone else used or replaced the code, or changed the account, meanwhile (or
            // concurrent writes kept conflicting): look again at what is stored now.
            TxOutcome::Cancelled(_) => code = verify::still_unspent(app, &code, now).await?,
        }
    }
    Err(AuthError::InvalidCode)
}

/// The code a confirmation or a decline presents, and the request's one try at it (a retry
/// after a lost race re-reads the code, it does not take another try).
async fn registration_code_try(
    app: &impl Keyed,
    raw_code: &str,
    body: Option<ConfirmBody>,
    origin: &Origin,
) -> Result<(PresentedCode, CodeItem), AuthError> {
    let phone = body.map(|b| PhoneNumber::parse(&b.phone)).transpose()?;
    let presented = PresentedCode::new(app, raw_code, phone.as_ref()).await?;
    let code = presented.try_once(app, Purpose::Confirm, origin).await?;
    Ok((presented, code))
}

/// The account a confirmation code belongs to, if the code can still confirm it: the
/// account unverified, pointing at this code, active and unexpired. A code already used by a
/// concurrent request is a lost race (`invalid_code`); an account verified some other way
/// answers `already_verified`, which tells that the account exists and so is charged to the
/// caller's source-IP budget.
async fn unverified_holder(
    app: &impl Keyed,
    presented: &PresentedCode,
    code: &CodeItem,
    origin: &Origin,
    now: i64,
) -> Result<UserItem, AuthError> {
    let user_pk = keys::user(&code.user_id);
    let Some(user) = app.store().get::<UserItem>(&user_pk, keys::PROFILE).await? else {
        return Err(AuthError::InvalidCode);
    };
    if user.verified {
        let again = app
            .store()
            .get::<CodeItem>(&presented.pk, keys::CODE)
            .await?;
        if again.is_none_or(|c| c.used) {
            return Err(AuthError::InvalidCode);
        }
        return Err(budgets::revealing(app, origin, AuthError::AlreadyVerified).await);
    }
    let current = user.code_pk.as_deref() == Some(presented.pk.as_str());
    if !current || user.status != UserStatus::Active || !user.is_live(now) {
        return Err(AuthError::InvalidCode);
    }
    Ok(user)
}

/// "I did not sign up": the holder of a registration's confirmation code (the owner of the
/// address or phone it was sent to) deletes the unverified account at once, in one
/// transaction: the code spent, the profile and its claims deleted (the identifier and
/// username are free again), and `user.deleted` with `reason: "declined"` in the outbox, so
/// other services drop what `user.created` made them create. Wrong SMS codes count as for a
/// confirmation. A verified account is never deleted this way.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn decline(
    app: &impl Keyed,
    raw_code: &str,
    body: Option<ConfirmBody>,
    origin: &Origin,
) -> Result<(), AuthError> {
    let (presented, mut code) = registration_code_try(app, raw_code, body, origin).await?;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let user = unverified_holder(app, &presented, &code, origin, now).await?;
        tracing::Span::current().record("user_id", user.user_id.as_str());
        let claims = account::owned_claims(app.store(), &user).await?;
        let by = DeletedBy::Declined {
            code_pk: &presented.pk,
            now,
        };
        let spent = [app.store().code_spent(&code, now)?];
        let outcome = app
            .store()
            .delete_account(&user, &claims, by, DeletionReason::Declined, &spent, now)
            .await?;
        match outcome {
            Deletion::Deleted => {
                tracing::info!("registration declined; account deleted");
                return Ok(());
            }
            // Verified, replaced or spent meanwhile: look again at what is stored now.
            Deletion::AccountChanged | Deletion::Raced => {
                code = verify::still_unspent(app, &code, now).await?;
            }
        }
    }
    Err(AuthError::InvalidCode)
}
