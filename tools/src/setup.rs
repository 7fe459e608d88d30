//! Creates what the service needs on the local stack: the table (the same shape as
//! `AuthTable` in template.yaml) and the SES sender identity.

use auth_shared::events::{self, PENDING_INDEX};
use auth_shared::provisioning::TIMELINE_INDEX;
use auth_shared::store::{SESSIONS_INDEX, UNVERIFIED_INDEX};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The table's global secondary indexes (name, partition key, sort key), as `AuthTable` in
/// template.yaml declares them: the outbox backlog, the sessions by user, and the accounts
/// that may expire unverified.
/// The fourth member lists the projected attributes; empty projects them all.
pub const INDEXES: &[(&str, &str, &str, &[&str])] = &[
    (PENDING_INDEX, "outbox_pending", "pending_since", &[]),
    (SESSIONS_INDEX, "session_user", "created_at", &[]),
    (UNVERIFIED_INDEX, "unverified", "expires_at", &[]),
    (
        TIMELINE_INDEX,
        "timeline",
        "created_at",
        &[
            "user_id",
            "provisioning",
            "event_id",
            "event_type",
            "payload",
        ],
    ),
];

/// The table's TTL attribute; template.yaml names the same one.
pub const TTL_ATTRIBUTE: &str = "expires_at";

pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), Error> {
    let exists = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .is_ok();
    if exists {
        return Ok(());
    }
    let attr = |n: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    let mut create = client
        .create_table()
        .table_name(name)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?);
    for (attribute, kind) in [
        ("pk", ScalarAttributeType::S),
        ("sk", ScalarAttributeType::S),
        ("outbox_pending", ScalarAttributeType::S),
        ("pending_since", ScalarAttributeType::N),
        ("session_user", ScalarAttributeType::S),
        ("created_at", ScalarAttributeType::N),
        ("unverified", ScalarAttributeType::S),
        ("expires_at", ScalarAttributeType::N),
        ("timeline", ScalarAttributeType::S),
    ] {
        create = create.attribute_definitions(attr(attribute, kind)?);
    }
    for (index, hash, range, projected) in INDEXES {
        let projection = if projected.is_empty() {
            Projection::builder().projection_type(ProjectionType::All)
        } else {
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(projected.iter().map(|a| (*a).to_owned()).collect()))
        };
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .key_schema(key(hash, KeyType::Hash)?)
                .key_schema(key(range, KeyType::Range)?)
                .projection(projection.build())
                .build()?,
        );
    }
    create
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()?,
        )
        .send()
        .await?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// SES rejects mail from an unverified sender; moto accepts any identity it is told about.
pub async fn ensure_sender(ses: &aws_sdk_sesv2::Client, email: &str) -> Result<(), Error> {
    if ses
        .get_email_identity()
        .email_identity(email)
        .send()
        .await
        .is_ok()
    {
        return Ok(());
    }
    ses.create_email_identity()
        .email_identity(email)
        .send()
        .await?;
    Ok(())
}

/// Creates the secret, or stores a new version of it.
pub async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    value: &str,
) -> Result<(), Error> {
    let exists = client.describe_secret().secret_id(id).send().await.is_ok();
    if exists {
        client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await?;
    } else {
        client
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await?;
    }
    Ok(())
}

/// Creates the user-events topic (idempotent in SNS) and returns its ARN.
pub async fn ensure_topic(sns: &aws_sdk_sns::Client, name: &str) -> Result<String, Error> {
    let out = sns.create_topic().name(name).send().await?;
    Ok(out.topic_arn.unwrap_or_default())
}

/// The subscribing services `make dev` and `make test` stand up: each an SQS queue subscribed
/// to the user-events topic with raw delivery and the filter policy `docs/events.md` gives it.
/// These queues are for reading what a service receives (`scripts/queue.sh`, the tests);
/// the stand-ins that acknowledge new users consume queues of their own ([`STAND_INS`]).
pub const LOCAL_SUBSCRIBERS: &[(&str, &[&str])] = &[
    (
        "social-service-user-events",
        &[
            events::USER_CREATED,
            events::USER_VERIFIED,
            events::USER_DELETED,
            events::USER_DISABLED,
            events::USER_ENABLED,
            events::USER_PASSWORD_CHANGED,
            events::USER_SESSIONS_REVOKED,
            events::USER_IDENTIFIER_CHANGED,
        ],
    ),
    (
        "blog-service-user-events",
        &[
            events::USER_CREATED,
            events::USER_DELETED,
            events::USER_DISABLED,
            events::USER_ENABLED,
            events::USER_SESSIONS_REVOKED,
        ],
    ),
];

/// The stand-ins for SocialService and BlogService (`local-events`): the service's name in
/// `SUBSCRIBER_SERVICES`, and the queue it consumes, subscribed to `user.created` only.
pub const STAND_INS: &[(&str, &str)] = &[
    ("social", "social-service-consumer"),
    ("blog", "blog-service-consumer"),
];

/// The local acknowledgement queue (template: `ProvisioningAcksQueue`).
pub const ACK_QUEUE: &str = "provisioning-acks";

/// The service a local subscriber's queue stands for (`social-service-user-events` ->
/// `social`), as `SUBSCRIBER_SERVICES` and a replay's `replay_for` name it.
pub fn service_of(queue: &str) -> &str {
    queue
        .split_once("-service")
        .map_or(queue, |(service, _)| service)
}

/// Creates `queue_name` (idempotent in SQS) and subscribes it to the topic with raw message
/// delivery and, if given, a filter policy on `event_type`; returns the queue's URL.
pub async fn subscribe_queue(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue_name: &str,
    event_types: Option<&[&str]>,
) -> Result<String, Error> {
    let filter = event_types.map(|types| serde_json::json!({ "event_type": types }));
    subscribe_queue_filtered(sqs, sns, topic_arn, queue_name, filter).await
}

/// A service's subscription to the replay topic: what it takes (`event_types`), and only
/// what is replayed for it (`replay_for` = `service`).
pub async fn subscribe_to_replays(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    replay_topic_arn: &str,
    queue_name: &str,
    service: &str,
    event_types: &[&str],
) -> Result<String, Error> {
    let filter = serde_json::json!({ "event_type": event_types, "replay_for": [service] });
    subscribe_queue_filtered(sqs, sns, replay_topic_arn, queue_name, Some(filter)).await
}

/// [`subscribe_queue`] with any filter policy.
pub async fn subscribe_queue_filtered(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue_name: &str,
    filter: Option<serde_json::Value>,
) -> Result<String, Error> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let queue_url = sqs
        .create_queue()
        .queue_name(queue_name)
        .send()
        .await?
        .queue_url
        .ok_or("CreateQueue returned no URL")?;
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("the queue has no ARN")?;
    let existing = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .send()
        .await?
        .subscriptions
        .unwrap_or_default();
    if existing
        .iter()
        .any(|s| s.endpoint.as_deref() == Some(queue_arn.as_str()))
    {
        return Ok(queue_url);
    }
    let mut subscribe = sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true");
    if let Some(filter) = filter {
        subscribe = subscribe.attributes("FilterPolicy", filter.to_string());
    }
    subscribe.send().await?;
    Ok(queue_url)
}
