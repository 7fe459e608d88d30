//! New users reach other services through an outbox: the event is written in the same
//! transaction as the change it announces, stays pending until it is published to the SNS
//! topic (by the stream consumer, or by the sweeper when the stream record was missed), and
//! then expires. Delivery is at least once; `event_id` lets a subscriber deduplicate.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_sns::types::MessageAttributeValue;
use serde::{Deserialize, Serialize};

use crate::store::{Expr, Store, UserItem, keys};
use crate::{AuthError, Clock};

pub const USER_CREATED: &str = "user.created";
pub const USER_VERIFIED: &str = "user.verified";
pub const USER_DELETED: &str = "user.deleted";
/// An operator disabled the account (it signs in nowhere; its sessions ended), or enabled it.
pub const USER_DISABLED: &str = "user.disabled";
pub const USER_ENABLED: &str = "user.enabled";
/// The account's password was changed by its user or set by a reset code.
pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
/// Every session of the account started before `revoked_before` has ended (a password change
/// or reset, "sign out everywhere", an operator's revoke or disable): access tokens issued
/// before that time are void.
pub const USER_SESSIONS_REVOKED: &str = "user.sessions_revoked";
/// The account's email or phone changed (the event says which kind it is now, never the
/// address).
pub const USER_IDENTIFIER_CHANGED: &str = "user.identifier_changed";

/// Why an account is gone, in `user.deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionReason {
    /// The user deleted it (`DELETE /me`).
    Deleted,
    /// It stayed unverified past its 7 days and the sweeper removed it.
    Expired,
    /// The owner of the address or phone said "I did not sign up" with the confirmation code
    /// (`DELETE /registration/{code}`): someone else registered it.
    Declined,
    /// An operator deleted it (`authctl user delete`).
    Admin,
}
/// The sparse index that lists outbox items still waiting to be published.
pub const PENDING_INDEX: &str = "outbox-pending";
const PENDING: &str = "PENDING";
/// How long a published item stays in the table for inspection before TTL removes it.
const PUBLISHED_RETENTION_SECS: i64 = 7 * 24 * 3600;

/// The event body subscribers receive, version 1. Only what a subscriber needs to create its
/// own record: no email, phone, password hash or code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvent {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    /// RFC 3339, UTC.
    pub occurred_at: String,
    pub user_id: String,
    /// `"email"` or `"phone"`; in `user.created` and `user.verified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// In `user.deleted` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DeletionReason>,
    /// In `user.created` only, and only when true: an operator imported the account from
    /// another system (it is not a new sign-up, and may be verified already).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
    /// In `user.created` only, and only when true: the account came from the Cognito user
    /// pool the service migrates from, at the user's first sign-in (or password reset) here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migrated: bool,
    /// In `user.sessions_revoked` only: RFC 3339, UTC, seconds. An access token of this user
    /// whose `iat` is earlier is void.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_before: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxItem {
    pub pk: String,
    pub sk: String,
    pub event_id: String,
    pub event_type: String,
    pub user_id: String,
    /// The message as published, fixed when the event is written.
    pub payload: String,
    /// `"pending"` or `"published"`.
    pub status: String,
    pub created_at: i64,
    /// Partition key of [`PENDING_INDEX`]; removed on publication, so the index only holds
    /// what is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_pending: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Key of the timeline index: `OUTBOX#<date>` (UTC), so a replay reads one day's events
    /// in time order from the index, never a scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<String>,
}

/// The timeline key of the outbox items made on the day of `epoch_secs` (UTC).
pub fn outbox_day(epoch_secs: i64) -> String {
    format!("OUTBOX#{}", &rfc3339(epoch_secs)[..10])
}

impl OutboxItem {
    pub fn event(&self) -> Result<UserEvent, AuthError> {
        serde_json::from_str(&self.payload).map_err(AuthError::internal)
    }
}

/// The transaction item that records `event_type` (`user.created`, `user.verified`) for
/// `user`, pending.
pub fn outbox_put(
    store: &Store,
    event_type: &str,
    user: &UserItem,
    now: i64,
) -> Result<TransactWriteItem, AuthError> {
    let mut event = UserEvent::new(event_type, &user.user_id, now);
    event.identifier_type = Some(user.identifier_type.clone());
    event.username = user.username.clone();
    pending(store, &event, now)
}

