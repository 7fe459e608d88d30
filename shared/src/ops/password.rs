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
use crate::events;
use crate::notify::Notice;
use crate::ops::bearer::Caller;
use crate::ops::budgets::{self, Origin};
use crate::ops::codes::{self, PresentedCode, Purpose};
use crate::ops::limits::SendSlot;
use crate::ops::session::{NewSession, SignedIn, TokenPair};
use crate::ops::{Delivers, Hashes, Issues, Keyed};
use crate::ops::{MAX_ROUNDS, audit, find_account, login, notices, verify};
use crate::store::{Audit, ForgotItem, TxOutcome, UserItem, keys};

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

/// Records a request for a reset code and answers `{}`, with the same writes whether or not
/// an account holds the identifier, so neither the answer, its timing nor a 429 tells which.
/// The send limit and the source-IP budget are taken first, for unknown identifiers too.
/// The code itself is sent by [`send_reset`], from the table's stream, outside the request.
#[tracing::instrument(skip_all)]
pub async fn forgot(app: &impl Keyed, request: ForgotRequest) -> Result<Accepted, AuthError> {
    request_reset(app, request).await.map(|_| Accepted {})
}

/// [`forgot`]'s work: the request recorded, for [`send_reset`] to serve.
pub async fn request_reset(
    app: &impl Keyed,
    request: ForgotRequest,
) -> Result<ForgotItem, AuthError> {
    let identifier = Identifier::from_pair(request.email.as_deref(), request.phone.as_deref())?;
    let claim_pk = keys::identifier(identifier.kind(), identifier.normalized());
    let mut budget_taken = false;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let slot = SendSlot::take(app.store(), app.config(), &claim_pk, now).await?;
        if !budget_taken {
            // The SMS budget is the sender's to take, and only for an SMS it sends.
            budgets::take_ip_send(app, &request.origin, now).await?;
            budget_taken = true;
        }
        let forgot = ForgotItem {
            pk: keys::forgot_request(&uuid::Uuid::new_v4().to_string()),
            sk: keys::REQUEST.to_owned(),
            identifier_type: identifier.kind().as_str().to_owned(),
            identifier: identifier.normalized().to_owned(),
            created_at: now,
            expires_at: now + FORGOT_REQUEST_TTL_SECS,
            handled_at: None,
        };
        let items = vec![slot.write(app.store())?, app.store().put_new(&forgot)?];
        match app.store().transact(items).await? {
            TxOutcome::Committed => return Ok(forgot),
            TxOutcome::Cancelled(_) => continue,
        }
    }
    Err(AuthError::internal(
        "forgot-password kept conflicting with concurrent writes",
    ))
}

/// How long a forgot-password request waits to be served; a later one is dropped.
const FORGOT_REQUEST_TTL_SECS: i64 = 15 * 60;

/// Serves a recorded forgot-password request: sends a reset code to the account that holds
/// the identifier, if any, at the address it registered. Nothing is sent for an identifier
/// no account holds, and the global SMS budget is charged only for an SMS that is sent. A
/// send that fails is logged (the user may ask again after the minute); a request already
/// served (a stream record delivered twice) or too old is skipped.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn send_reset(
    app: &(impl Keyed + Delivers),
    request: &ForgotItem,
) -> Result<(), AuthError> {
    let now = app.now();
    if request.handled_at.is_some() || request.expires_at <= now {
        return Ok(());
    }
    let kind = crate::domain::IdentifierKind::parse(&request.identifier_type)
        .ok_or_else(|| AuthError::internal("forgot request with an unknown identifier type"))?;
    let claim_pk = keys::identifier(kind, &request.identifier);
    let mut sms_taken = false;
    for _ in 0..MAX_ROUNDS {
        let found = match find_account(app, &claim_pk, now).await? {
            // No account here: the Cognito pool being migrated from may know the user.
            None => {
                let value = Some(request.identifier.as_str());
                let identifier = match kind {
                    crate::domain::IdentifierKind::Email => Identifier::from_pair(value, None)?,
                    crate::domain::IdentifierKind::Phone => Identifier::from_pair(None, value)?,
                };
                crate::ops::migrate::on_forgot(app, &identifier).await?
            }
            found => found,
        };
        let Some(user) = found else {
            tracing::info!("password reset asked for an identifier no account holds");
            return Ok(());
        };
        tracing::Span::current().record("user_id", user.user_id.as_str());
        // The code goes where the account's codes go: the address as registered.
        let recipient = verify::stored_identifier(&user)?;
        if !sms_taken && matches!(recipient, Identifier::Phone(_)) {
            if let Err(err) = budgets::take_sms(app, now).await {
                tracing::warn!(error = %err, "password reset code not sent: SMS budget spent");
                return Ok(());
            }
            sms_taken = true;
        }
        let issued = codes::issue(app, &recipient, &user.user_id, Purpose::Reset, now).await?;
        let items = vec![
            app.store().forgot_request_handled(request, now)?,
            // The newest reset code is the only one that works.
            app.store().reset_code_issued(&user, &issued.item.pk)?,
            app.store().put(&issued.item, None)?,
        ];
        let outcome = app.store().transact(items).await?;
        if outcome.condition_failed(0) {
            // Served already: a stream record delivered again.
            return Ok(());
        }
        if outcome != TxOutcome::Committed {
            // The account moved meanwhile (its identifier changed): look again.
            continue;
        }
        match app.notifier().send(&issued.message).await {
            Ok(()) => tracing::info!("password reset code sent"),
            Err(err) => tracing::warn!(error = %err, "password reset code not delivered"),
        }
        return Ok(());
    }
    Err(AuthError::internal(
        "password reset kept conflicting with concurrent writes",
    ))
}

