//! Other services acknowledge new users (seed 002's responses). A subscribing service that
//! has made its record for a `user.created` sends `{service, user_id, event_id, status}` to
//! the acknowledgement queue; `provisioning-ack` records it on the account, and `GET /me`
//! shows each configured service's status (`pending` until it answers). An account waits in
//! the [`TIMELINE_INDEX`] under [`AWAITING`] until every configured service has said
//! `created`, so the sweeper counts, per service, the accounts still waiting after the
//! configured time from an index, never a scan.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::store::{Expr, Store, UserItem, keys};

/// The sparse index of items in time order (`timeline`, by `created_at`): accounts awaiting
/// acknowledgements (`timeline` = [`AWAITING`]) and the outbox by day (`OUTBOX#<date>`).
pub const TIMELINE_INDEX: &str = "timeline";
/// An account's `timeline` while a configured service has not acknowledged it.
pub const AWAITING: &str = "PROVISIONING";
pub const CREATED: &str = "created";
pub const FAILED: &str = "failed";
pub const PENDING: &str = "pending";

/// The subscribing services, from a comma-separated list (`SUBSCRIBER_SERVICES`, template
/// parameter `SubscriberServices`): lowercase names of letters, digits and `_`.
pub fn services(list: &str) -> Result<Vec<String>, String> {
    let mut services: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !valid_service(name) {
            return Err(format!(
                "subscriber service {name:?}: use 1 to 32 lowercase letters, digits or _"
            ));
        }
        if !services.iter().any(|s| s == name) {
            services.push(name.to_owned());
        }
    }
    Ok(services)
}

fn valid_service(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The configured services from `SUBSCRIBER_SERVICES` (none when unset).
pub fn services_from_env() -> Result<Vec<String>, String> {
    services(&std::env::var("SUBSCRIBER_SERVICES").unwrap_or_default())
}

/// Each configured service's status for `user`: `created`, `failed` or `pending`.
pub fn status(user: &UserItem, services: &[String]) -> BTreeMap<String, String> {
    services
        .iter()
        .map(|service| {
            let status = user
                .provisioning
                .get(service)
                .map_or(PENDING, String::as_str);
            (service.clone(), status.to_owned())
        })
        .collect()
}

/// An account as the timeline index projects it: who, and what was acknowledged so far.
#[derive(Debug, Clone, Deserialize)]
pub struct Awaiting {
    pub user_id: String,
    #[serde(default)]
    pub provisioning: BTreeMap<String, String>,
}

/// An acknowledgement as a service sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub service: String,
    pub user_id: String,
    /// The `event_id` of the `user.created` it answers.
    pub event_id: String,
    pub status: AckStatus,
    /// Why it failed, in the service's words (logged, shortened; not stored).
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckStatus {
    Created,
    Failed,
}

impl AckStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Created => CREATED,
            Self::Failed => FAILED,
        }
    }
}

/// What became of an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Now on the account.
    Recorded,
    /// The service had already said `created`: nothing changes (`created` is final).
    AlreadyCreated,
    /// No such account (never made, or deleted since): dropped.
    UnknownUser,
    /// Not a configured service: dropped.
    UnknownService,
}

/// Records `ack` on its account: `failed` until the service says `created`, and `created`
/// for good; a late or repeated acknowledgement changes nothing after that. Once every
/// configured service has said `created`, the account leaves the timeline index.
pub async fn record(store: &Store, services: &[String], ack: &Ack) -> Result<Recorded, AuthError> {
    if !services.contains(&ack.service) {
        return Ok(Recorded::UnknownService);
    }
    if uuid::Uuid::parse_str(&ack.user_id).is_err() {
        return Ok(Recorded::UnknownUser);
    }
    let pk = keys::user(&ack.user_id);
    let status = ack.status.as_str();
    for _ in 0..crate::ops::MAX_ROUNDS {
        let Some(user) = store.get::<UserItem>(&pk, keys::PROFILE).await? else {
            return Ok(Recorded::UnknownUser);
        };
        if user.provisioning.get(&ack.service).map(String::as_str) == Some(CREATED) {
            // A redelivery after a write whose follow-up did not happen finishes it.
            leave_timeline_if_done(store, services, &user).await?;
            return Ok(Recorded::AlreadyCreated);
        }
        // The account's first acknowledgement makes the map; a later one writes its key (one
        // SET may not both make a map and write into it).
        let (update, condition) = if user.provisioning.is_empty() {
            (
                Expr::new("SET #provisioning = :map").one_entry_map(":map", &ack.service, status),
                Expr::new("attribute_exists(pk) AND attribute_not_exists(#provisioning)"),
            )
        } else {
            (
                Expr::new("SET #provisioning.#service = :status")
                    .name("#service", &ack.service)
                    .s(":status", status),
                Expr::new(
                    "attribute_exists(#provisioning) AND (attribute_not_exists(#provisioning.#service) \
                     OR #provisioning.#service <> :created)",
                )
                .name("#service", &ack.service)
                .s(":created", CREATED),
            )
        };
        if let Some(now) = store
            .update_returning::<UserItem>(&pk, keys::PROFILE, update, condition)
            .await?
        {
            if ack.status == AckStatus::Created {
                leave_timeline_if_done(store, services, &now).await?;
            }
            return Ok(Recorded::Recorded);
        }
        // Another acknowledgement (or the account's deletion) got in first: look again.
    }
    Err(AuthError::internal("acknowledgements kept colliding"))
}

