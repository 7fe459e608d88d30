//! The outbox seen from outside: the table's stream read through the DynamoDB Streams API
//! and turned into the Lambda event the `user-events` function receives, and an SQS queue
//! subscribed to the topic the way a subscribing service would.

use auth_shared::events::UserEvent;
use aws_lambda_events::event::dynamodb::Event;
use serde_json::{Value, json};

/// Every stream record so far whose new image belongs to `user_id`, in Lambda's event
/// format, oldest first.
pub async fn stream_records_for(user_id: &str) -> Vec<Value> {
    all_records()
        .await
        .into_iter()
        .filter(|r| r["dynamodb"]["NewImage"]["user_id"]["S"].as_str() == Some(user_id))
        .collect()
}

/// Every stream record so far, in Lambda's event format, oldest first per shard.
async fn all_records() -> Vec<Value> {
    let sdk = auth_shared::aws::load_sdk_config().await;
    let stream =
        auth_tools::stream::TableStream::of_table(&sdk, &crate::required_env("TABLE_NAME"))
            .await
            .expect("the table and its stream exist");
    stream.all_records().await.expect("the stream reads")
}

/// The Lambda event for a list of records in Lambda's format.
pub fn lambda_event(records: Vec<Value>) -> Event {
    serde_json::from_value(json!({ "Records": records })).expect("a DynamoDB stream event")
}

/// An SQS queue subscribed to the user-events topic, optionally filtered by `event_type`.
pub struct Subscriber {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Subscriber {
    pub async fn new(event_types: Option<&[&str]>) -> Self {
        let name = format!("subscriber-{}", uuid::Uuid::new_v4().simple());
        Self::named(&name, event_types).await
    }

    /// The queue `name`, created and subscribed if it does not exist yet (`make test`
    /// subscribes the local SocialService and BlogService queues before the tests start).
    /// A queue of `service`'s subscribed to the replay topic, as docs/events.md tells a
    /// service to: `event_types`, and only what is replayed for `service`.
    pub async fn to_replays(name: &str, service: &str, event_types: &[&str]) -> Self {
        let sdk = auth_shared::aws::load_sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue_url = auth_tools::setup::subscribe_to_replays(
            &sqs,
            &aws_sdk_sns::Client::new(&sdk),
            &crate::required_env("USER_EVENTS_REPLAY_TOPIC_ARN"),
            name,
            service,
            event_types,
        )
        .await
        .expect("a queue subscribed to the replay topic");
        Self { sqs, queue_url }
    }

    pub async fn named(name: &str, event_types: Option<&[&str]>) -> Self {
        let sdk = auth_shared::aws::load_sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue_url = auth_tools::setup::subscribe_queue(
            &sqs,
            &aws_sdk_sns::Client::new(&sdk),
            &crate::required_env("USER_EVENTS_TOPIC_ARN"),
            name,
            event_types,
        )
        .await
        .expect("a queue subscribed to the topic");
        Self { sqs, queue_url }
    }

    /// Waits up to `limit` for an event of `event_type` about `user_id`, consuming (and
    /// dropping) whatever else the queue holds meanwhile.
    pub async fn wait_for(
        &self,
        user_id: &str,
        event_type: &str,
        limit: std::time::Duration,
    ) -> Option<UserEvent> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            let found = self
                .received_for(user_id)
                .await
                .into_iter()
                .find(|e| e.event_type == event_type);
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Every message delivered so far (and within a second) about `user_id`.
    pub async fn received_for(&self, user_id: &str) -> Vec<UserEvent> {
        self.received()
            .await
            .into_iter()
            .filter(|e| e.user_id == user_id)
            .collect()
    }

    /// Every message delivered so far (and within a second), consumed.
    pub async fn received(&self) -> Vec<UserEvent> {
        let mut events = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                let event: UserEvent = serde_json::from_str(message.body().unwrap_or_default())
                    .expect("a versioned user event");
                events.push(event);
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// Every stream record whose key is `pk`, in Lambda's event format.
pub async fn stream_records_with_key(pk: &str) -> Vec<Value> {
    all_records()
        .await
        .into_iter()
        .filter(|r| r["dynamodb"]["Keys"]["pk"]["S"].as_str() == Some(pk))
        .collect()
}

/// The stream record of the newest forgot-password request for `identifier` (normalised),
/// copied under a fresh key, as the stream would deliver a request nobody has served yet:
/// for running `reset-sender` on its own while the local pipeline serves the original.
pub async fn fresh_forgot_record(identifier: &str) -> Value {
    let mut record = all_records()
        .await
        .into_iter()
        .rev()
        .find(|r| {
            inserts_with_prefix(r, "FORGOT#")
                && r["dynamodb"]["NewImage"]["identifier"]["S"].as_str() == Some(identifier)
        })
        .unwrap_or_else(|| panic!("no forgot-password request for {identifier} in the stream"));
    let pk = json!({ "S": format!("FORGOT#{}", uuid::Uuid::new_v4()) });
    record["dynamodb"]["Keys"]["pk"] = pk.clone();
    record["dynamodb"]["NewImage"]["pk"] = pk;
    record
}

/// Whether a stream record (in Lambda's format) inserted an item whose key starts with
/// `prefix`.
pub fn inserts_with_prefix(record: &Value, prefix: &str) -> bool {
    record["eventName"] == "INSERT"
        && record["dynamodb"]["Keys"]["pk"]["S"]
            .as_str()
            .is_some_and(|pk| pk.starts_with(prefix))
}

/// The events the outbox holds pending for `user_id`, oldest first (the integration tests
/// run no stream consumer, so everything they write stays pending).
pub async fn pending_events_of(store: &auth_shared::store::Store, user_id: &str) -> Vec<UserEvent> {
    use auth_shared::events::{OutboxItem, PENDING_INDEX};
    let pending: Vec<OutboxItem> = store
        .query_index(PENDING_INDEX, "outbox_pending", "PENDING")
        .await
        .expect("the outbox's index reads");
    let mut events: Vec<(i64, UserEvent)> = pending
        .into_iter()
        .filter(|e| e.user_id == user_id)
        .map(|e| (e.created_at, e.event().expect("an event")))
        .collect();
    events.sort_by_key(|(at, _)| *at);
    events.into_iter().map(|(_, e)| e).collect()
}
