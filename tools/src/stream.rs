//! The table's DynamoDB stream, read through the Streams API (DynamoDB Local serves it), with
//! each record turned into the JSON that Lambda hands a stream consumer.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The stream of one table.
pub struct TableStream {
    client: aws_sdk_dynamodbstreams::Client,
    pub arn: String,
    region: String,
}

/// One page of a shard: its records in Lambda's format, and where to read on (`None` once a
/// closed shard is exhausted).
pub struct Page {
    pub records: Vec<Value>,
    pub next: Option<String>,
}

impl TableStream {
    pub async fn of_table(sdk: &aws_config::SdkConfig, table: &str) -> Result<Self, Error> {
        let arn = aws_sdk_dynamodb::Client::new(sdk)
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| format!("describing table {table}: {e}"))?
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| format!("table {table} has no stream"))?;
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        Ok(Self {
            client: aws_sdk_dynamodbstreams::Client::new(sdk),
            arn,
            region,
        })
    }

    /// The ids of every shard the stream has now (open and closed), parents first.
    pub async fn shard_ids(&self) -> Result<Vec<String>, Error> {
        let mut ids = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_stream()
                .stream_arn(&self.arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| format!("describing the stream: {}", DisplayErrorContext(&e)))?;
            let Some(description) = out.stream_description else {
                break;
            };
            ids.extend(
                description
                    .shards
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| s.shard_id),
            );
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        Ok(ids)
    }

    /// An iterator at the oldest record the shard still holds.
    pub async fn trim_horizon(&self, shard_id: &str) -> Result<Option<String>, Error> {
        self.iterator(shard_id, ShardIteratorType::TrimHorizon, None)
            .await
    }

    /// An iterator just after the record `sequence` of the shard: where a reader resumes
    /// when its iterator stopped working.
    pub async fn after(&self, shard_id: &str, sequence: &str) -> Result<Option<String>, Error> {
        self.iterator(
            shard_id,
            ShardIteratorType::AfterSequenceNumber,
            Some(sequence),
        )
        .await
    }

    async fn iterator(
        &self,
        shard_id: &str,
        kind: ShardIteratorType,
        sequence: Option<&str>,
    ) -> Result<Option<String>, Error> {
        Ok(self
            .client
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(shard_id)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence.map(str::to_owned))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "a shard iterator for {shard_id}: {}",
                    DisplayErrorContext(&e)
                )
            })?
            .shard_iterator)
    }

    pub async fn read(&self, iterator: String, limit: i32) -> Result<Page, Error> {
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit)
            .send()
            .await
            .map_err(|e| format!("reading stream records: {}", DisplayErrorContext(&e)))?;
        Ok(Page {
            records: out
                .records
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| self.lambda_record(r))
                .collect(),
            next: out.next_shard_iterator,
        })
    }

    /// Every record the stream holds now, oldest first per shard.
    pub async fn all_records(&self) -> Result<Vec<Value>, Error> {
        let mut records = Vec::new();
        for shard in self.shard_ids().await? {
            let mut iterator = self.trim_horizon(&shard).await?;
            while let Some(current) = iterator {
                let page = self.read(current, 1000).await?;
                if page.records.is_empty() {
                    break;
                }
                records.extend(page.records);
                iterator = page.next;
            }
        }
        Ok(records)
    }

    /// A record as Lambda's DynamoDB event source delivers it (`aws_lambda_events`'
    /// `EventRecord`), for a stream with `NEW_IMAGE` records.
    fn lambda_record(&self, record: Record) -> Option<Value> {
        let change = record.dynamodb?;
        let as_json = |item: Option<HashMap<String, AttributeValue>>| {
            serde_json::to_value(serde_dynamo::Item::from(item.unwrap_or_default()))
                .unwrap_or(Value::Null)
        };
        Some(json!({
            "eventID": record.event_id,
            "eventName": record.event_name.map(|n| n.as_str().to_owned()),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
            "dynamodb": {
                "Keys": as_json(change.keys),
                "NewImage": as_json(change.new_image),
                "SequenceNumber": change.sequence_number,
                "SizeBytes": change.size_bytes.unwrap_or_default(),
                "StreamViewType": "NEW_IMAGE",
            },
        }))
    }
}
