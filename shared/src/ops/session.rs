//! Sessions: a sign-in starts a refresh-token family; `POST /token` rotates its newest token;
//! `POST /logout` revokes it. Refresh tokens are 256 random bits, stored only as SHA-256
//! digests. A child token is the keyed HMAC of its parent, so a duplicate refresh within the
//! grace window gets the very same child and the family stays one chain.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::crypto;
pub use crate::crypto::SignedIn;
use crate::events::rfc3339;
use crate::ops::MAX_ROUNDS;
use crate::ops::audit;
use crate::ops::bearer::Caller;
use crate::ops::budgets::Origin;
use crate::ops::{Base, Issues, Keyed};
pub use crate::store::generation_is;
use crate::store::{Audit, FamilyItem, RefreshItem, Rotated, Started, UserItem, Write, keys};

const TOKEN_CHARS: usize = 43;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: String,
    /// Seconds left of the family's absolute lifetime.
    pub refresh_expires_in: i64,
}

redacted_debug!(TokenPair { token_type, expires_in, refresh_expires_in; access_token, refresh_token });

/// The body of `POST /token`: JSON `{"refresh_token"}` or the OAuth 2.0 form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub grant_type: Option<String>,
    pub refresh_token: String,
    /// Accepted and ignored (RFC 6749 §6): the service has one client per audience.
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub scope: Option<String>,
}

redacted_debug!(RefreshRequest { grant_type, client_id, scope; refresh_token });

/// The body of `POST /logout`: JSON `{"refresh_token"}`, or RFC 7009's revocation form
/// (`token=...&token_type_hint=refresh_token`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub refresh_token: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub token: Option<String>,
    /// Only refresh tokens can be revoked; a hint is accepted and needs no answer
    /// (RFC 7009 §2.1: a token the server cannot find is not an error).
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub token_type_hint: Option<String>,
    /// Accepted and ignored, as at the token endpoint.
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub client_id: Option<String>,
}

redacted_debug!(LogoutRequest { token_type_hint, client_id; refresh_token, token });

impl LogoutRequest {
    /// The JSON form, `{"refresh_token": ...}`.
    pub fn for_refresh_token(token: impl Into<String>) -> Self {
        Self {
            refresh_token: Some(token.into()),
            token: None,
            token_type_hint: None,
            client_id: None,
        }
    }

    /// The token to revoke: exactly one of `refresh_token` (JSON) or `token` (RFC 7009).
    pub fn token(&self) -> Result<&str, AuthError> {
        match (&self.refresh_token, &self.token) {
            (Some(token), None) | (None, Some(token)) => Ok(token),
            _ => Err(AuthError::InvalidRequest(
                "exactly one of refresh_token or token is required".to_owned(),
            )),
        }
    }
}

fn digest(token: &str) -> String {
    crypto::sha256_hex(token.as_bytes())
}

async fn child_of(app: &impl Keyed, parent: &str) -> Result<String, AuthError> {
    Ok(crypto::base64url(&crypto::hmac_sha256(
        &app.hmac_key().await?,
        &[b"refresh-child\0", parent.as_bytes()],
    )))
}

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a token carries of its session: enough to rotate it and to sign, without reading
/// the session itself.
struct Lineage {
    family_id: String,
    user_id: String,
    expires_at: i64,
    generation: u64,
    signed_in: SignedIn,
}

impl Lineage {
    fn of_family(family: &FamilyItem) -> Self {
        Self {
            family_id: family.family_id.clone(),
            user_id: family.user_id.clone(),
            expires_at: family.expires_at,
            generation: family.generation,
            signed_in: SignedIn {
                amr: family.amr.clone(),
                auth_time: family.auth_time,
            },
        }
    }

    fn of_token(token: &RefreshItem) -> Option<Self> {
        Some(Self {
            family_id: token.family_id.clone(),
            user_id: token.user_id.clone(),
            expires_at: token.expires_at,
            generation: token.generation?,
            signed_in: SignedIn {
                amr: token.amr.clone(),
                auth_time: token.auth_time,
            },
        })
    }
}

