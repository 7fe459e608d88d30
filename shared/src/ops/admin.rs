//! What operators do, through the `admin` function (no HTTP route: only IAM can invoke it)
//! and the `authctl` CLI. Each command goes through the same store rules as the user-facing
//! routes (a disable ends sessions with the generation, a delete is the transaction of
//! `DELETE /me`), never through raw item edits, and each leaves an audit record naming the
//! operator.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AuthError;
use crate::domain::Identifier;
use crate::events::{self, DeletionReason, rfc3339};
use crate::ops::audit::{self, ActivityPage};
use crate::ops::budgets::Origin;
use crate::ops::session;
use crate::ops::{Base, IdentifierRequest, Keyed, MAX_ROUNDS, account, login, password, verify};
use crate::store::{Audit, ClaimItem, DeletedBy, Deletion, LoginGateItem, Toggled, UserItem, keys};

/// One request to the `admin` function: who asks (the operator's principal, as the CLI
/// resolved it with STS; IAM decided that they may invoke the function at all), and what.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminRequest {
    pub actor: String,
    pub command: Command,
}

/// The commands, as `authctl` sends them (`{"name": "show", "user": …}`).
#[derive(Debug, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    Show {
        user: String,
    },
    List {
        #[serde(default)]
        unverified: bool,
        /// RFC 3339.
        #[serde(default)]
        created_after: Option<String>,
        #[serde(default)]
        cursor: Option<String>,
        #[serde(default)]
        limit: Option<i32>,
    },
    Disable {
        user: String,
        reason: String,
    },
    Enable {
        user: String,
    },
    Unlock {
        user: String,
    },
    ResetPassword {
        user: String,
    },
    Sessions {
        user: String,
    },
    RevokeSessions {
        user: String,
    },
    Delete {
        user: String,
    },
    Export {
        user: String,
    },
    Activity {
        user: String,
        #[serde(default)]
        cursor: Option<String>,
        #[serde(default)]
        limit: Option<i32>,
    },
    /// Lines of a JSON Lines file of users, with their line numbers (at most 1,000).
    Import {
        lines: Vec<(usize, String)>,
    },
    /// Sends one subscribing service the events of a period (RFC 3339 `since`, `until` by
    /// default now) or of one user (`user`: a user id, email or phone) again.
    Replay {
        service: String,
        #[serde(default)]
        since: Option<String>,
        #[serde(default)]
        until: Option<String>,
        #[serde(default)]
        user: Option<String>,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Show { .. } => "show",
            Self::List { .. } => "list",
            Self::Disable { .. } => "disable",
            Self::Enable { .. } => "enable",
            Self::Unlock { .. } => "unlock",
            Self::ResetPassword { .. } => "reset-password",
            Self::Sessions { .. } => "sessions",
            Self::RevokeSessions { .. } => "revoke-sessions",
            Self::Delete { .. } => "delete",
            Self::Export { .. } => "export",
            Self::Activity { .. } => "activity",
            Self::Import { .. } => "import",
            Self::Replay { .. } => "replay",
        }
    }
}

/// The function's answer: the command's result, or the error as `{code, detail}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AdminResponse {
    Ok { ok: bool, result: Value },
    Failed { ok: bool, error: AdminFailure },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AdminFailure {
    pub code: String,
    pub detail: String,
}

/// An account as `authctl user show` (and `list`) prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSummary {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub username: Option<String>,
    pub verified: bool,
    pub disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub created_at: String,
    /// Live sessions (only in `show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<usize>,
    /// The second factors on: `totp`, `passkey`.
    pub factors: Vec<String>,
    pub providers: Vec<String>,
    pub has_password: bool,
    /// Each subscribing service's answer to the account's `user.created` (`created`,
    /// `failed`, `pending`; only in `show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<std::collections::BTreeMap<String, String>>,
    /// The identifier's sign-in lock (only in `show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_lock: Option<LockState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockState {
    /// Wrong passwords in the current run.
    pub failures: u32,
    /// RFC 3339, while locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<String>,
}

