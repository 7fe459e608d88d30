//! `POST /registration`: store the account, claim its identifier, send a code; commit on a
//! successful send, roll everything back on a failed one.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::domain::{Channel, Identifier, Password, Username};
use crate::ops::MAX_ROUNDS;
use crate::ops::budgets::{self, Origin};
use crate::ops::codes::{self, IssuedCode};
use crate::ops::limits::SendSlot;
use crate::ops::{Delivers, Hashes, Keyed};
use crate::store::{ClaimItem, Reserved, UserItem, UserStatus, keys};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub phone: Option<String>,
    pub password: String,
    pub repeat_password: String,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub username: Option<String>,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Registered {
    pub user_id: String,
    pub channel: Channel,
}

/// What one registration wrote, so it can be committed or rolled back.
struct Written {
    user: UserItem,
    claims: Vec<String>,
    issued: IssuedCode,
}

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn register(
    app: &(impl Keyed + Delivers + Hashes),
    request: RegisterRequest,
) -> Result<Registered, AuthError> {
    // Checked in the contract's order of precedence.
    Identifier::check_pair(request.email.as_deref(), request.phone.as_deref())?;
    let username = request
        .username
        .as_deref()
        .map(Username::parse)
        .transpose()?;
    let identifier = Identifier::from_pair(request.email.as_deref(), request.phone.as_deref())?;
    // New numbers only from the configured countries (SMS to the rest is never paid for).
    if let Identifier::Phone(phone) = &identifier
        && !app.config().sms_countries.allows(phone)
    {
        return Err(AuthError::InvalidPhone);
    }
    let password = Password::parse_new(request.password, &request.repeat_password)?;

    let mut claims = vec![keys::identifier(identifier.kind(), identifier.normalized())];
    if let Some(username) = &username {
        claims.push(keys::username(username.key()));
    }

    let mut password_hash = None;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        // A taken identifier or username sends nothing, so it answers `user_exists` before
        // any send limit (and spares the hash); the transaction below is what actually
        // guarantees uniqueness. The claims and the send counter are read in one snapshot:
        // a concurrent registration's claim and its send are seen together or not at all.
        let (limit_pk, guesses_pk) = SendSlot::keys(&claims[0]);
        let mut wanted: Vec<(&str, &str)> =
            claims.iter().map(|c| (c.as_str(), keys::CLAIM)).collect();
        wanted.push((limit_pk.as_str(), keys::LIMIT));
        wanted.push((guesses_pk.as_str(), keys::BUDGET));
        let mut read = app.store().get_together(&wanted).await?;
        let guesses = read.pop().unwrap_or_default();
        let counter = read.pop().unwrap_or_default();
        for claim in read {
            if claim.decode::<ClaimItem>()?.is_some_and(|c| c.is_live(now)) {
                return Err(budgets::revealing(app, &request.origin, AuthError::UserExists).await);
            }
        }
        let slot = SendSlot::decide(counter, guesses, &claims[0], app.config(), now)?;
        budgets::take_send(app, &request.origin, identifier.kind().channel(), now).await?;
        let hash = match &password_hash {
            Some(hash) => String::clone(hash),
            None => password_hash
                .insert(app.hasher().hash(&password).await?)
                .clone(),
        };

        let user_id = uuid::Uuid::new_v4().to_string();
        let issued = codes::issue(app, &identifier, &user_id, codes::Purpose::Confirm, now).await?;
        let pending_until = now + app.config().pending_ttl_secs;
        let user = UserItem {
            username: username.as_ref().map(|u| u.as_str().to_owned()),
            status: UserStatus::Pending,
            expires_at: Some(pending_until),
            code_pk: Some(issued.item.pk.clone()),
            ..UserItem::new(&user_id, &identifier, hash, now, app.config().awaiting())
        };

        let claim_items: Vec<ClaimItem> = claims
            .iter()
            .map(|claim| ClaimItem {
                pk: claim.clone(),
                sk: keys::CLAIM.to_owned(),
                user_id: user_id.clone(),
                expires_at: Some(pending_until),
            })
            .collect();
        let send = slot.write(app.store())?;
        match app
            .store()
            .reserve_registration(send, &claim_items, &user, &issued.item, now)
            .await?
        {
            Reserved::Reserved => {
                tracing::Span::current().record("user_id", user_id.as_str());
                let written = Written {
                    user,
                    claims,
                    issued,
                };
                return deliver_and_commit(app, written, identifier.kind().channel()).await;
            }
            Reserved::Taken => return Err(AuthError::UserExists),
            Reserved::Raced => continue,
        }
    }
    Err(AuthError::internal(
        "registration kept conflicting with concurrent writes",
    ))
}

async fn deliver_and_commit(
    app: &impl Delivers,
    written: Written,
    channel: Channel,
) -> Result<Registered, AuthError> {
    let user_id = written.user.user_id.clone();
    if let Err(err) = app.notifier().send(&written.issued.message).await {
        tracing::warn!(error = %err, "code delivery failed; rolling the registration back");
        if let Err(rollback) = app
            .store()
            .roll_back_registration(&written.user, &written.claims, &written.issued.item.pk)
            .await
        {
            // The pending expiry frees the identifier in any case.
            tracing::error!(error = %rollback, "rollback failed; the pending registration will expire");
        }
        return Err(AuthError::DeliveryFailed(err));
    }

    let now = app.now();
    let expires_at = written.user.created_at + app.config().unverified_ttl_secs;
    app.store()
        .commit_registration(&written.user, &written.claims, expires_at, now)
        .await?;
    tracing::info!(%user_id, ?channel, latency_s = now - written.user.created_at, "registration committed");
    Ok(Registered { user_id, channel })
}