fn token_item(token: &str, lineage: &Lineage, now: i64) -> RefreshItem {
    RefreshItem {
        pk: keys::refresh_token(&digest(token)),
        sk: keys::TOKEN.to_owned(),
        family_id: lineage.family_id.clone(),
        user_id: lineage.user_id.clone(),
        created_at: now,
        rotated_at: None,
        rotated_at_ms: None,
        expires_at: lineage.expires_at,
        generation: Some(lineage.generation),
        amr: lineage.signed_in.amr.clone(),
        auth_time: lineage.signed_in.auth_time,
    }
}

async fn pair(
    app: &impl Issues,
    lineage: &Lineage,
    refresh_token: String,
    now: i64,
) -> Result<TokenPair, AuthError> {
    let signer = app.signer().await?;
    Ok(TokenPair {
        access_token: signer.sign(
            &lineage.user_id,
            &lineage.family_id,
            &lineage.signed_in,
            now,
        )?,
        token_type: "Bearer".to_owned(),
        expires_in: signer.ttl_secs(),
        refresh_token,
        refresh_expires_in: lineage.expires_at - now,
    })
}

/// A session about to start: its family and first refresh token, to be written by a
/// transaction (its own in [`start`], or a password reset's or change's).
pub struct NewSession {
    family: FamilyItem,
    token: String,
}

impl NewSession {
    /// A session of generation `generation` of the account `user_id`, started by
    /// `signed_in` and recorded with the user agent and address it was started from.
    pub fn new(
        app: &impl Base,
        user_id: &str,
        generation: u64,
        origin: &Origin,
        signed_in: SignedIn,
        now: i64,
    ) -> Result<Self, AuthError> {
        let family_id = uuid::Uuid::new_v4().to_string();
        let family = FamilyItem {
            pk: keys::family(&family_id),
            sk: keys::FAMILY.to_owned(),
            family_id,
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: now + app.config().refresh_lifetime_secs,
            revoked: false,
            generation,
            session_user: Some(user_id.to_owned()),
            last_used_at: Some(now),
            user_agent: origin.user_agent.clone(),
            ip: origin.ip.clone(),
            amr: signed_in.amr,
            auth_time: signed_in.auth_time,
        };
        let token = crypto::base64url(&crypto::random_array::<32>()?);
        Ok(Self { family, token })
    }

    /// The session a sign-in by code (a reset's, an unverified account's OTP) starts in the
    /// code's own transaction, or `None` for an account with a second factor: a code alone
    /// starts no session there, and the second factor is asked for once it has committed.
    pub fn unless_second_factor(
        app: &impl Base,
        user: &UserItem,
        generation: u64,
        origin: &Origin,
        signed_in: &SignedIn,
        now: i64,
    ) -> Result<Option<Self>, AuthError> {
        if user.has_second_factor() {
            return Ok(None);
        }
        Self::new(
            app,
            &user.user_id,
            generation,
            origin,
            signed_in.clone(),
            now,
        )
        .map(Some)
    }

    /// The session id: the `sid` of its access tokens.
    pub fn id(&self) -> &str {
        &self.family.family_id
    }

    /// The writes that start it: the family and its first token, both new, and the sign-in's
    /// audit record.
    pub fn writes(&self, app: &impl Base, now: i64) -> Result<Vec<Write>, AuthError> {
        let mut writes = app
            .store()
            .session_writes(&self.family, &self.first_token(now))?;
        writes.push(self.audited(app)?);
        Ok(writes)
    }

    /// The audit record of the sign-in that starts it: how, from where.
    fn audited(&self, app: &impl Base) -> Result<Write, AuthError> {
        let family = &self.family;
        let audit = Audit {
            ip: family.ip.clone(),
            user_agent: family.user_agent.clone(),
            amr: family.amr.clone(),
            ..Audit::event(audit::SIGNED_IN)
        };
        app.store().audited(&family.user_id, &audit, app.now_ms())
    }

