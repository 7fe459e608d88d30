//! The account's own routes, all bearer routes: `GET /me`, `POST /me/identifier`,
//! `PATCH /me/identifier/{code}` and `DELETE /me`; and the sweeper's removal of accounts
//! left unverified past their expiry. Every end of an account is one transaction that
//! deletes the profile, releases its claims and writes `user.deleted` to the outbox.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::domain::{Channel, Identifier, IdentifierKind, Password, PhoneNumber};
use crate::events::{self, DeletionReason, rfc3339};
use crate::notify::Outgoing;
use crate::ops::bearer::Caller;
use crate::ops::budgets::{self, Origin};
use crate::ops::codes::{self, PresentedCode, Purpose};
use crate::ops::limits::SendSlot;
use crate::ops::{Base, Delivers, Hashes, Keyed};
use crate::ops::{MAX_ROUNDS, audit, login, verify};
use crate::store::{
    ChangeRequest, ClaimItem, DeletedBy, Deletion, FamilyItem, IdentifierChange, SESSIONS_INDEX,
    Store, TxOutcome, UNVERIFIED, UNVERIFIED_INDEX, UserItem, keys,
};

/// `GET /me`: the account as its owner sees it; never a hash or a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether the identifier is verified.
    pub verified: bool,
    /// The second factors turned on (`"totp"`, `"passkey"`), empty when a password alone
    /// signs in.
    pub mfa: Vec<String>,
    /// The other providers the account signs in with, by their configured names.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Whether the account has a password (one made by a provider's sign-in has none until
    /// a reset sets it).
    #[serde(default = "yes")]
    pub has_password: bool,
    pub created_at: String,
    /// Each subscribing service's answer to the account's `user.created`: `created`,
    /// `failed` or `pending` (not yet acknowledged); empty when none is configured.
    #[serde(default)]
    pub provisioning: std::collections::BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// The email (as registered) or phone (canonical E.164) an account signs in with.
fn email_or_phone(user: &UserItem) -> Result<(Option<String>, Option<String>), AuthError> {
    Ok(match verify::kind_of(user)? {
        IdentifierKind::Email => (Some(user.address.clone()), None),
        IdentifierKind::Phone => (None, Some(user.identifier.clone())),
    })
}

/// The caller's account; `services` are the configured subscribing services.
pub fn me(caller: &Caller, services: &[String]) -> Result<Me, AuthError> {
    let user = &caller.user;
    let (email, phone) = email_or_phone(user)?;
    Ok(Me {
        user_id: user.user_id.clone(),
        email,
        phone,
        username: user.username.clone(),
        verified: user.verified,
        mfa: [("totp", user.totp), ("passkey", user.passkeys > 0)]
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(method, _)| method.to_owned())
            .collect(),
        providers: user.providers.keys().cloned().collect(),
        has_password: !user.no_password,
        created_at: rfc3339(user.created_at),
        provisioning: crate::provisioning::status(user, services),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierChangeRequest {
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub phone: Option<String>,
    pub password: String,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: Origin,
}

redacted_debug!(IdentifierChangeRequest { origin; email, phone, password });

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequested {
    pub channel: Channel,
}

/// The body that goes with a 6-digit SMS code; a link code comes without a body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeConfirmBody {
    pub phone: String,
}

/// `PATCH /me/identifier/{code}`: the identifier the account now signs in with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifierChanged {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    pub password: String,
}

redacted_debug!(DeleteRequest { ; password });

/// The account as stored now, if the caller's session still holds it. The caller's own
/// snapshot may predate what a transaction must decide on (a pending identifier change, the
/// identifier whose claims a deletion releases), so those read it here.
async fn current(app: &impl Base, caller: &Caller) -> Result<UserItem, AuthError> {
    app.store()
        .get::<UserItem>(&caller.user.pk, keys::PROFILE)
        .await?
        .filter(|u| u.session_generation == caller.user.session_generation)
        .ok_or(AuthError::InvalidToken)
}

