//! The audit trail: one item per security event of an account, under the account's own key
//! (sort key `AUDIT#<epoch ms>#<random>`, so a query reads them newest first), kept 400 days
//! by TTL. Written in the same transaction as the change it records where there is one; a
//! failed sign-in is its own write. Never a secret, code or hash: what happened, when, from
//! where (address, user agent), how (`amr`), by whom (an operator's principal), and a short
//! non-secret detail (a passkey's name, a provider's name, an operator's reason).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{Store, Write, keys};
use crate::AuthError;
use crate::error::Step as _;

/// How long an audit record is kept.
pub const AUDIT_RETENTION_SECS: i64 = 400 * 24 * 3600;
const PREFIX: &str = "AUDIT#";
/// No account has the nil id (ids are random UUIDv4s).
const NOBODY: &str = "00000000-0000-0000-0000-000000000000";

/// One security event of an account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditItem {
    pub pk: String,
    pub sk: String,
    /// What happened: `sign_in`, `sign_in_failed`, `password_changed`, `account_disabled`…
    pub event: String,
    /// Epoch milliseconds.
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// How the user proved who they are (`amr` values), for a sign-in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The operator's principal, for what an operator did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub expires_at: i64,
}

/// An audit record about to be written; see [`AuditItem`].
#[derive(Debug, Clone, Default)]
pub struct Audit {
    pub event: &'static str,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub amr: Vec<String>,
    pub actor: Option<String>,
    pub detail: Option<String>,
}

impl Audit {
    pub fn event(event: &'static str) -> Self {
        Self {
            event,
            ..Self::default()
        }
    }

    /// From where: the request's address and user agent.
    pub fn from(mut self, origin: &crate::ops::budgets::Origin) -> Self {
        self.ip.clone_from(&origin.ip);
        self.user_agent.clone_from(&origin.user_agent);
        self
    }

    pub fn by(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_owned());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn amr(mut self, amr: &[String]) -> Self {
        self.amr = amr.to_vec();
        self
    }

    /// The item for the account `user_id` at `now_ms`.
    pub fn item(&self, user_id: &str, now_ms: i64) -> Result<AuditItem, AuthError> {
        let suffix = crate::crypto::base64url(&crate::crypto::random_array::<6>()?);
        Ok(AuditItem {
            pk: keys::user(user_id),
            sk: format!("{PREFIX}{now_ms:013}#{suffix}"),
            event: self.event.to_owned(),
            at_ms: now_ms,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            amr: self.amr.clone(),
            actor: self.actor.clone(),
            detail: self.detail.clone(),
            expires_at: now_ms.div_euclid(1000) + AUDIT_RETENTION_SECS,
        })
    }
}

/// A page of an account's audit records, newest first, and where the next page starts.
pub struct AuditPage {
    pub items: Vec<AuditItem>,
    pub next: Option<String>,
}

impl Store {
    /// The write that records `audit` for `user_id`, for a transaction.
    pub fn audited(&self, user_id: &str, audit: &Audit, now_ms: i64) -> Result<Write, AuthError> {
        self.put(&audit.item(user_id, now_ms)?, None)
    }

    /// Records `audit` on its own (an event that changes nothing else: a failed sign-in).
    /// Best effort: the request it records is answered whatever becomes of it.
    pub async fn audit_alone(&self, user_id: &str, audit: &Audit, now_ms: i64) {
        let written = match self.audited(user_id, audit, now_ms) {
            Ok(write) => self.transact(vec![write]).await.map(drop),
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            tracing::warn!(%error, event = audit.event, "audit record not written");
        }
    }

    /// The same write as [`Store::audit_alone`], for a sign-in failure no account had: under
    /// the nil user id (no account's), kept an hour.
    pub async fn audit_nobody(&self, audit: &Audit, now_ms: i64) {
        let written = match audit.item(NOBODY, now_ms) {
            Ok(mut item) => {
                item.expires_at = now_ms.div_euclid(1000) + 3600;
                match self.put(&item, None) {
                    Ok(write) => self.transact(vec![write]).await.map(drop),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            tracing::warn!(%error, event = audit.event, "audit record not written");
        }
    }

    /// Up to `limit` of `user_id`'s audit records older than the cursor `before` (an
    /// `AUDIT#…` sort key a page handed out), newest first.
    pub async fn audit_page(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: i32,
    ) -> Result<AuditPage, AuthError> {
        let upper = match before {
            Some(sk) if sk.starts_with(PREFIX) && sk.len() < 64 => sk.to_owned(),
            Some(_) => {
                return Err(AuthError::InvalidRequest(
                    "the cursor is not one a page of activity handed out".into(),
                ));
            }
            // Past every `AUDIT#<13 digits>…` key.
            None => format!("{PREFIX}~"),
        };
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :upper")
            .expression_attribute_values(":pk", AttributeValue::S(keys::user(user_id)))
            .expression_attribute_values(":first", AttributeValue::S(PREFIX.to_owned()))
            .expression_attribute_values(":upper", AttributeValue::S(upper.clone()))
            .scan_index_forward(false)
            .limit(limit + 2)
            .send()
            .await
            .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
            .step("reading an account's activity")?;
        let mut items: Vec<AuditItem> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item: HashMap<String, AttributeValue>| serde_dynamo::from_item(item))
            .collect::<Result<_, _>>()
            .map_err(AuthError::internal)?;
        // BETWEEN includes the cursor's own record, already handed out.
        items.retain(|item| item.sk != upper);
        let next = (items.len() > limit as usize).then(|| {
            items.truncate(limit as usize);
            items.last().map(|item| item.sk.clone())
        });
        Ok(AuditPage {
            items,
            next: next.flatten(),
        })
    }
}
