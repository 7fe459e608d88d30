//! What confirming a registration code and signing in with an OTP share: counting wrong
//! codes, and the writes that make an account verified.

use crate::AuthError;
use crate::domain::IdentifierKind;
use crate::events;
use crate::ops::budgets::{self, Origin};
use crate::ops::{Base, Keyed};
use subtle::ConstantTimeEq;

use crate::store::{CodeItem, CodeTry, UserItem, VerifiedBy, Write, keys};

/// How a code can be guessed, and so whether its tries are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guessable {
    /// A 6-digit code: every try is counted before it is compared, and the last allowed one
    /// burns the code.
    Counted,
    /// A 256-bit link code, found by its digest: a wrong one names no item, so there is
    /// nothing to count, and duplicates of the right one (a double click) lose a race, not
    /// tries.
    No,
}

/// Takes one try at the code `pk`/`sk` and only then compares `presented` (its digest) with
/// it: for a 6-digit code the try is counted first, so a burst of guesses gets no more than
/// the allowed tries. Unknown, used or expired codes are `invalid_code`, a burned one is
/// `too_many_attempts`, a wrong one has spent its try and answers `invalid_code`; the right
/// one comes back, to be spent with [`crate::store::Store::code_spent`].
///
/// A 6-digit code's try is also taken, first, from the caller's hourly budget of failures
/// (given back when the code is right), and then from the daily window of its identifier.
pub async fn try_code(
    app: &impl Keyed,
    pk: &str,
    sk: &str,
    presented: &str,
    guessable: Guessable,
    origin: &Origin,
    now: i64,
) -> Result<CodeItem, AuthError> {
    let (code, failure) = match guessable {
        Guessable::Counted => {
            let failure = budgets::take_failure_try(app, origin, now).await?;
            match app
                .store()
                .take_code_try(pk, sk, app.config().max_code_attempts, now)
                .await?
            {
                CodeTry::Taken(code) => {
                    take_identifier_guess(app, &code, now).await?;
                    (*code, Some(failure))
                }
                CodeTry::Burned => return Err(AuthError::TooManyAttempts),
                CodeTry::Gone => return Err(AuthError::InvalidCode),
            }
        }
        Guessable::No => match app.store().get::<CodeItem>(pk, sk).await? {
            Some(code) if !code.used && code.expires_at > now => (code, None),
            _ => return Err(AuthError::InvalidCode),
        },
    };
    if bool::from(code.digest.as_bytes().ct_eq(presented.as_bytes())) {
        if let Some(failure) = failure {
            failure.succeeded(app).await?;
        }
        Ok(code)
    } else {
        Err(AuthError::InvalidCode)
    }
}

/// The day's window of 6-digit code tries of the identifier `code` went to: a try at any of
/// its codes (registration, sign-in, reset, identifier change) takes one, before it is
/// compared, and a new code does not start a new window, so re-issued codes give a guesser no
/// fresh tries. Past the window's tries every code of that identifier answers
/// `too_many_attempts` (and no new one is sent, see `SendSlot`).
async fn take_identifier_guess(
    app: &impl Base,
    code: &CodeItem,
    now: i64,
) -> Result<(), AuthError> {
    let Some(identifier_key) = &code.identifier_key else {
        return Ok(());
    };
    let config = app.config();
    let spent = app
        .store()
        .take_window_try(
            &keys::code_guesses(identifier_key),
            config.code_tries_per_identifier_per_day,
            GUESS_WINDOW_SECS,
            now,
        )
        .await?;
    if spent.is_some() {
        tracing::warn!(
            budget = "code_tries_per_identifier",
            "abuse budget exhausted: 6-digit codes refused"
        );
        return Err(AuthError::TooManyAttempts);
    }
    Ok(())
}

/// The window of an identifier's 6-digit code tries.
pub const GUESS_WINDOW_SECS: i64 = 24 * 3600;

/// After a spend was cancelled: the code as stored now, if it is still the one whose try was
/// taken and still unused and unexpired (the spend may be retried without another try);
/// otherwise someone else spent or replaced it, a lost race: `invalid_code`.
pub async fn still_unspent(
    app: &impl Base,
    taken: &CodeItem,
    now: i64,
) -> Result<CodeItem, AuthError> {
    match app.store().get::<CodeItem>(&taken.pk, &taken.sk).await? {
        Some(code) if !code.used && code.digest == taken.digest && code.expires_at > now => {
            Ok(code)
        }
        _ => Err(AuthError::InvalidCode),
    }
}

/// The identifier kind an account was registered with.
pub fn kind_of(user: &UserItem) -> Result<IdentifierKind, AuthError> {
    IdentifierKind::parse(&user.identifier_type)
        .ok_or_else(|| AuthError::internal("user item with an unknown identifier type"))
}

/// The identifier an account was registered with, as registered (codes go there).
pub fn stored_identifier(user: &UserItem) -> Result<crate::domain::Identifier, AuthError> {
    let address = Some(user.address.as_str());
    match kind_of(user)? {
        IdentifierKind::Email => crate::domain::Identifier::from_pair(address, None),
        IdentifierKind::Phone => crate::domain::Identifier::from_pair(None, address),
    }
}

/// The writes that verify `user`: the account and its claims stop expiring, and a
/// `user.verified` event is recorded, if what `by` requires still holds of the account.
pub fn verify_account(
    app: &impl Base,
    user: &UserItem,
    by: VerifiedBy<'_>,
    now: i64,
) -> Result<Vec<Write>, AuthError> {
    let mut items = vec![app.store().account_verified(user, by, now)?];
    items.extend(verified_elsewhere(app, user, now)?);
    Ok(items)
}

/// What verifying `user` writes beside its profile (whose update the caller makes when it
/// changes more than the verification): the claims stop expiring, and `user.verified` goes
/// into the outbox.
pub fn verified_elsewhere(
    app: &impl Base,
    user: &UserItem,
    now: i64,
) -> Result<Vec<Write>, AuthError> {
    let kind = kind_of(user)?;
    // Verified accounts keep their identifier and username for good.
    let mut claims = vec![keys::identifier(kind, &user.identifier)];
    claims.extend(
        user.username
            .as_deref()
            .map(|u| keys::username(&u.to_ascii_lowercase())),
    );
    let mut items = Vec::with_capacity(claims.len() + 1);
    for claim in &claims {
        items.push(app.store().claim_kept(claim, &user.user_id)?);
    }
    items.push(events::outbox_put(
        app.store(),
        events::USER_VERIFIED,
        user,
        now,
    )?);
    Ok(items)
}