/// The transaction item that records `event_type` (`user.disabled`, `user.enabled`) for the
/// account `user_id`, pending: nothing but the user id.
pub fn outbox_about(
    store: &Store,
    event_type: &str,
    user_id: &str,
    now: i64,
) -> Result<TransactWriteItem, AuthError> {
    pending(store, &UserEvent::new(event_type, user_id, now), now)
}

/// The transaction item that records `user.sessions_revoked` for the account `user_id`:
/// every session started before `now` has ended.
pub fn outbox_sessions_revoked(
    store: &Store,
    user_id: &str,
    now: i64,
) -> Result<TransactWriteItem, AuthError> {
    let mut event = UserEvent::new(USER_SESSIONS_REVOKED, user_id, now);
    event.revoked_before = Some(rfc3339(now));
    pending(store, &event, now)
}

/// The transaction items of a password change or reset: `user.password_changed` and the
/// `user.sessions_revoked` it implies.
pub fn outbox_password_changed(
    store: &Store,
    user_id: &str,
    now: i64,
) -> Result<Vec<TransactWriteItem>, AuthError> {
    Ok(vec![
        outbox_about(store, USER_PASSWORD_CHANGED, user_id, now)?,
        outbox_sessions_revoked(store, user_id, now)?,
    ])
}

/// The transaction item that records `user.identifier_changed` for the account `user_id`,
/// whose identifier is now of `kind` (`email` or `phone`); never the address.
pub fn outbox_identifier_changed(
    store: &Store,
    user_id: &str,
    kind: &str,
    now: i64,
) -> Result<TransactWriteItem, AuthError> {
    let mut event = UserEvent::new(USER_IDENTIFIER_CHANGED, user_id, now);
    event.identifier_type = Some(kind.to_owned());
    pending(store, &event, now)
}

/// The transaction item that records `user.created` for `user`, an account an operator
/// imported (`"imported": true`) or one migrated from the Cognito pool (`"migrated": true`).
pub fn outbox_imported(
    store: &Store,
    user: &UserItem,
    now: i64,
    migrated: bool,
) -> Result<TransactWriteItem, AuthError> {
    let mut event = UserEvent::new(USER_CREATED, &user.user_id, now);
    event.identifier_type = Some(user.identifier_type.clone());
    event.username = user.username.clone();
    event.imported = !migrated;
    event.migrated = migrated;
    pending(store, &event, now)
}

/// The transaction item that records `user.deleted` for the account `user_id`, pending.
pub fn outbox_deleted(
    store: &Store,
    user_id: &str,
    reason: DeletionReason,
    now: i64,
) -> Result<TransactWriteItem, AuthError> {
    let mut event = UserEvent::new(USER_DELETED, user_id, now);
    event.reason = Some(reason);
    pending(store, &event, now)
}

impl UserEvent {
    fn new(event_type: &str, user_id: &str, now: i64) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_type: event_type.to_owned(),
            version: 1,
            occurred_at: rfc3339(now),
            user_id: user_id.to_owned(),
            identifier_type: None,
            username: None,
            reason: None,
            imported: false,
            migrated: false,
            revoked_before: None,
        }
    }
}

fn pending(store: &Store, event: &UserEvent, now: i64) -> Result<TransactWriteItem, AuthError> {
    let item = OutboxItem {
        pk: keys::outbox(&event.event_id),
        sk: keys::EVENT.to_owned(),
        event_id: event.event_id.clone(),
        event_type: event.event_type.clone(),
        user_id: event.user_id.clone(),
        payload: serde_json::to_string(event).map_err(AuthError::internal)?,
        status: "pending".to_owned(),
        created_at: now,
        outbox_pending: Some(PENDING.to_owned()),
        pending_since: Some(now),
        published_at: None,
        expires_at: None,
        timeline: Some(outbox_day(now)),
    };
    store.put_new(&item)
}

/// Publishes outbox items to the topic and marks them published.
#[derive(Clone)]
pub struct Publisher {
    store: Store,
    sns: aws_sdk_sns::Client,
    topic_arn: String,
    clock: std::sync::Arc<dyn Clock>,
}