/// Sets a new password with a reset code, and starts a session in the account's new
/// session generation. The new password is checked before the code is touched, so a
/// weak or mismatched one neither spends the code nor takes one of its tries.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn reset(
    app: &(impl Keyed + Hashes + Issues + Delivers),
    request: ResetRequest,
) -> Result<ResetDone, AuthError> {
    let phone = request
        .phone
        .as_deref()
        .map(PhoneNumber::parse)
        .transpose()?;
    let password = Password::parse_new(request.password, &request.repeat_password)?;
    let presented = PresentedCode::new(app, &request.code, phone.as_ref()).await?;
    // One try per request: a retry below re-reads the code, it takes no other try.
    let mut code = presented
        .try_once(app, Purpose::Reset, &request.origin)
        .await?;
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
        crate::ops::refuse_disabled(&user)?;
        let generation = user.session_generation + 1;
        // The code proved the identifier; the new password was only chosen.
        let signed_in = SignedIn::code(verify::kind_of(&user)?.channel(), now);
        let session = NewSession::unless_second_factor(
            app,
            &user,
            generation,
            &request.origin,
            &signed_in,
            now,
        )?;

        let mut items = vec![
            app.store().code_spent(&code, now)?,
            app.store()
                .password_reset(&user, &presented.pk, &hash, now)?,
            app.store().login_gate_forgotten(&login::gate_of(&user)?)?,
        ];
        items.extend(password_set(
            app,
            &user.user_id,
            audit::PASSWORD_RESET,
            &request.origin,
            now,
        )?);
        if !user.verified {
            items.extend(verify::verified_elsewhere(app, &user, now)?);
        }
        if let Some(session) = &session {
            items.extend(session.writes(app, now)?);
        }
        match app.store().transact(items).await? {
            TxOutcome::Committed => {
                tracing::info!("password reset; every earlier session ended");
                notices::tell(app, &user, Notice::PasswordChanged).await;
                let Some(session) = session else {
                    let reset = UserItem {
                        password_hash: hash,
                        ..user
                    };
                    return Err(login::second_factor(app, &reset, signed_in).await?);
                };
                return Ok(ResetDone {
                    user_id: user.user_id,
                    tokens: session.pair(app, now).await?,
                });
            }
            // Spent, replaced or the account changed meanwhile: look again.
            TxOutcome::Cancelled(_) => code = verify::still_unspent(app, &code, now).await?,
        }
    }
    Err(AuthError::InvalidCode)
}

/// What a new password commits beside the account's own write: the audit record of the
/// change or reset (`event`), and `user.password_changed` with the `user.sessions_revoked`
/// it implies.
fn password_set(
    app: &impl crate::ops::Base,
    user_id: &str,
    event: &'static str,
    origin: &Origin,
    now: i64,
) -> Result<Vec<crate::store::Write>, AuthError> {
    let mut writes =
        vec![
            app.store()
                .audited(user_id, &Audit::event(event).from(origin), app.now_ms())?,
        ];
    writes.extend(events::outbox_password_changed(app.store(), user_id, now)?);
    Ok(writes)
}

/// The account as it is now if, since `user` was read, only a sign-in's re-hash of its
/// password changed it (the service's hash of the same password, in the same session
/// generation: see `Store::password_rehashed`), so a change racing the account's first
/// sign-in still goes through.
async fn rehashed_meanwhile(
    app: &impl crate::ops::Base,
    user: &UserItem,
) -> Result<Option<UserItem>, AuthError> {
    let current = app.store().get::<UserItem>(&user.pk, keys::PROFILE).await?;
    Ok(current.filter(|current| {
        current.session_generation == user.session_generation
            && current.password_hash != user.password_hash
            && !crate::crypto::password::needs_rehash(&current.password_hash)
            && !current.is_disabled()
    }))
}

/// Replaces the caller's password after checking the current one (a wrong one counts
/// toward the identifier's login lock, as at sign-in), ends every session of the account,
/// the calling one included, and answers a new session for the caller.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn change(
    app: &(impl Hashes + Issues + Delivers),
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
    let session = NewSession::new(
        app,
        &user.user_id,
        generation,
        &request.origin,
        SignedIn::password(now),
        now,
    )?;
    let mut items = vec![app.store().password_changed(user, &hash)?];
    items.extend(password_set(
        app,
        &user.user_id,
        audit::PASSWORD_CHANGED,
        &request.origin,
        now,
    )?);
    items.extend(session.writes(app, now)?);
    let mut outcome = app.store().transact(items.clone()).await?;
    if outcome != TxOutcome::Committed
        && let Some(rehashed) = rehashed_meanwhile(app, user).await?
    {
        // The first write is the password's: it now replaces the re-hashed one.
        items[0] = app.store().password_changed(&rehashed, &hash)?;
        outcome = app.store().transact(items).await?;
    }
    match outcome {
        TxOutcome::Committed => {
            tracing::info!("password changed; every earlier session ended");
            notices::tell(app, user, Notice::PasswordChanged).await;
            session.pair(app, now).await
        }
        // A reset, another change or a sign-out-everywhere got in first: this session is over.
        TxOutcome::Cancelled(_) => Err(AuthError::InvalidToken),
    }
}