fn summary(user: &UserItem) -> UserSummary {
    let email = user.identifier_type == "email";
    let mut factors = Vec::new();
    if user.totp {
        factors.push("totp".to_owned());
    }
    if user.passkeys > 0 {
        factors.push("passkey".to_owned());
    }
    UserSummary {
        user_id: user.user_id.clone(),
        email: email.then(|| user.identifier.clone()),
        phone: (!email).then(|| user.identifier.clone()),
        username: user.username.clone(),
        verified: user.verified,
        disabled: user.is_disabled(),
        disabled_at: user.disabled_at.map(rfc3339),
        disabled_reason: user.disabled_reason.clone(),
        created_at: rfc3339(user.created_at),
        sessions: None,
        factors,
        providers: user.providers.keys().cloned().collect(),
        has_password: !user.no_password,
        provisioning: None,
        login_lock: None,
    }
}

/// Runs one request; every failure is an answer, never a panic.
pub async fn run(app: &impl Keyed, request: AdminRequest) -> AdminResponse {
    let name = request.command.name();
    match execute(app, &request.actor, request.command).await {
        Ok(result) => AdminResponse::Ok { ok: true, result },
        Err(error) => {
            if matches!(error, AuthError::Internal(_)) {
                tracing::error!(%error, command = name, "admin command failed");
            }
            AdminResponse::Failed {
                ok: false,
                error: AdminFailure {
                    code: error.code().to_owned(),
                    detail: match &error {
                        AuthError::Internal(_) => {
                            "the command could not complete; see the function's log".to_owned()
                        }
                        other => other.to_string(),
                    },
                },
            }
        }
    }
}

async fn execute(app: &impl Keyed, actor: &str, command: Command) -> Result<Value, AuthError> {
    let actor = actor.trim();
    if actor.is_empty() || actor.len() > 512 {
        return Err(AuthError::InvalidRequest(
            "actor must name the operator".into(),
        ));
    }
    let name = command.name();
    tracing::info!(command = name, actor, "admin command");
    let done = || Audit::event(audit::OPERATOR_ACTION).by(actor).detail(name);
    Ok(match command {
        Command::Replay {
            service,
            since,
            until,
            user,
        } => replay(app, actor, &service, (since, until), user.as_deref()).await?,
        Command::Show { user } => {
            let user = find(app, &user).await?;
            let shown = to_value(show(app, &user).await?);
            record_alone(app, &user, &done()).await;
            shown
        }
        Command::List {
            unverified,
            created_after,
            cursor,
            limit,
        } => {
            list(
                app,
                unverified,
                created_after.as_deref(),
                cursor.as_deref(),
                limit,
            )
            .await?
        }
        Command::Disable { user, reason } => {
            let user = find(app, &user).await?;
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 500 {
                return Err(AuthError::InvalidRequest(
                    "a reason of 1 to 500 characters is required".into(),
                ));
            }
            disable(app, &user, reason, actor).await?
        }
        Command::Enable { user } => enable(app, &find(app, &user).await?, actor).await?,
        Command::Unlock { user } => {
            let user = find(app, &user).await?;
            unlock(app, &user, &done()).await?;
            json!({ "unlocked": true })
        }
        Command::ResetPassword { user } => {
            let user = find(app, &user).await?;
            let address = Some(user.address.clone());
            let email = user.identifier_type == "email";
            let request = IdentifierRequest {
                email: if email { address.clone() } else { None },
                phone: if email { None } else { address },
                origin: Origin::default(),
            };
            password::request_reset(app, request).await?;
            record_alone(app, &user, &done()).await;
            json!({ "reset_link_sent_to": user.address })
        }
        Command::Sessions { user } => {
            let user = find(app, &user).await?;
            let sessions = json!({ "sessions": session::live_sessions(app, &user, None).await? });
            record_alone(app, &user, &done()).await;
            sessions
        }
        Command::RevokeSessions { user } => {
            let user = find(app, &user).await?;
            let audit = Audit::event(audit::SESSIONS_ENDED).by(actor);
            let write = app.store().audited(&user.user_id, &audit, app.now_ms())?;
            if !app
                .store()
                .end_all_sessions_with(&user.user_id, app.now(), vec![write])
                .await?
            {
                return Err(AuthError::UserNotFound);
            }
            json!({ "revoked": true })
        }
        Command::Delete { user } => {
            delete(app, &find(app, &user).await?, actor).await?;
            json!({ "deleted": true })
        }
        Command::Export { user } => {
            let user = find(app, &user).await?;
            let exported = export(app, &user).await?;
            record_alone(app, &user, &done()).await;
            exported
        }
        Command::Activity {
            user,
            cursor,
            limit,
        } => {
            let user = find(app, &user).await?;
            let page: ActivityPage =
                audit::page(app, &user.user_id, cursor.as_deref(), limit).await?;
            record_alone(app, &user, &done()).await;
            to_value(page)
        }
        Command::Import { lines } => {
            if lines.len() > 1000 {
                return Err(AuthError::InvalidRequest(
                    "at most 1,000 lines an invocation".into(),
                ));
            }
            let report = crate::ops::import::import_batch(app, &lines).await;
            json!({ "report": report })
        }
    })
}