    fn first_token(&self, now: i64) -> RefreshItem {
        token_item(&self.token, &Lineage::of_family(&self.family), now)
    }

    /// The token pair, once the writes have committed.
    pub async fn pair(self, app: &impl Issues, now: i64) -> Result<TokenPair, AuthError> {
        pair(app, &Lineage::of_family(&self.family), self.token, now).await
    }
}

/// Starts the session of a sign-in (`signed_in`) that checked `user`'s password as read, in the
/// account's current session generation, with `also`, writes that must commit with it and
/// may not carry conditions (the clearing of its login failures).
///
/// The session's transaction holds the hash that was checked: a password change or reset
/// that commits between the check and this write makes the sign-in `invalid_credentials`
/// (the old password no longer opens the account), while a sign-out-everywhere that
/// commits meanwhile only moves the session to the new generation.
pub async fn start_checked(
    app: &impl Issues,
    user: &UserItem,
    origin: &Origin,
    signed_in: SignedIn,
    also: &[Write],
) -> Result<TokenPair, AuthError> {
    start_rehashing(app, user, origin, signed_in, also, None).await
}

/// [`start_checked`] for a password sign-in that also replaces the account's hash with
/// `rehash`, the service's hash of the password just checked (the account's was imported, or
/// made at earlier parameters): the session's transaction writes it in place of the checked
/// hash, on the same conditions, so a change or reset that commits first refuses the sign-in
/// and one that commits after it replaces the new hash.
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn start_rehashing(
    app: &impl Issues,
    user: &UserItem,
    origin: &Origin,
    signed_in: SignedIn,
    also: &[Write],
    mut rehash: Option<String>,
) -> Result<TokenPair, AuthError> {
    crate::ops::refuse_disabled(user)?;
    let mut checked_hash = user.password_hash.clone();
    let mut generation = user.session_generation;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let session = NewSession::new(
            app,
            &user.user_id,
            generation,
            origin,
            signed_in.clone(),
            now,
        )?;
        let first = session.first_token(now);
        let mut writes = also.to_vec();
        writes.push(session.audited(app)?);
        match app
            .store()
            .start_session(
                &session.family,
                &first,
                generation,
                &checked_hash,
                rehash.as_deref(),
                &writes,
            )
            .await?
        {
            Started::Started => return session.pair(app, now).await,
            Started::AccountMoved => {
                let current = app.store().get::<UserItem>(&user.pk, keys::PROFILE).await?;
                match current {
                    Some(current) if current.is_disabled() => {
                        return Err(crate::ops::disabled(&current));
                    }
                    // Every session of the account just ended, the password unchanged: this
                    // one starts in the new generation.
                    Some(current) if current.password_hash == checked_hash => {
                        generation = current.session_generation;
                    }
                    // Re-hashed meanwhile by a twin sign-in, with the same password: the
                    // only write that replaces the hash and keeps the generation (see
                    // `Store::password_rehashed`). This one starts on the new hash.
                    Some(current) if current.session_generation == generation => {
                        checked_hash = current.password_hash;
                        rehash = None;
                    }
                    // The password checked is no longer the account's, or the account is gone.
                    _ => {
                        tracing::info!("password changed while signing in; sign-in refused");
                        return Err(AuthError::InvalidCredentials);
                    }
                }
            }
        }
    }
    Err(AuthError::internal("new session kept conflicting"))
}

/// Exchanges a refresh token for a new pair, rotating it.
///
/// The answer comes within half the grace window of the request's arrival, or is a 5xx:
/// a client that retries a failed refresh at once is still inside the window, where the
/// retry is a duplicate (the same child), not a reuse that ends the session, even if the
/// first try's rotation landed after all.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn refresh(
    app: &(impl Keyed + Issues),
    request: RefreshRequest,
) -> Result<TokenPair, AuthError> {
    let deadline_ms = app
        .config()
        .refresh_grace_secs
        .saturating_mul(500)
        .max(1000);
    let deadline = std::time::Duration::from_millis(deadline_ms as u64);
    tokio::time::timeout(deadline, rotate(app, request))
        .await
        .unwrap_or_else(|_| {
            Err(AuthError::internal(
                "refresh not decided within half the grace window",
            ))
        })
}

