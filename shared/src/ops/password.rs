//! `POST /password/forgot`, `POST /password/reset` and `POST /password/change`.
//!
//! Forgot is enumeration-safe: the same `202 {}` whether or not an account holds the
//! identifier, the send limits and abuse budgets counted either way, and a code sent only to
//! an account's own identifier. A reset is one transaction: the code spent, the new hash
//! stored, the identifier verified (the code proves it), the account moved to its next
//! session generation (every earlier session ends, see [`session::generation_is`]), the
//! identifier's login lock cleared, and the caller's new session started.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::domain::{Identifier, Password, PhoneNumber};
use crate::ops::bearer::Caller;
use crate::ops::budgets::{self, Origin};
use crate::ops::codes::{self, PresentedCode, Purpose};
use crate::ops::limits::SendSlot;
use crate::ops::session::{NewSession, TokenPair};
use crate::ops::{Delivers, Hashes, Issues, Keyed};
use crate::ops::{MAX_ROUNDS, find_account, login, verify};
use crate::store::{TxOutcome, UserItem, keys};

/// The body: the identifier that forgot its password.
pub use crate::ops::IdentifierRequest as ForgotRequest;

/// `{}`: the answer to every well-formed forgot-password request.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub code: String,
    pub password: String,
    pub repeat_password: String,
    /// The phone an SMS code went to; absent for a link code.
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub phone: Option<String>,
    #[serde(skip)]
    pub origin: Origin,
}

redacted_debug!(ResetRequest { phone; code, password, repeat_password });

#[derive(Serialize, Deserialize)]
pub struct ResetDone {
    pub user_id: String,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

redacted_debug!(ResetDone { user_id; tokens });

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    pub current_password: String,
    pub password: String,
    pub repeat_password: String,
    #[serde(skip)]
    pub origin: Origin,
}

redacted_debug!(ChangeRequest { origin; current_password, password, repeat_password });

/// Sends a reset code to the account that holds the identifier, if any, and answers `{}`
/// either way. The send limit and the budgets are taken first, for unknown identifiers
/// too, so a 429 says nothing about whether an account exists. A send that fails is logged
/// and not reported, for the same reason; the user can ask again after the minute.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn forgot(
    app: &(impl Keyed + Delivers),
    request: ForgotRequest,
) -> Result<Accepted, AuthError> {
    let identifier = Identifier::from_pair(request.email.as_deref(), request.phone.as_deref())?;
    let claim_pk = keys::identifier(identifier.kind(), identifier.normalized());
    let mut budget_taken = false;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let slot = SendSlot::take(app.store(), app.config(), &claim_pk, now).await?;
        if !budget_taken {
            budgets::take_send(app, &request.origin, identifier.kind().channel(), now).await?;
            budget_taken = true;
        }
        let Some(user) = find_account(app, &claim_pk, now).await? else {
            // Nobody holds the identifier: nothing is sent, but the send is counted.
            match app.store().transact(vec![slot.write(app.store())?]).await? {
                TxOutcome::Committed => return Ok(Accepted {}),
                TxOutcome::Cancelled(_) => continue,
            }
        };
        // The code goes where the account's codes go: the address as registered.
        let recipient = verify::stored_identifier(&user)?;
        let issued = codes::issue(app, &recipient, &user.user_id, Purpose::Reset, now)?;
        let items = vec![
            slot.write(app.store())?,
            // The newest reset code is the only one that works.
            app.store().reset_code_issued(&user, &issued.item.pk)?,
            app.store().put(&issued.item, None)?,
        ];
        match app.store().transact(items).await? {
            TxOutcome::Committed => {}
            TxOutcome::Cancelled(_) => continue,
        }
        tracing::Span::current().record("user_id", user.user_id.as_str());
        match app.notifier().send(&issued.message).await {
            Ok(()) => tracing::info!("password reset code sent"),
            Err(err) => tracing::warn!(error = %err, "password reset code not delivered"),
        }
        return Ok(Accepted {});
    }
    Err(AuthError::internal(
        "forgot-password kept conflicting with concurrent writes",
    ))
}

/// Sets a new password with a reset code, and starts a session in the account's new
/// session generation. The new password is checked before the code is touched, so a
/// weak or mismatched one neither spends the code nor takes one of its tries.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn reset(
    app: &(impl Keyed + Hashes + Issues),
    request: ResetRequest,
) -> Result<ResetDone, AuthError> {
    let phone = request
        .phone
        .as_deref()
        .map(PhoneNumber::parse)
        .transpose()?;
    let password = Password::parse_new(request.password, &request.repeat_password)?;
    let presented = PresentedCode::new(app, &request.code, phone.as_ref())?;
    // One try per request: a retry below re-reads the code, it takes no other try.
    let mut code = presented.try_once(app, Purpose::Reset).await?;
    let hash = app.hasher().hash(&password).await?;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let Some(user) = app
            .store()
            .get::<UserItem>(&keys::user(&code.user_id), keys::PROFILE)
            .await?
        else {
            return Err(AuthError::InvalidCode);
        };
        let current = user.reset_code_pk.as_deref() == Some(presented.pk.as_str());
        if !current || !user.is_live(now) {
            return Err(AuthError::InvalidCode);
        }
        tracing::Span::current().record("user_id", user.user_id.as_str());
        let generation = user.session_generation + 1;
        let session = NewSession::new(app, &user.user_id, generation, &request.origin, now)?;

        let mut items = vec![
            app.store().code_spent(&code, now)?,
            app.store()
                .password_reset(&user, &presented.pk, &hash, now)?,
            app.store().login_gate_forgotten(&login::gate_of(&user)?)?,
        ];
        if !user.verified {
            items.extend(verify::verified_elsewhere(app, &user, now)?);
        }
        items.extend(session.writes(app, now)?);
        match app.store().transact(items).await? {
            TxOutcome::Committed => {
                tracing::info!("password reset; every earlier session ended");
                return Ok(ResetDone {
                    user_id: user.user_id,
                    tokens: session.pair(app, now)?,
                });
            }
            // Spent, replaced or the account changed meanwhile: look again.
            TxOutcome::Cancelled(_) => code = verify::still_unspent(app, &code, now).await?,
        }
    }
    Err(AuthError::InvalidCode)
}

/// Replaces the caller's password after checking the current one (a wrong one counts
/// toward the identifier's login lock, as at sign-in), ends every session of the account,
/// the calling one included, and answers a new session for the caller.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn change(
    app: &(impl Hashes + Issues),
    caller: &Caller,
    request: ChangeRequest,
) -> Result<TokenPair, AuthError> {
    let password = Password::parse_new(request.password, &request.repeat_password)?;
    let current = Password::for_login(request.current_password);
    let user = &caller.user;
    login::check_password(app, user, &current).await?;
    let hash = app.hasher().hash(&password).await?;

    let now = app.now();
    let generation = user.session_generation + 1;
    let session = NewSession::new(app, &user.user_id, generation, &request.origin, now)?;
    let mut items = vec![app.store().password_changed(user, &hash)?];
    items.extend(session.writes(app, now)?);
    match app.store().transact(items).await? {
        TxOutcome::Committed => {
            tracing::info!("password changed; every earlier session ended");
            session.pair(app, now)
        }
        // A reset, another change or a sign-out-everywhere got in first: this session is over.
        TxOutcome::Cancelled(_) => Err(AuthError::InvalidToken),
    }
}