/// Sends a code to the new identifier, after the password (counted toward the login lock
/// as at sign-in). The send limits and budgets apply to the new identifier; one that a
/// live account holds, this one included, is `user_exists` and nothing is sent. The old
/// identifier keeps signing in until the code is confirmed.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn request_identifier_change(
    app: &(impl Keyed + Delivers + Hashes),
    caller: &Caller,
    request: IdentifierChangeRequest,
) -> Result<ChangeRequested, AuthError> {
    let identifier = Identifier::from_pair(request.email.as_deref(), request.phone.as_deref())?;
    if let Identifier::Phone(phone) = &identifier
        && !app.config().sms_countries.allows(phone)
    {
        return Err(AuthError::InvalidPhone);
    }
    let password = Password::for_login(request.password);
    login::check_password(app, &caller.user, &password).await?;
    let claim_pk = keys::identifier(identifier.kind(), identifier.normalized());
    let mut budget_taken = false;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        // Taken (by this account too): nothing is sent. The confirmation's claim is what
        // guarantees it; this spares the send.
        if app
            .store()
            .get::<ClaimItem>(&claim_pk, keys::CLAIM)
            .await?
            .is_some_and(|c| c.is_live(now))
        {
            return Err(budgets::revealing(app, &request.origin, AuthError::UserExists).await);
        }
        let slot = SendSlot::take(app.store(), app.config(), &claim_pk, now).await?;
        if !budget_taken {
            budgets::take_send(app, &request.origin, identifier.kind().channel(), now).await?;
            budget_taken = true;
        }
        let user = &caller.user;
        let issued = codes::issue(app, &identifier, &user.user_id, Purpose::Change, now).await?;
        let send = slot.write(app.store())?;
        let wanted = (
            identifier.kind().as_str(),
            identifier.normalized(),
            identifier.address(),
        );
        match app
            .store()
            .request_identifier_change(send, user, &issued.item, wanted)
            .await?
        {
            ChangeRequest::Recorded => {}
            // Signed out everywhere (or deleted) meanwhile: this session is over.
            ChangeRequest::SessionEnded => return Err(AuthError::InvalidToken),
            ChangeRequest::Raced => continue,
        }
        app.notifier()
            .send(&issued.message)
            .await
            .map_err(AuthError::DeliveryFailed)?;
        tracing::info!(
            to = identifier.kind().as_str(),
            "identifier change code sent"
        );
        return Ok(ChangeRequested {
            channel: identifier.kind().channel(),
        });
    }
    Err(AuthError::internal(
        "identifier change kept conflicting with concurrent writes",
    ))
}

/// Applies a requested change in one transaction: the code spent (an SMS code's try is
/// counted before it is compared), the new identifier claimed on the condition that no live
/// account holds it (`user_exists` if one took it meanwhile), the old claim released, the
/// profile updated. The old address is then told that it no longer signs in.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn confirm_identifier_change(
    app: &(impl Keyed + Delivers),
    caller: &Caller,
    raw_code: &str,
    body: Option<ChangeConfirmBody>,
) -> Result<IdentifierChanged, AuthError> {
    let phone = body.map(|b| PhoneNumber::parse(&b.phone)).transpose()?;
    let presented = PresentedCode::new(app, raw_code, phone.as_ref())
        .await?
        .of_account(&caller.user.user_id);
    // A bearer route: the session's owner, bounded by the code's and the identifier's tries.
    let mut code = presented
        .try_once(app, Purpose::Change, &Origin::default())
        .await?;
    if code.user_id != caller.user.user_id {
        return Err(AuthError::InvalidCode);
    }
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let user = current(app, caller).await?;
        let wanted = (
            user.change_code_pk.as_deref(),
            user.new_identifier_type
                .as_deref()
                .and_then(IdentifierKind::parse),
            user.new_identifier.as_deref(),
            user.new_address.as_deref(),
        );
        let (Some(pk), Some(kind), Some(normalized), Some(address)) = wanted else {
            return Err(AuthError::InvalidCode);
        };
        if pk != presented.pk {
            return Err(AuthError::InvalidCode);
        }
        let old = verify::stored_identifier(&user)?;
        let old_claim = keys::identifier(old.kind(), old.normalized());
        let new_claim = ClaimItem {
            pk: keys::identifier(kind, normalized),
            sk: keys::CLAIM.to_owned(),
            user_id: user.user_id.clone(),
            expires_at: None,
        };
        let change = (kind.as_str(), normalized, address);
        let outcome = app
            .store()
            .change_identifier(
                &user,
                &code,
                (&new_claim, &old_claim),
                change,
                now,
                changed_writes(app, caller, kind.as_str(), now)?,
            )
            .await?;
        match outcome {
            IdentifierChange::Changed => {
                tracing::info!(
                    from = old.kind().as_str(),
                    to = kind.as_str(),
                    "identifier changed"
                );
                let notice = match &old {
                    Identifier::Email(to) => Outgoing::EmailRemoved { to: to.clone() },
                    Identifier::Phone(to) => Outgoing::SmsRemoved { to: to.clone() },
                };
                if let Err(err) = app.notifier().send(&notice).await {
                    tracing::warn!(error = %err, "the old identifier could not be told");
                }
                let (email, phone) = match kind {
                    IdentifierKind::Email => (Some(address.to_owned()), None),
                    IdentifierKind::Phone => (None, Some(normalized.to_owned())),
                };
                return Ok(IdentifierChanged {
                    user_id: user.user_id,
                    email,
                    phone,
                });
            }
            IdentifierChange::Taken => return Err(AuthError::UserExists),
            // The code was spent or replaced, or the account changed: look again.
            IdentifierChange::Raced => code = verify::still_unspent(app, &code, now).await?,
        }
    }
    Err(AuthError::InvalidCode)
}