impl Publisher {
    pub fn new(
        store: Store,
        sns: aws_sdk_sns::Client,
        topic_arn: &str,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            sns,
            topic_arn: topic_arn.to_owned(),
            clock,
        }
    }

    /// The table the outbox lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// From `TABLE_NAME` and `USER_EVENTS_TOPIC_ARN`.
    pub async fn from_env() -> Result<Self, AuthError> {
        let var = |key: &str| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| AuthError::internal(format!("{key} is not set")))
        };
        let sdk = crate::aws::load_sdk_config().await;
        Ok(Self::new(
            Store::new(aws_sdk_dynamodb::Client::new(&sdk), var("TABLE_NAME")?),
            aws_sdk_sns::Client::new(&sdk),
            &var("USER_EVENTS_TOPIC_ARN")?,
            std::sync::Arc::new(crate::SystemClock),
        ))
    }

    /// Publishes one item (again, if it was already) with an `event_type` attribute that
    /// subscriptions filter on, then marks it published.
    #[tracing::instrument(skip_all, fields(event_id = %item.event_id, event_type = %item.event_type))]
    pub async fn publish(&self, item: &OutboxItem) -> Result<(), AuthError> {
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&item.event_type)
            .build()
            .map_err(AuthError::internal)?;
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .message(&item.payload)
            .message_attributes("event_type", attribute)
            .send()
            .await
            .map_err(|e| AuthError::internal(aws_sdk_sns::Error::from(e)))?;
        let now = self.clock.now();
        self.store
            .update_if(
                &item.pk,
                keys::EVENT,
                Expr::new(
                    "SET #status = :published, #published_at = :now, #expires_at = :expires \
                     REMOVE #outbox_pending, #pending_since",
                )
                .s(":published", "published")
                .n(":now", now)
                .n(":expires", now + PUBLISHED_RETENTION_SECS),
                Expr::new("attribute_exists(pk)"),
            )
            .await?;
        tracing::info!("event published");
        Ok(())
    }

    /// Publishes what has been pending for at least `min_age_secs`, oldest first, at most
    /// `limit` items. Returns how many were published. An item that fails is logged and
    /// skipped, so one bad item cannot hold back the others; it is tried again next run.
    pub async fn sweep(&self, min_age_secs: i64, limit: usize) -> Result<usize, AuthError> {
        let cutoff = self.clock.now() - min_age_secs;
        let mut published = 0;
        let mut start = None;
        loop {
            let page = self
                .store
                .client()
                .query()
                .table_name(self.store.table())
                .index_name(PENDING_INDEX)
                .key_condition_expression("outbox_pending = :pending AND pending_since <= :cutoff")
                .expression_attribute_values(":pending", AttributeValue::S(PENDING.to_owned()))
                .expression_attribute_values(":cutoff", AttributeValue::N(cutoff.to_string()))
                .set_exclusive_start_key(start)
                .limit(100)
                .send()
                .await
                .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))?;
            for raw in page.items.unwrap_or_default() {
                let outcome = match serde_dynamo::from_item::<_, OutboxItem>(raw) {
                    Ok(item) => self.publish(&item).await,
                    Err(e) => Err(AuthError::internal(e)),
                };
                match outcome {
                    Ok(()) => published += 1,
                    Err(error) => {
                        tracing::error!(%error, "sweeper could not publish an outbox item")
                    }
                }
                if published >= limit {
                    return Ok(published);
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(published),
            }
        }
    }
}

/// Sends events again to one subscribing service: the outbox items of a period (or of one
/// user), read in time order from the timeline index, published with their original
/// `event_id` to the replay topic with a `replay_for` attribute naming the service, which
/// only that service's replay subscription lets through.
pub struct Replayer {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

/// How long the outbox keeps events (published ones expire seven days after publication;
/// this is what a replay may reach back, counted from now).
pub const REPLAY_WINDOW_SECS: i64 = PUBLISHED_RETENTION_SECS;

/// The outbox as the timeline index projects it.
#[derive(Debug, Clone, Deserialize)]
struct Logged {
    event_type: String,
    payload: String,
}

impl Replayer {
    pub fn new(sdk: &aws_config::SdkConfig, topic_arn: &str) -> Self {
        Self {
            sns: aws_sdk_sns::Client::new(sdk),
            topic_arn: topic_arn.to_owned(),
        }
    }