async fn rotate(
    app: &(impl Keyed + Issues),
    request: RefreshRequest,
) -> Result<TokenPair, AuthError> {
    if request
        .grant_type
        .as_deref()
        .is_some_and(|g| g != "refresh_token")
    {
        return Err(AuthError::UnsupportedGrantType);
    }
    let token = request.refresh_token;
    if !well_formed(&token) {
        return Err(AuthError::InvalidGrant);
    }
    let pk = keys::refresh_token(&digest(&token));
    // Decided on the time the request arrived, however long the table takes to answer: a
    // duplicate that waited out a stall behind its twin is still the same moment's refresh.
    let arrived_ms = app.now_ms();
    let now = arrived_ms.div_euclid(1000);
    let grace_ms = app.config().refresh_grace_secs.saturating_mul(1000);
    for _ in 0..MAX_ROUNDS {
        let Some(item) = app.store().get::<RefreshItem>(&pk, keys::TOKEN).await? else {
            return Err(AuthError::InvalidGrant);
        };
        if item.expires_at <= now {
            return Err(AuthError::InvalidGrant);
        }
        // The session's state (revoked, expired) is a condition of the transaction below,
        // so it is not read first; only a token older than the copied generation needs it.
        let lineage = match Lineage::of_token(&item) {
            Some(lineage) => lineage,
            None => {
                let family_pk = keys::family(&item.family_id);
                match app
                    .store()
                    .get::<FamilyItem>(&family_pk, keys::FAMILY)
                    .await?
                {
                    Some(family) => Lineage::of_family(&family),
                    None => return Err(AuthError::InvalidGrant),
                }
            }
        };
        tracing::Span::current().record("user_id", lineage.user_id.as_str());
        let child = child_of(app, &token).await?;

        match item.rotated_ms() {
            None => {
                let next = token_item(&child, &lineage, now);
                match app
                    .store()
                    .rotate_refresh_token(&pk, &next, lineage.generation, arrived_ms)
                    .await?
                {
                    Rotated::Rotated => return pair(app, &lineage, child, now).await,
                    Rotated::SessionEnded => return Err(ended(app, &lineage).await),
                    // Rotated meanwhile: decide again on what is stored now.
                    Rotated::Raced => continue,
                }
            }
            // The same refresh again, moments later (two tabs): the same child, no harm done,
            // unless the session ended since.
            Some(rotated_ms) if arrived_ms - rotated_ms <= grace_ms => {
                let live = app
                    .store()
                    .touch_session(
                        &lineage.family_id,
                        &lineage.user_id,
                        lineage.generation,
                        now,
                    )
                    .await?;
                return if live {
                    pair(app, &lineage, child, now).await
                } else {
                    Err(ended(app, &lineage).await)
                };
            }
            // A rotated token used again: it may have been stolen. End the whole family.
            Some(_) => {
                app.store().revoke_session(&lineage.family_id).await?;
                tracing::warn!(family_id = %lineage.family_id, "refresh token reused; family revoked");
                return Err(AuthError::InvalidGrant);
            }
        }
    }
    Err(AuthError::InvalidGrant)
}

/// Why a refresh found its session ended: `account_disabled` when an operator disabled the
/// account (the disable ended it), `invalid_grant` otherwise.
async fn ended(app: &impl Base, lineage: &Lineage) -> AuthError {
    let profile = app
        .store()
        .get::<UserItem>(&keys::user(&lineage.user_id), keys::PROFILE)
        .await;
    match profile {
        Ok(Some(user)) if user.is_disabled() => AuthError::AccountDisabled,
        _ => AuthError::InvalidGrant,
    }
}