/// An operator read the account (show, sessions, export, activity): recorded in its trail
/// after the read, so a read never lists itself.
/// `events replay`: from the outbox, to one configured service only (see
/// [`crate::events::Replayer`]). A user's replay reaches back the whole window by default
/// and may name a deleted account by its id (its `user.deleted` is in the outbox too).
async fn replay(
    app: &impl Base,
    actor: &str,
    service: &str,
    (since, until): (Option<String>, Option<String>),
    user: Option<&str>,
) -> Result<Value, AuthError> {
    let invalid = |m: String| AuthError::InvalidRequest(m);
    let replayer = app.replayer().ok_or_else(|| {
        invalid("this deployment has no replay topic (USER_EVENTS_REPLAY_TOPIC_ARN)".into())
    })?;
    let services = &app.config().subscriber_services;
    if !services.iter().any(|s| s == service) {
        return Err(invalid(format!(
            "{service:?} is not a subscribing service (SubscriberServices: {})",
            services.join(", ")
        )));
    }
    let now = app.now();
    let earliest = now - crate::events::REPLAY_WINDOW_SECS;
    // An RFC 3339 time, or a time ago: `90m`, `6h`, `2d`.
    let time = |name: &str, text: Option<String>| -> Result<Option<i64>, AuthError> {
        text.map(|t| {
            let t = t.trim();
            let ago = t
                .strip_suffix(['m', 'h', 'd'])
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| (0..=100_000).contains(n))
                .map(|n| {
                    let unit = match t.chars().last() {
                        Some('m') => 60,
                        Some('h') => 3600,
                        _ => 86_400,
                    };
                    now - n * unit
                });
            ago.or_else(|| crate::domain::parse_rfc3339(t))
                .ok_or_else(|| {
                    invalid(format!(
                        "{name} must be an RFC 3339 time or a time ago (90m, 6h, 2d)"
                    ))
                })
        })
        .transpose()
    };
    let until = time("until", until)?.unwrap_or(now).min(now);
    let since = match (time("since", since)?, user) {
        (Some(since), _) => since,
        (None, Some(_)) => earliest,
        (None, None) => return Err(invalid("name a period (since) or a user".into())),
    };
    let since = since.max(earliest);
    if since > until {
        return Err(invalid("since is after until".into()));
    }
    // A user by id, email or phone; an id alone may be a deleted account's.
    let (user_id, account) = match user {
        None => (None, None),
        Some(who) => match find(app, who).await {
            Ok(account) => (Some(account.user_id.clone()), Some(account)),
            Err(AuthError::UserNotFound) if uuid::Uuid::parse_str(who.trim()).is_ok() => {
                (Some(who.trim().to_lowercase()), None)
            }
            Err(error) => return Err(error),
        },
    };
    let replayed = replayer
        .replay(app.store(), service, (since, until), user_id.as_deref())
        .await?;
    if let Some(account) = &account {
        let audit = Audit::event(audit::OPERATOR_ACTION)
            .by(actor)
            .detail(format!("replay to {service}"));
        record_alone(app, account, &audit).await;
    }
    Ok(json!({
        "service": service,
        "replayed": replayed,
        "from": rfc3339(since),
        "until": rfc3339(until),
        "user_id": user_id,
    }))
}

/// Records an operator action that writes nothing else (a read, a reset request, a replay),
/// after it: its record alone.
async fn record_alone(app: &impl Base, user: &UserItem, audit: &Audit) {
    app.store()
        .audit_alone(&user.user_id, audit, app.now_ms())
        .await;
}