    /// Publishes to `service` the events made from `since` to `until` (epoch seconds,
    /// inclusive), only `user_id`'s if given, oldest first; how many.
    pub async fn replay(
        &self,
        store: &Store,
        service: &str,
        (since, until): (i64, i64),
        user_id: Option<&str>,
    ) -> Result<usize, AuthError> {
        let mut replayed = 0;
        let mut day = since.div_euclid(86_400) * 86_400;
        while day <= until {
            let mut start = None;
            loop {
                let mut query =
                    crate::provisioning::timeline_between(store, &outbox_day(day), since, until)
                        .set_exclusive_start_key(start);
                if let Some(user_id) = user_id {
                    query = query
                        .filter_expression("user_id = :user")
                        .expression_attribute_values(
                            ":user",
                            AttributeValue::S(user_id.to_owned()),
                        );
                }
                let page = query
                    .send()
                    .await
                    .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))?;
                // Each page is published before the next is read: memory stays one page.
                let events = page
                    .items
                    .unwrap_or_default()
                    .into_iter()
                    .map(|raw| {
                        serde_dynamo::from_item::<_, Logged>(raw).map_err(AuthError::internal)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                for batch in events.chunks(10) {
                    self.publish(service, batch).await?;
                }
                replayed += events.len();
                match page.last_evaluated_key {
                    Some(key) if !key.is_empty() => start = Some(key),
                    _ => break,
                }
            }
            day += 86_400;
        }
        tracing::info!(service, replayed, for_user = user_id, "events replayed");
        Ok(replayed)
    }

    /// One PublishBatch (at most 10 events) to the replay topic, for `service`.
    async fn publish(&self, service: &str, batch: &[Logged]) -> Result<(), AuthError> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(AuthError::internal)
        };
        let mut publish = self.sns.publish_batch().topic_arn(&self.topic_arn);
        for (i, event) in batch.iter().enumerate() {
            publish = publish.publish_batch_request_entries(
                aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message(&event.payload)
                    .message_attributes("event_type", attribute(&event.event_type)?)
                    .message_attributes("replay_for", attribute(service)?)
                    .build()
                    .map_err(AuthError::internal)?,
            );
        }
        let out = publish
            .send()
            .await
            .map_err(|e| AuthError::internal(aws_sdk_sns::Error::from(e)))?;
        match out.failed.filter(|f| !f.is_empty()) {
            Some(failed) => Err(AuthError::internal(format!(
                "the replay topic refused {} event(s), e.g. {:?}",
                failed.len(),
                failed[0].message
            ))),
            None => Ok(()),
        }
    }
}

/// The item a table stream record inserted, if its key starts with `prefix`: what a stream
/// consumer's filter in the template lets through, checked again by the consumer.
pub fn inserted<T: serde::de::DeserializeOwned>(
    record: &aws_lambda_events::event::dynamodb::EventRecord,
    prefix: &str,
) -> Option<Result<T, serde_dynamo::Error>> {
    let matches = record.event_name == "INSERT"
        && matches!(
            record.change.keys.get("pk"),
            Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with(prefix)
        );
    matches.then(|| serde_dynamo::from_item(record.change.new_image.clone()))
}

/// `2026-11-22T00:40:00Z` from epoch seconds (days-to-civil, proleptic Gregorian).
pub fn rfc3339(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let secs = epoch_secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_307_045), "2026-11-22T00:24:05Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn events_carry_no_personal_data() {
        let event = UserEvent {
            event_id: "e".into(),
            event_type: USER_CREATED.into(),
            version: 1,
            occurred_at: rfc3339(0),
            user_id: "u".into(),
            identifier_type: Some("email".into()),
            username: None,
            reason: None,
            imported: false,
            migrated: false,
            revoked_before: None,
        };
        let json: serde_json::Value = serde_json::to_value(&event).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "event_id",
                "identifier_type",
                "occurred_at",
                "type",
                "user_id",
                "version"
            ]
        );
        let deleted = UserEvent::new(USER_DELETED, "u", 0);
        let deleted = UserEvent {
            reason: Some(DeletionReason::Expired),
            ..deleted
        };
        let json = serde_json::to_value(&deleted).unwrap();
        assert_eq!(json["reason"], "expired");
        assert_eq!(json["type"], "user.deleted");
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "event_id",
                "occurred_at",
                "reason",
                "type",
                "user_id",
                "version"
            ]
        );
    }
}