/// Revokes the family of a refresh token; an unknown token is not an error (RFC 7009).
#[tracing::instrument(skip_all)]
pub async fn logout(app: &impl Base, request: LogoutRequest) -> Result<(), AuthError> {
    let token = request.token()?;
    if !well_formed(token) {
        return Ok(());
    }
    let pk = keys::refresh_token(&digest(token));
    if let Some(item) = app.store().get::<RefreshItem>(&pk, keys::TOKEN).await? {
        app.store().revoke_session(&item.family_id).await?;
        tracing::info!(user_id = %item.user_id, "signed out");
    }
    Ok(())
}

/// One of the user's live sessions, as `GET /sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether the access token of this request was issued in it.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// The caller's live sessions, newest first: a query of the index by user, without the
/// revoked, expired and ended (earlier generation) ones.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn list(app: &impl Base, caller: &Caller) -> Result<SessionList, AuthError> {
    let sessions = live_sessions(app, &caller.user, Some(&caller.session_id)).await?;
    Ok(SessionList { sessions })
}

/// `user`'s live sessions, newest first (`current` marks the one named, if any).
pub async fn live_sessions(
    app: &impl Base,
    user: &UserItem,
    current: Option<&str>,
) -> Result<Vec<SessionView>, AuthError> {
    let now = app.now();
    let families = app.store().sessions_of(&user.user_id).await?;
    Ok(families
        .into_iter()
        .filter(|f| !f.revoked && f.expires_at > now && f.generation == user.session_generation)
        .map(|f| SessionView {
            current: Some(f.family_id.as_str()) == current,
            created_at: rfc3339(f.created_at),
            last_used_at: rfc3339(f.last_used_at.unwrap_or(f.created_at)),
            expires_at: rfc3339(f.expires_at),
            id: f.family_id,
            user_agent: f.user_agent,
            ip: f.ip,
        })
        .collect())
}

/// Ends one of the caller's own live sessions; any other id, another user's included, is
/// `session_not_found`. One conditional update: its refresh tokens stop working at once.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn revoke_one(
    app: &impl Base,
    caller: &Caller,
    session_id: &str,
) -> Result<(), AuthError> {
    let id = uuid::Uuid::parse_str(session_id)
        .map_err(|_| AuthError::SessionNotFound)?
        .to_string();
    let revoked = app
        .store()
        .revoke_own_session(
            &id,
            &caller.user.user_id,
            caller.user.session_generation,
            app.now(),
            audit::by_caller(app, caller, audit::SESSION_REVOKED, None)?,
        )
        .await?;
    if revoked {
        tracing::info!("session revoked");
        Ok(())
    } else {
        Err(AuthError::SessionNotFound)
    }
}

/// Signs out everywhere: the account moves to the next session generation, which ends every
/// session started before, the caller's included, in one write. Refreshes check the
/// generation inside their own transaction, so none succeeds once this has answered.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn revoke_all(app: &impl Base, caller: &Caller) -> Result<(), AuthError> {
    let audit = audit::by_caller(app, caller, audit::SESSIONS_ENDED, None)?;
    if app
        .store()
        .end_all_sessions_with(&caller.user.user_id, app.now(), audit)
        .await?
    {
        tracing::info!("signed out everywhere");
        Ok(())
    } else {
        Err(AuthError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::login::OtpRequest;

    #[test]
    fn debug_output_never_shows_a_token_or_code() {
        let pair = TokenPair {
            access_token: "eyJ.access.secret".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            refresh_token: "refresh-secret-value".into(),
            refresh_expires_in: 100,
        };
        let refresh = RefreshRequest {
            grant_type: Some("refresh_token".into()),
            refresh_token: "refresh-secret-value".into(),
            client_id: None,
            scope: None,
        };
        let logout = LogoutRequest::for_refresh_token("refresh-secret-value");
        let otp = OtpRequest {
            challenge_id: "c-1".into(),
            otp: "123456".into(),
            origin: Origin::default(),
        };
        let printed = format!("{pair:?} {refresh:?} {logout:?} {otp:?}");
        for secret in ["access.secret", "refresh-secret-value", "123456"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("[redacted]") && printed.contains("Bearer"));
    }
}
