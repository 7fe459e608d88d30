//! The outbox seen from outside: the table's stream read through the DynamoDB Streams API
//! and turned into the Lambda event the `user-events` function receives, and an SQS queue
//! subscribed to the topic the way a subscribing service would.

use std::collections::HashMap;

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
    let sdk = auth_shared::ops::load_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let table = crate::required_env("TABLE_NAME");
    let stream_arn = ddb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the table exists")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    let shards = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .expect("the stream describes")
        .stream_description
        .map(|d| d.shards.unwrap_or_default())
        .unwrap_or_default();

    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard.shard_id.unwrap_or_default())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("a shard iterator")
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .limit(1000)
                .send()
                .await
                .expect("stream records");
            let batch = page.records.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            records.extend(batch);
            iterator = page.next_shard_iterator;
        }
    }

    records
        .into_iter()
        .filter_map(|record| {
            let change = record.dynamodb?;
            let as_json = |item: Option<
                HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
            >| {
                serde_json::to_value(serde_dynamo::Item::from(item.unwrap_or_default())).unwrap()
            };
            Some(json!({
                "eventID": record.event_id,
                "eventName": record.event_name.map(|n| n.as_str().to_owned()),
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "eventSourceARN": stream_arn,
                "dynamodb": {
                    "Keys": as_json(change.keys),
                    "NewImage": as_json(change.new_image),
                    "SequenceNumber": change.sequence_number,
                    "SizeBytes": change.size_bytes.unwrap_or_default(),
                    "StreamViewType": "NEW_IMAGE",
                },
            }))
        })
        .collect()
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
        let sdk = auth_shared::ops::load_sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let name = format!("subscriber-{}", uuid::Uuid::new_v4().simple());
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap();
        let mut subscribe = sns
            .subscribe()
            .topic_arn(crate::required_env("USER_EVENTS_TOPIC_ARN"))
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true");
        if let Some(types) = event_types {
            subscribe =
                subscribe.attributes("FilterPolicy", json!({ "event_type": types }).to_string());
        }
        subscribe.send().await.unwrap();
        Self { sqs, queue_url }
    }

    /// Every message delivered so far (and within a second) about `user_id`.
    pub async fn received_for(&self, user_id: &str) -> Vec<UserEvent> {
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
                if event.user_id == user_id {
                    events.push(event);
                }
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
