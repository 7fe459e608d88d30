//! The audit trail's events and how they are read: `GET /me/activity` (the caller's own,
//! newest first, paged) and `authctl user activity`. The records are written by the
//! changes they record (see `store::Audit`).

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::events::rfc3339;
use crate::ops::Base;
use crate::ops::bearer::Caller;
use crate::store::{Audit, AuditItem, Write};

/// A session started (any way of signing in; `amr` says which).
pub const SIGNED_IN: &str = "signed_in";
/// A wrong password for the account.
pub const SIGN_IN_FAILED: &str = "sign_in_failed";
pub const PASSWORD_CHANGED: &str = "password_changed";
pub const PASSWORD_RESET: &str = "password_reset";
/// Every session ended (sign out everywhere, or an operator's revoke-sessions).
pub const SESSIONS_ENDED: &str = "sessions_ended";
pub const SESSION_REVOKED: &str = "session_revoked";
pub const TOTP_ENABLED: &str = "totp_enabled";
pub const TOTP_DISABLED: &str = "totp_disabled";
pub const RECOVERY_CODES_REPLACED: &str = "recovery_codes_replaced";
pub const RECOVERY_CODE_USED: &str = "recovery_code_used";
pub const PASSKEY_ADDED: &str = "passkey_added";
pub const PASSKEY_REMOVED: &str = "passkey_removed";
pub const PROVIDER_LINKED: &str = "provider_linked";
pub const PROVIDER_UNLINKED: &str = "provider_unlinked";
pub const IDENTIFIER_CHANGED: &str = "identifier_changed";
pub const ACCOUNT_DISABLED: &str = "account_disabled";
pub const ACCOUNT_ENABLED: &str = "account_enabled";
/// An operator's other actions (`authctl user …`): the command is the detail.
pub const OPERATOR_ACTION: &str = "operator_action";

/// The audit record of a signed-in caller's own change `event` (with a non-secret
/// `detail`), for the change's transaction.
pub(crate) fn by_caller(
    app: &impl Base,
    caller: &Caller,
    event: &'static str,
    detail: Option<&str>,
) -> Result<Vec<Write>, AuthError> {
    let mut audit = Audit::event(event).from(&caller.origin);
    audit.detail = detail.map(str::to_owned);
    Ok(vec![app.store().audited(
        &caller.user.user_id,
        &audit,
        app.now_ms(),
    )?])
}

/// How many records a page holds at most, and by default.
pub const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 20;

/// One record as the account's owner and operators read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    pub event: String,
    /// RFC 3339, UTC, with milliseconds.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Who did it, when an operator did (their principal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A page of activity, and the cursor of the next (absent on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPage {
    pub activity: Vec<ActivityView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl From<AuditItem> for ActivityView {
    fn from(item: AuditItem) -> Self {
        let at = rfc3339_millis(item.at_ms);
        Self {
            event: item.event,
            at,
            ip: item.ip,
            user_agent: item.user_agent,
            amr: item.amr,
            actor: item.actor,
            detail: item.detail,
        }
    }
}

fn rfc3339_millis(at_ms: i64) -> String {
    let seconds = rfc3339(at_ms.div_euclid(1000));
    // `…:SSZ` → `…:SS.mmmZ`
    match seconds.strip_suffix('Z') {
        Some(stem) => format!("{stem}.{:03}Z", at_ms.rem_euclid(1000)),
        None => seconds,
    }
}

/// `user_id`'s activity, newest first: up to `limit` records (20 by default, at most 100)
/// after the page `cursor` ended at.
pub async fn page(
    app: &impl Base,
    user_id: &str,
    cursor: Option<&str>,
    limit: Option<i32>,
) -> Result<ActivityPage, AuthError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AuthError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let page = app.store().audit_page(user_id, cursor, limit).await?;
    Ok(ActivityPage {
        activity: page.items.into_iter().map(ActivityView::from).collect(),
        next_cursor: page.next,
    })
}

/// `GET /me/activity?cursor=…&limit=…` (bearer): the caller's own activity.
pub async fn mine(
    app: &impl Base,
    caller: &Caller,
    cursor: Option<&str>,
    limit: Option<&str>,
) -> Result<ActivityPage, AuthError> {
    let limit = limit
        .map(|l| {
            l.parse::<i32>()
                .map_err(|_| AuthError::InvalidRequest("limit must be a number".into()))
        })
        .transpose()?;
    let mut page = page(app, &caller.user.user_id, cursor, limit).await?;
    // The user learns that an operator acted, not which principal of which AWS account.
    for record in &mut page.activity {
        if record.actor.is_some() {
            record.actor = Some(BY_AN_OPERATOR.to_owned());
        }
    }
    Ok(page)
}

/// What `GET /me/activity` says of an operator's action (`authctl user activity` names them).
pub const BY_AN_OPERATOR: &str = "operator";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_their_milliseconds() {
        assert_eq!(
            rfc3339_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            rfc3339_millis(1_700_000_000_000),
            "2023-11-14T22:13:20.000Z"
        );
    }
}
