//! What operators do to an account (`authctl`, through the `admin` function): disable and
//! enable it, and read everything stored about it. Each change is one transaction with the
//! event it announces, on the same conditions the user-facing routes keep.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Expr, Store, TxOutcome, UNVERIFIED, UNVERIFIED_INDEX, Write, keys};
use crate::AuthError;
use crate::error::Step as _;

/// How a disable or an enable ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggled {
    Done,
    /// Already so (disabled, or enabled): nothing was written.
    Already,
    Gone,
}

/// One page of a listing, and the cursor of the next (opaque to callers).
pub struct Page {
    pub items: Vec<HashMap<String, AttributeValue>>,
    pub next: Option<String>,
}

impl Store {
    /// Disables the account `user_id` at `now` for `reason`: in one write, `disabled_at` is
    /// set and the session generation moves on, so every session ends and every transaction
    /// that would start or continue one (`generation_is`) fails from then on; `also` (the
    /// event, the audit record) commits with it.
    pub async fn disable_account(
        &self,
        user_id: &str,
        reason: &str,
        now: i64,
        also: Vec<Write>,
    ) -> Result<Toggled, AuthError> {
        let mut items = vec![self.update(
            &keys::user(user_id),
            keys::PROFILE,
            Expr::new("SET #disabled_at = :now, #disabled_reason = :reason ADD #session_generation :one")
                .n(":now", now)
                .s(":reason", reason)
                .n(":one", 1),
            Some(Expr::new("attribute_exists(pk) AND attribute_not_exists(#disabled_at)")),
        )?];
        items.extend(also);
        self.toggled(items, user_id).await
    }

    /// Enables the account `user_id` again (its sessions stay ended), with `also`.
    pub async fn enable_account(
        &self,
        user_id: &str,
        also: Vec<Write>,
    ) -> Result<Toggled, AuthError> {
        let mut items = vec![self.update(
            &keys::user(user_id),
            keys::PROFILE,
            Expr::new("REMOVE #disabled_at, #disabled_reason"),
            Some(Expr::new("attribute_exists(#disabled_at)")),
        )?];
        items.extend(also);
        self.toggled(items, user_id).await
    }

    async fn toggled(&self, items: Vec<Write>, user_id: &str) -> Result<Toggled, AuthError> {
        match self.transact(items).await? {
            TxOutcome::Committed => Ok(Toggled::Done),
            outcome if outcome.condition_failed(0) => {
                let exists = self
                    .get::<super::UserItem>(&keys::user(user_id), keys::PROFILE)
                    .await?
                    .is_some();
                Ok(if exists {
                    Toggled::Already
                } else {
                    Toggled::Gone
                })
            }
            TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
                "disable or enable collided: {reasons:?}"
            ))),
        }
    }

    /// Every item under the account's own key (profile, authenticator app, passkeys,
    /// recovery codes, audit records…), as stored.
    pub async fn items_under_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, AuthError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(keys::user(user_id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
                .step("reading an account's items")?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// A page of up to `limit` accounts' profiles, from `cursor`: every account (a scan, for
    /// an operator's listing), or the unverified ones (their index), created after
    /// `created_after` when given.
    pub async fn page_of_accounts(
        &self,
        unverified: bool,
        created_after: Option<i64>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<Page, AuthError> {
        let start = cursor.map(decode_cursor).transpose()?;
        let mut filter = vec!["sk = :profile"];
        let mut values = HashMap::from([(
            ":profile".to_owned(),
            AttributeValue::S(keys::PROFILE.to_owned()),
        )]);
        if let Some(after) = created_after {
            filter.push("created_at > :after");
            values.insert(":after".to_owned(), AttributeValue::N(after.to_string()));
        }
        let filter = filter.join(" AND ");
        // A filtered page may hold fewer than `limit` items: read on until it is full or the
        // table (or index) ends.
        let mut items = Vec::new();
        let mut start = start;
        loop {
            let want = limit - items.len() as i32;
            let (page, last) = if unverified {
                let mut values = values.clone();
                values.insert(
                    ":unverified".to_owned(),
                    AttributeValue::S(UNVERIFIED.to_owned()),
                );
                let out = self
                    .client()
                    .query()
                    .table_name(self.table())
                    .index_name(UNVERIFIED_INDEX)
                    .key_condition_expression("unverified = :unverified")
                    .filter_expression(&filter)
                    .set_expression_attribute_values(Some(values))
                    .limit(want.max(1))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
                    .step("listing unverified accounts")?;
                (out.items.unwrap_or_default(), out.last_evaluated_key)
            } else {
                let out = self
                    .client()
                    .scan()
                    .table_name(self.table())
                    .filter_expression(&filter)
                    .set_expression_attribute_values(Some(values.clone()))
                    .limit(want.max(1).max(100))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
                    .step("listing accounts")?;
                (out.items.unwrap_or_default(), out.last_evaluated_key)
            };
            for item in page {
                if items.len() as i32 >= limit {
                    break;
                }
                items.push(item);
            }
            let last = last.filter(|k| !k.is_empty());
            if items.len() as i32 >= limit || last.is_none() {
                // A full page: the next starts after its last item, which may sit before the
                // end of what was read.
                let next = match items.last() {
                    Some(item) if items.len() as i32 >= limit => {
                        Some(encode_cursor(&key_of(item, unverified)))
                    }
                    _ => None,
                };
                return Ok(Page { items, next });
            }
            start = last;
        }
    }
}

/// The primary key of a listed item (and the index's keys, when listed from the index): where
/// the next page starts.
fn key_of(
    item: &HashMap<String, AttributeValue>,
    from_index: bool,
) -> HashMap<String, AttributeValue> {
    let mut names = vec!["pk", "sk"];
    if from_index {
        names.extend(["unverified", "expires_at"]);
    }
    names
        .into_iter()
        .filter_map(|n| item.get(n).map(|v| (n.to_owned(), v.clone())))
        .collect()
}

fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let plain: HashMap<&str, serde_json::Value> = key
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k.as_str(), serde_json::json!({ "S": s }))),
            AttributeValue::N(n) => Some((k.as_str(), serde_json::json!({ "N": n }))),
            _ => None,
        })
        .collect();
    crate::crypto::base64url(serde_json::to_string(&plain).unwrap_or_default().as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<HashMap<String, AttributeValue>, AuthError> {
    use base64::Engine as _;
    let invalid = || AuthError::InvalidRequest("the cursor is not one a listing handed out".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let plain: HashMap<String, HashMap<String, String>> =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    plain
        .into_iter()
        .map(|(name, value)| match (value.get("S"), value.get("N")) {
            (Some(s), None) => Ok((name, AttributeValue::S(s.clone()))),
            (None, Some(n)) if n.parse::<i64>().is_ok() => Ok((name, AttributeValue::N(n.clone()))),
            _ => Err(invalid()),
        })
        .collect()
}