/// Deletes the caller's account after the password (counted toward the login lock): one
/// transaction removes the profile (which ends every session: refreshes and bearer checks
/// need it), releases the claims, removes the passkeys, clears the identifier's login lock and writes
/// `user.deleted`. The sessions' records, which hold user agents and addresses, are
/// removed after it.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn delete_account(
    app: &impl Hashes,
    caller: &Caller,
    request: DeleteRequest,
) -> Result<(), AuthError> {
    let password = Password::for_login(request.password);
    login::check_password(app, &caller.user, &password).await?;
    for _ in 0..MAX_ROUNDS {
        let user = current(app, caller).await?;
        let by = DeletedBy::Owner {
            generation: user.session_generation,
            passkeys: user.passkeys,
        };
        match delete_once(
            app.store(),
            &user,
            by,
            DeletionReason::Deleted,
            &[],
            app.now(),
        )
        .await?
        {
            Deletion::Deleted => return Ok(()),
            // Signed out everywhere (the next round's read says so), a passkey added or
            // removed meanwhile, or a lost race: look again.
            Deletion::AccountChanged | Deletion::Raced => continue,
        }
    }
    Err(AuthError::internal(
        "account deletion kept conflicting with concurrent writes",
    ))
}

/// One try at deleting `user` as read, on what `by` requires: the profile, its claims, its
/// passkeys (their credential ids free again), its identifier's login lock, `extra` writes,
/// and `user.deleted` with `reason`, in one transaction; then its sessions' records.
pub(crate) async fn delete_once(
    store: &Store,
    user: &UserItem,
    by: DeletedBy<'_>,
    reason: DeletionReason,
    extra: &[crate::store::Write],
    now: i64,
) -> Result<Deletion, AuthError> {
    let claims = owned_claims(store, user).await?;
    let mut also = vec![store.login_gate_forgotten(&login::gate_of(user)?)?];
    // At most `passkeys::MAX_PASSKEYS`: the transaction stays far below its 100 items.
    for passkey in store.passkeys_of(&user.user_id).await? {
        also.extend(store.passkey_removed(user, &passkey)?);
    }
    also.extend_from_slice(extra);
    let outcome = store
        .delete_account(user, &claims, by, reason, &also, now)
        .await?;
    if outcome == Deletion::Deleted {
        tracing::info!(user_id = %user.user_id, ?reason, "account deleted");
        forget_sessions(store, &user.user_id).await;
    }
    Ok(outcome)
}