fn to_value(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The account a command names: by user id, email or phone (`user_not_found` otherwise).
pub async fn find(app: &impl Base, who: &str) -> Result<UserItem, AuthError> {
    let who = who.trim();
    let user_id = if let Ok(id) = uuid::Uuid::parse_str(who) {
        id.to_string()
    } else {
        let identifier = if who.contains('@') {
            Identifier::from_pair(Some(who), None)?
        } else {
            Identifier::from_pair(None, Some(who))?
        };
        let claim: Option<ClaimItem> = app
            .store()
            .get(
                &keys::identifier(identifier.kind(), identifier.normalized()),
                keys::CLAIM,
            )
            .await?;
        claim.ok_or(AuthError::UserNotFound)?.user_id
    };
    app.store()
        .get::<UserItem>(&keys::user(&user_id), keys::PROFILE)
        .await?
        .ok_or(AuthError::UserNotFound)
}

async fn show(app: &impl Base, user: &UserItem) -> Result<UserSummary, AuthError> {
    let mut shown = summary(user);
    shown.sessions = Some(session::live_sessions(app, user, None).await?.len());
    shown.provisioning = Some(crate::provisioning::status(
        user,
        &app.config().subscriber_services,
    ));
    let gate: Option<LoginGateItem> = app.store().get(&login::gate_of(user)?, keys::LOCK).await?;
    let now_ms = app.now_ms();
    shown.login_lock = Some(LockState {
        failures: gate.as_ref().map_or(0, |g| g.failures),
        locked_until: gate
            .filter(|g| g.locked_until_ms > now_ms)
            .map(|g| rfc3339(g.locked_until_ms.div_euclid(1000) + 1)),
    });
    Ok(shown)
}

async fn list(
    app: &impl Base,
    unverified: bool,
    created_after: Option<&str>,
    cursor: Option<&str>,
    limit: Option<i32>,
) -> Result<Value, AuthError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AuthError::InvalidRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    let after = created_after
        .map(|t| {
            crate::domain::parse_rfc3339(t).ok_or_else(|| {
                AuthError::InvalidRequest("created_after must be an RFC 3339 time".into())
            })
        })
        .transpose()?;
    let page = app
        .store()
        .page_of_accounts(unverified, after, cursor, limit)
        .await?;
    let users: Vec<UserSummary> = page
        .items
        .into_iter()
        .filter_map(|item| serde_dynamo::from_item::<_, UserItem>(item).ok())
        .map(|user| summary(&user))
        .collect();
    Ok(json!({ "users": users, "next_cursor": page.next }))
}

async fn disable(
    app: &impl Base,
    user: &UserItem,
    reason: &str,
    actor: &str,
) -> Result<Value, AuthError> {
    let now = app.now();
    let audit = Audit::event(audit::ACCOUNT_DISABLED)
        .by(actor)
        .detail(reason);
    let also = vec![
        events::outbox_about(app.store(), events::USER_DISABLED, &user.user_id, now)?,
        events::outbox_sessions_revoked(app.store(), &user.user_id, now)?,
        app.store().audited(&user.user_id, &audit, app.now_ms())?,
    ];
    match app
        .store()
        .disable_account(&user.user_id, reason, now, also)
        .await?
    {
        Toggled::Done => {
            tracing::info!(user_id = %user.user_id, "account disabled; its sessions ended");
            Ok(json!({ "disabled": true }))
        }
        Toggled::Already => Ok(json!({ "disabled": true, "already": true })),
        Toggled::Gone => Err(AuthError::UserNotFound),
    }
}

async fn enable(app: &impl Base, user: &UserItem, actor: &str) -> Result<Value, AuthError> {
    let now = app.now();
    let audit = Audit::event(audit::ACCOUNT_ENABLED).by(actor);
    let also = vec![
        events::outbox_about(app.store(), events::USER_ENABLED, &user.user_id, now)?,
        app.store().audited(&user.user_id, &audit, app.now_ms())?,
    ];
    match app.store().enable_account(&user.user_id, also).await? {
        Toggled::Done => {
            tracing::info!(user_id = %user.user_id, "account enabled");
            Ok(json!({ "disabled": false }))
        }
        Toggled::Already => Ok(json!({ "disabled": false, "already": true })),
        Toggled::Gone => Err(AuthError::UserNotFound),
    }
}