/// Takes the account out of the timeline index once every configured service has said
/// `created`. Each acknowledgement looks at the account as its own write left it, so of two
/// racing the last to write sees both (`created` never goes back, so the condition can name
/// them all).
async fn leave_timeline_if_done(
    store: &Store,
    services: &[String],
    user: &UserItem,
) -> Result<(), AuthError> {
    let done =
        |service: &String| user.provisioning.get(service).map(String::as_str) == Some(CREATED);
    if user.timeline.as_deref() != Some(AWAITING) || !services.iter().all(done) {
        return Ok(());
    }
    let mut condition = Expr::new("#timeline = :awaiting").s(":awaiting", AWAITING);
    for (i, service) in services.iter().enumerate() {
        let token = format!("#s{i}");
        condition = condition.and(
            Expr::new(format!("#provisioning.{token} = :created"))
                .name(&token, service)
                .s(":created", CREATED),
        );
    }
    // A failed condition: another acknowledgement took it out first.
    store
        .update_if(
            &user.pk,
            keys::PROFILE,
            Expr::new("REMOVE #timeline"),
            condition,
        )
        .await?;
    Ok(())
}

/// A query of the timeline index: the items under `key` made from `from` to `to` (epoch
/// seconds, inclusive), oldest first; the caller pages it.
pub(crate) fn timeline_between(
    store: &Store,
    key: &str,
    from: i64,
    to: i64,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    store
        .client()
        .query()
        .table_name(store.table())
        .index_name(TIMELINE_INDEX)
        .key_condition_expression("#timeline = :key AND created_at BETWEEN :from AND :to")
        .expression_attribute_names("#timeline", "timeline")
        .expression_attribute_values(":key", AttributeValue::S(key.to_owned()))
        .expression_attribute_values(":from", AttributeValue::N(from.to_string()))
        .expression_attribute_values(":to", AttributeValue::N(to.to_string()))
}

/// Per configured service, how many accounts made between `window_secs` and `lag_secs` ago
/// it has not acknowledged as `created` (pending or failed): read from the timeline index.
pub async fn unacknowledged(
    store: &Store,
    services: &[String],
    now: i64,
    lag_secs: i64,
    window_secs: i64,
) -> Result<BTreeMap<String, u64>, AuthError> {
    let mut counts: BTreeMap<String, u64> = services.iter().map(|s| (s.clone(), 0)).collect();
    let mut start = None;
    loop {
        let page = timeline_between(store, AWAITING, now - window_secs, now - lag_secs)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))?;
        for raw in page.items.unwrap_or_default() {
            let user: Awaiting = serde_dynamo::from_item(raw).map_err(AuthError::internal)?;
            for (service, count) in counts.iter_mut() {
                if user.provisioning.get(service).map(String::as_str) != Some(CREATED) {
                    *count += 1;
                }
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(counts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_lowercase_names() {
        assert_eq!(
            services(" social, blog,social ,").unwrap(),
            ["social", "blog"]
        );
        assert!(services("").unwrap().is_empty());
        for bad in ["Social", "blog-service", "1st", "a b", &"x".repeat(33)] {
            assert!(services(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_ack_is_strict_json() {
        let ack: Ack = serde_json::from_str(
            r#"{"service":"blog","user_id":"u","event_id":"e","status":"created"}"#,
        )
        .unwrap();
        assert_eq!(ack.status, AckStatus::Created);
        for bad in [
            r#"{"service":"blog","user_id":"u","event_id":"e","status":"pending"}"#,
            r#"{"service":"blog","user_id":"u","status":"created"}"#,
            r#"{"service":"blog","user_id":"u","event_id":"e","status":"created","x":1}"#,
        ] {
            assert!(serde_json::from_str::<Ack>(bad).is_err(), "{bad}");
        }
    }
}