/// The claims (identifier, username, providers' identities) that `user` still holds: an expired account's claims
/// may have passed to a newer registration, which keeps them.
pub(crate) async fn owned_claims(store: &Store, user: &UserItem) -> Result<Vec<String>, AuthError> {
    let mut claims = vec![keys::identifier(verify::kind_of(user)?, &user.identifier)];
    claims.extend(
        user.username
            .as_deref()
            .map(|u| keys::username(&u.to_ascii_lowercase())),
    );
    // Its other providers' identities are released with it too.
    claims.extend(user.providers.values().cloned());
    let wanted: Vec<(&str, &str)> = claims.iter().map(|c| (c.as_str(), keys::CLAIM)).collect();
    let read = store.get_together(&wanted).await?;
    let mut owned = Vec::new();
    for (claim, snapshot) in claims.iter().zip(read) {
        if snapshot
            .decode::<ClaimItem>()?
            .is_some_and(|c| c.user_id == user.user_id)
        {
            owned.push(claim.clone());
        }
    }
    Ok(owned)
}

/// Removes the session records of a deleted account (best effort: what is missed expires
/// with its 30 days, and no session of a deleted account can be used).
async fn forget_sessions(store: &Store, user_id: &str) {
    let families: Vec<FamilyItem> = match store
        .query_index(SESSIONS_INDEX, "session_user", user_id)
        .await
    {
        Ok(families) => families,
        Err(error) => {
            tracing::warn!(%error, "session records left to expire");
            return;
        }
    };
    // A transaction holds at most 100 items; the index lists only this account's sessions.
    for chunk in families.chunks(100) {
        let deletes: Result<Vec<_>, _> = chunk
            .iter()
            .map(|family| store.delete(&family.pk, keys::FAMILY, None))
            .collect();
        let outcome = match deletes {
            Ok(deletes) => store.transact(deletes).await,
            Err(error) => Err(error),
        };
        if !matches!(outcome, Ok(TxOutcome::Committed)) {
            tracing::warn!(outcome = ?outcome.map(drop), "session records left to expire");
        }
    }
}

/// The sweeper's part: deletes up to `limit` accounts still unverified past their expiry,
/// found through the sparse index of unverified accounts (no scan), each in one transaction
/// conditioned on its still being unverified and expired, so a confirmation racing the
/// sweep either verifies the account (and the sweep skips it) or finds it gone. Each writes
/// `user.deleted` with `reason: "expired"`. Returns how many were deleted.
pub async fn expire_unverified(store: &Store, now: i64, limit: usize) -> Result<usize, AuthError> {
    let expired: Vec<UserItem> = store
        .query_index_up_to(
            UNVERIFIED_INDEX,
            "unverified",
            UNVERIFIED,
            "expires_at",
            now,
            limit,
        )
        .await?;
    let mut deleted = 0;
    for user in expired {
        for _ in 0..MAX_ROUNDS {
            let claims = owned_claims(store, &user).await?;
            let by = DeletedBy::Expiry { now };
            let outcome = store
                .delete_account(&user, &claims, by, DeletionReason::Expired, &[], now)
                .await?;
            match outcome {
                Deletion::Deleted => {
                    tracing::info!(user_id = %user.user_id, "unverified account expired and deleted");
                    deleted += 1;
                    break;
                }
                // Verified (or deleted) meanwhile: it stays as it is.
                Deletion::AccountChanged => break,
                // A claim changed hands meanwhile: read them again.
                Deletion::Raced => continue,
            }
        }
    }
    Ok(deleted)
}

/// What an identifier change commits beside the account's own writes: its audit record and
/// `user.identifier_changed` (the new kind, never the address).
fn changed_writes(
    app: &impl Base,
    caller: &Caller,
    kind: &str,
    now: i64,
) -> Result<Vec<crate::store::Write>, AuthError> {
    let mut writes = audit::by_caller(app, caller, audit::IDENTIFIER_CHANGED, Some(kind))?;
    writes.push(events::outbox_identifier_changed(
        app.store(),
        &caller.user.user_id,
        kind,
        now,
    )?);
    Ok(writes)
}