/// Clears the identifier's sign-in lock, its send counter and its daily window of code tries.
async fn unlock(app: &impl Base, user: &UserItem, audit: &Audit) -> Result<(), AuthError> {
    let identifier_key = keys::identifier(verify::kind_of(user)?, &user.identifier);
    let (sends, guesses) = crate::ops::limits::SendSlot::keys(&identifier_key);
    let store = app.store();
    let items = vec![
        store.login_gate_forgotten(&login::gate_of(user)?)?,
        store.delete(&sends, keys::LIMIT, None)?,
        store.delete(&guesses, keys::BUDGET, None)?,
        store.audited(&user.user_id, audit, app.now_ms())?,
    ];
    match store.transact(items).await? {
        crate::store::TxOutcome::Committed => Ok(()),
        crate::store::TxOutcome::Cancelled(reasons) => {
            Err(AuthError::internal(format!("unlock collided: {reasons:?}")))
        }
    }
}

/// The transaction of `DELETE /me`, without the password, and `user.deleted` says `admin`.
async fn delete(app: &impl Base, user: &UserItem, actor: &str) -> Result<(), AuthError> {
    let mut user = user.clone();
    for _ in 0..MAX_ROUNDS {
        let by = DeletedBy::Operator {
            passkeys: user.passkeys,
        };
        let audit = Audit::event(audit::OPERATOR_ACTION)
            .by(actor)
            .detail("delete");
        let record = app.store().audited(&user.user_id, &audit, app.now_ms())?;
        match account::delete_once(
            app.store(),
            &user,
            by,
            DeletionReason::Admin,
            &[record],
            app.now(),
        )
        .await?
        {
            Deletion::Deleted => return Ok(()),
            Deletion::AccountChanged | Deletion::Raced => {
                user = app
                    .store()
                    .get::<UserItem>(&user.pk, keys::PROFILE)
                    .await?
                    .ok_or(AuthError::UserNotFound)?;
            }
        }
    }
    Err(AuthError::internal(
        "deletion kept conflicting with concurrent writes",
    ))
}

/// Attributes an export never carries: hashes, secrets, code digests, key material.
const SECRET_ATTRIBUTES: &[&str] = &[
    "password_hash",
    "secret",
    "recovery",
    "digest",
    "credential",
    "code_pk",
    "reset_code_pk",
    "change_code_pk",
    "pkce_verifier",
    "nonce",
];

/// Everything the table holds about the account, for an access request: its own items
/// (profile, authenticator app, passkeys, audit records), the claims it holds, and its
/// sessions, without any hash, secret or code digest.
async fn export(app: &impl Base, user: &UserItem) -> Result<Value, AuthError> {
    let own = app.store().items_under_user(&user.user_id).await?;
    let mut profile = Value::Null;
    let mut factors = Vec::new();
    let mut passkeys = Vec::new();
    let mut activity = Vec::new();
    for item in own {
        let sk = match item.get("sk") {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => continue,
        };
        let value = plain(item);
        if sk == keys::PROFILE {
            profile = value;
        } else if sk.starts_with("AUDIT#") {
            activity.push(value);
        } else if sk.starts_with("PASSKEY#") {
            passkeys.push(value);
        } else {
            factors.push(value);
        }
    }
    activity.reverse();
    let claims = account::owned_claims(app.store(), user).await?;
    let sessions: Vec<Value> = app
        .store()
        .sessions_of(&user.user_id)
        .await?
        .into_iter()
        .map(|family| {
            json!({
                "id": family.family_id,
                "created_at": rfc3339(family.created_at),
                "last_used_at": family.last_used_at.map(rfc3339),
                "expires_at": rfc3339(family.expires_at),
                "revoked": family.revoked,
                "live": !family.revoked && family.generation == user.session_generation,
                "ip": family.ip,
                "user_agent": family.user_agent,
                "amr": family.amr,
            })
        })
        .collect();
    Ok(json!({
        "exported_at": rfc3339(app.now()),
        "user_id": user.user_id,
        "profile": profile,
        "claims": claims,
        "factors": factors,
        "passkeys": passkeys,
        "providers": user.providers.keys().collect::<Vec<_>>(),
        "sessions": sessions,
        "activity": activity,
    }))
}

/// An item as plain JSON, without the attributes an export never carries.
fn plain(item: HashMap<String, AttributeValue>) -> Value {
    let mut value: Value = serde_dynamo::from_item(item).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for name in SECRET_ATTRIBUTES {
            map.remove(*name);
        }
    }
    value
}
