//! SQS locally: the event source mapping of a function fed by a queue (receive a batch,
//! invoke the function with Lambda's SQS event, delete what it did not report as a batch
//! item failure), and the stand-ins for the subscribing services of seed 002, which
//! acknowledge each `user.created` they receive.

use std::time::Duration;

use aws_sdk_sqs::Client;
use serde_json::{Value, json};

use crate::mapping::{Invoker, QueueSource};
use crate::stream::Error;

/// The URL of the local queue `name`.
pub async fn queue_url(sqs: &Client, name: &str) -> Result<String, Error> {
    Ok(sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| format!("queue {name}: {e}"))?
        .queue_url
        .unwrap_or_default())
}

/// Feeds `source`'s queue (`url`) to its function until stopped, as Lambda's SQS event
/// source mapping does with `ReportBatchItemFailures`: a message the function reported, or
/// every message of a failed invocation, stays in the queue and comes back after its
/// visibility timeout.
pub async fn run_queue(source: QueueSource, url: String, sqs: Client, invoker: Invoker) {
    loop {
        if let Err(error) = poll_queue_once(&source, &url, &sqs, &invoker).await {
            eprintln!(
                "local-events: {} from {}: {error}",
                source.function, source.queue
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One receive (waiting up to a second) and its invocation; how many messages were handled.
pub async fn poll_queue_once(
    source: &QueueSource,
    url: &str,
    sqs: &Client,
    invoker: &Invoker,
) -> Result<usize, Error> {
    let messages = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(source.batch_size.clamp(1, 10) as i32)
        .wait_time_seconds(1)
        .send()
        .await?
        .messages
        .unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{}", source.queue),
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    let response = invoker
        .invoke(&source.function, &json!({ "Records": records }))
        .await?;
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut handled = 0;
    for message in &messages {
        if failed.contains(&message.message_id().unwrap_or_default()) {
            continue;
        }
        sqs.delete_message()
            .queue_url(url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .send()
            .await?;
        handled += 1;
    }
    eprintln!(
        "local-events: {handled} message(s) from {} to {}, {} reported failed",
        source.queue,
        source.function,
        failed.len()
    );
    Ok(handled)
}

/// What a stand-in service answers a `user.created` with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// `created`, within a second or two.
    Acknowledge,
    /// `failed`, with a detail.
    Fail,
    /// Nothing at all (the lag alarm's case).
    Silent,
}

/// A subscribing service of the local stack: its name (as `SUBSCRIBER_SERVICES` lists it)
/// and the queue it consumes (subscribed to `user.created`).
#[derive(Debug, Clone)]
pub struct StandIn {
    pub service: String,
    pub queue: String,
    /// What it does unless a user's name says otherwise.
    pub behaviour: Behaviour,
}

impl StandIn {
    /// What it answers for a user named `username`: a username that starts with
    /// `silent_<service>` or `fail_<service>` gets no answer, or `failed`, from this service
    /// alone (so a test can show the lag metric without holding up other users).
    pub fn behaviour_for(&self, username: Option<&str>) -> Behaviour {
        let name = username.unwrap_or_default().to_ascii_lowercase();
        if name.starts_with(&format!("silent_{}", self.service)) {
            Behaviour::Silent
        } else if name.starts_with(&format!("fail_{}", self.service)) {
            Behaviour::Fail
        } else {
            self.behaviour
        }
    }
}

/// Consumes the stand-in's queue until stopped, answering each `user.created` on the
/// acknowledgement queue `ack_url`.
pub async fn run_stand_in(stand_in: StandIn, url: String, ack_url: String, sqs: Client) {
    loop {
        if let Err(error) = stand_in_once(&stand_in, &url, &ack_url, &sqs).await {
            eprintln!("local-events: the {} stand-in: {error}", stand_in.service);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One receive (waiting up to a second): each `user.created` answered as the stand-in's
/// behaviour says, every message then deleted. How many acknowledgements it sent.
pub async fn stand_in_once(
    stand_in: &StandIn,
    url: &str,
    ack_url: &str,
    sqs: &Client,
) -> Result<usize, Error> {
    let messages = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await?
        .messages
        .unwrap_or_default();
    let mut sent = 0;
    for message in messages {
        let event: Value = serde_json::from_str(message.body().unwrap_or_default())?;
        if event["type"] == auth_shared::events::USER_CREATED {
            let status = match stand_in.behaviour_for(event["username"].as_str()) {
                Behaviour::Acknowledge => Some(json!({ "status": "created" })),
                Behaviour::Fail => Some(json!({
                    "status": "failed",
                    "detail": format!("the {} stand-in was told to fail", stand_in.service),
                })),
                Behaviour::Silent => None,
            };
            if let Some(mut ack) = status {
                ack["service"] = json!(stand_in.service);
                ack["user_id"] = event["user_id"].clone();
                ack["event_id"] = event["event_id"].clone();
                sqs.send_message()
                    .queue_url(ack_url)
                    .message_body(ack.to_string())
                    .send()
                    .await?;
                sent += 1;
            }
        }
        sqs.delete_message()
            .queue_url(url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .send()
            .await?;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_can_silence_or_fail_one_service() {
        let blog = StandIn {
            service: "blog".into(),
            queue: "blog-service-consumer".into(),
            behaviour: Behaviour::Acknowledge,
        };
        assert_eq!(blog.behaviour_for(None), Behaviour::Acknowledge);
        assert_eq!(blog.behaviour_for(Some("jane")), Behaviour::Acknowledge);
        assert_eq!(blog.behaviour_for(Some("silent_blog_1")), Behaviour::Silent);
        assert_eq!(blog.behaviour_for(Some("Fail_Blog.x")), Behaviour::Fail);
        assert_eq!(
            blog.behaviour_for(Some("silent_social_1")),
            Behaviour::Acknowledge
        );
    }
}
