//! What Lambda does around the event functions, done locally: the DynamoDB event source
//! mapping (poll every shard of the table's stream, keep the records the template's filter
//! lets through, invoke the consumer with batches, honour its batch item failures with
//! bounded retries, bisect a batch the function fails on) and the sweeper's schedule.
//!
//! Its settings are read from `template.yaml`, so the local pipeline cannot drift from the
//! deployed one. Functions are invoked through the Lambda Invoke API that
//! `cargo lambda watch` serves (`POST /2015-03-31/functions/<name>/invocations`).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serde_yaml_ng::Value as Yaml;

use crate::stream::{Error, TableStream};

/// A DynamoDB event source of one function, as the template declares it.
#[derive(Debug, Clone)]
pub struct StreamSource {
    pub function: String,
    /// Lambda event filter patterns; a record passes if any matches (none: every record).
    pub filters: Vec<Value>,
    pub batch_size: usize,
    pub max_retries: u32,
    pub batching_window: Duration,
    pub bisect_on_error: bool,
}

/// A scheduled function, as the template declares it.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub function: String,
    pub every: Duration,
}

/// An SQS event source of one function, as the template declares it: the queue's logical
/// id, which names its local queue (see [`local_queue_name`]).
#[derive(Debug, Clone)]
pub struct QueueSource {
    pub function: String,
    pub queue: String,
    pub batch_size: usize,
}

/// The event sources of every function in `template.yaml`.
#[derive(Debug, Default)]
pub struct EventSources {
    pub streams: Vec<StreamSource>,
    pub schedules: Vec<Schedule>,
    pub queues: Vec<QueueSource>,
}

/// The local (moto) queue that stands in for the template's queue `logical_id`: its words in
/// kebab case, without a trailing `Queue` (`ProvisioningAcksQueue` -> `provisioning-acks`).
pub fn local_queue_name(logical_id: &str) -> String {
    let id = logical_id.strip_suffix("Queue").unwrap_or(logical_id);
    let mut name = String::new();
    for c in id.chars() {
        if c.is_ascii_uppercase() && !name.is_empty() {
            name.push('-');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// Logical id -> workspace binary of every template function, from the Makefile's
/// `LAMBDA_FUNCTIONS` (`LogicalId=binary` words over backslash-continued lines): the one
/// place that pairs them, since `sam build` runs its `build-<LogicalId>` targets.
pub fn makefile_binaries(makefile: &str) -> Result<BTreeMap<String, String>, Error> {
    let (_, rest) = makefile
        .split_once("LAMBDA_FUNCTIONS :=")
        .ok_or("the Makefile has no LAMBDA_FUNCTIONS list")?;
    let mut list = String::new();
    for line in rest.lines() {
        let line = line.trim_end();
        match line.strip_suffix('\\') {
            Some(continued) => list.push_str(continued),
            None => {
                list.push_str(line);
                break;
            }
        }
        list.push(' ');
    }
    let mut binaries = BTreeMap::new();
    for word in list.split_whitespace() {
        let (id, binary) = word
            .split_once('=')
            .ok_or_else(|| format!("{word}: not LogicalId=binary"))?;
        if binaries.insert(id.to_owned(), binary.to_owned()).is_some() {
            return Err(format!("{id} is listed twice in LAMBDA_FUNCTIONS").into());
        }
    }
    Ok(binaries)
}

impl EventSources {
    /// From the texts of `template.yaml` and of the Makefile that names each function's binary.
    pub fn from_template(text: &str, makefile: &str) -> Result<Self, Error> {
        let binaries = makefile_binaries(makefile)?;
        let template: Yaml = serde_yaml_ng::from_str(text)?;
        let mut sources = Self::default();
        let resources = template["Resources"]
            .as_mapping()
            .ok_or("template.yaml has no Resources")?;
        for (name, resource) in resources {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let Some(events) = resource["Properties"]["Events"].as_mapping() else {
                continue;
            };
            let function = name
                .as_str()
                .and_then(|id| binaries.get(id))
                .cloned()
                .ok_or_else(|| format!("{name:?} has no binary in the Makefile"))?;
            for (_, event) in events {
                let props = &event["Properties"];
                match event["Type"].as_str() {
                    Some("DynamoDB") => {
                        let mut filters = Vec::new();
                        if let Some(list) = props["FilterCriteria"]["Filters"].as_sequence() {
                            for filter in list {
                                let pattern = filter["Pattern"]
                                    .as_str()
                                    .ok_or("a filter without a Pattern")?;
                                filters.push(serde_json::from_str(pattern)?);
                            }
                        }
                        let number =
                            |key: &str, default: u64| props[key].as_u64().unwrap_or(default);
                        sources.streams.push(StreamSource {
                            function: function.clone(),
                            filters,
                            batch_size: number("BatchSize", 100) as usize,
                            // Lambda's default is to retry until the record expires.
                            max_retries: number("MaximumRetryAttempts", 10_000) as u32,
                            batching_window: Duration::from_secs(number(
                                "MaximumBatchingWindowInSeconds",
                                0,
                            )),
                            bisect_on_error: props["BisectBatchOnFunctionError"]
                                .as_bool()
                                .unwrap_or(false),
                        });
                    }
                    Some("SQS") => {
                        // `!GetAtt <LogicalId>.Arn`
                        let queue = match &props["Queue"] {
                            Yaml::Tagged(tagged) => tagged.value.as_str().unwrap_or_default(),
                            other => other.as_str().unwrap_or_default(),
                        };
                        let queue = queue.strip_suffix(".Arn").ok_or_else(|| {
                            format!("{name:?}: an SQS event's Queue is not !GetAtt <queue>.Arn")
                        })?;
                        sources.queues.push(QueueSource {
                            function: function.clone(),
                            queue: queue.to_owned(),
                            batch_size: props["BatchSize"].as_u64().unwrap_or(10) as usize,
                        });
                    }
                    Some("Schedule") => {
                        let expression = props["Schedule"].as_str().unwrap_or_default();
                        sources.schedules.push(Schedule {
                            function: function.clone(),
                            every: parse_rate(expression)
                                .ok_or_else(|| format!("unsupported schedule {expression:?}"))?,
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(sources)
    }
}

/// `rate(5 minutes)` and the like.
pub fn parse_rate(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.trim().split_once(' ')?;
    let count: u64 = count.parse().ok()?;
    let seconds = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count * seconds))
}

/// Whether a record passes a Lambda event filter pattern: every field the pattern names must
/// match; a list of options matches if any does (a value, `{"prefix": ...}`,
/// `{"exists": ...}` or `{"anything-but": [...]}`).
pub fn matches(pattern: &Value, record: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(key, sub)| match record.get(key) {
            Some(value) => matches(sub, value),
            None => sub.as_array().is_some_and(|options| {
                options
                    .iter()
                    .any(|o| o.get("exists").and_then(Value::as_bool) == Some(false))
            }),
        }),
        Value::Array(options) => options.iter().any(|option| option_matches(option, record)),
        _ => false,
    }
}

fn option_matches(option: &Value, value: &Value) -> bool {
    if let Value::Array(values) = value {
        return values.iter().any(|v| option_matches(option, v));
    }
    match option {
        Value::Object(operator) => {
            if let Some(prefix) = operator.get("prefix").and_then(Value::as_str) {
                value.as_str().is_some_and(|s| s.starts_with(prefix))
            } else if let Some(exists) = operator.get("exists").and_then(Value::as_bool) {
                exists
            } else if let Some(excluded) = operator.get("anything-but") {
                let excluded = excluded
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![excluded.clone()]);
                !excluded.contains(value)
            } else {
                false
            }
        }
        literal => literal == value,
    }
}

/// Invokes functions through the Lambda Invoke API.
#[derive(Clone)]
pub struct Invoker {
    http: reqwest::Client,
    base_url: String,
}

impl Invoker {
    pub fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The function's response, or an error when the invocation or the function failed.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Value, Error> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.base_url
        );
        let response = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(120))
            .json(event)
            .send()
            .await
            .map_err(|e| format!("invoking {function}: {e}"))?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if !status.is_success() || function_error || value.get("errorType").is_some() {
            return Err(format!("{function} failed ({status}): {body}").into());
        }
        Ok(value)
    }
}

/// One stream source polled over every shard of the table's stream.
pub struct StreamPoller {
    stream: TableStream,
    source: StreamSource,
    invoker: Invoker,
    /// Open shards and where to read next; exhausted closed shards are dropped.
    shards: BTreeMap<String, Option<String>>,
    /// The last record read from each shard, to resume after if an iterator stops working.
    read_up_to: BTreeMap<String, String>,
    finished: HashSet<String>,
    listed_at: Option<Instant>,
}

/// What a delivery achieved, for the log and the tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub invocations: usize,
    pub records: usize,
    pub dropped: usize,
}

impl StreamPoller {
    pub fn new(stream: TableStream, source: StreamSource, invoker: Invoker) -> Self {
        Self {
            stream,
            source,
            invoker,
            shards: BTreeMap::new(),
            read_up_to: BTreeMap::new(),
            finished: HashSet::new(),
            listed_at: None,
        }
    }

    /// New shards start at the oldest record the stream holds (the template's
    /// `StartingPosition: TRIM_HORIZON`).
    async fn refresh_shards(&mut self) -> Result<(), Error> {
        if self
            .listed_at
            .is_some_and(|at| at.elapsed() < Duration::from_secs(5))
        {
            return Ok(());
        }
        for id in self.stream.shard_ids().await? {
            if self.shards.contains_key(&id) || self.finished.contains(&id) {
                continue;
            }
            let iterator = self.stream.trim_horizon(&id).await?;
            self.shards.insert(id, iterator);
        }
        self.listed_at = Some(Instant::now());
        Ok(())
    }

    /// Reads every shard once and delivers what passed the filter.
    pub async fn poll_once(&mut self) -> Result<Delivered, Error> {
        self.refresh_shards().await?;
        let mut total = Delivered::default();
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            let Some(Some(iterator)) = self.shards.get(&id).cloned() else {
                self.shards.remove(&id);
                self.finished.insert(id);
                continue;
            };
            let page = match self.stream.read(iterator, 1000).await {
                Ok(page) => page,
                Err(error) => {
                    // An expired or trimmed iterator: resume after the last record read.
                    eprintln!("local-events: shard {id}: {error}; resuming");
                    let resumed = match self.read_up_to.get(&id) {
                        Some(sequence) => self.stream.after(&id, sequence).await?,
                        None => self.stream.trim_horizon(&id).await?,
                    };
                    self.shards.insert(id, resumed);
                    continue;
                }
            };
            if let Some(last) = page.records.last().and_then(sequence) {
                self.read_up_to.insert(id.clone(), last.to_owned());
            }
            let passed: Vec<Value> = page
                .records
                .into_iter()
                .filter(|r| {
                    self.source.filters.is_empty()
                        || self.source.filters.iter().any(|p| matches(p, r))
                })
                .collect();
            for batch in passed.chunks(self.source.batch_size.max(1)) {
                let done = self.deliver(batch.to_vec()).await;
                total.invocations += done.invocations;
                total.records += done.records;
                total.dropped += done.dropped;
            }
            match page.next {
                Some(next) => {
                    self.shards.insert(id, Some(next));
                }
                None => {
                    self.shards.remove(&id);
                    self.finished.insert(id);
                }
            }
        }
        Ok(total)
    }

    /// One batch, as Lambda handles it: a reported item failure retries from that record; a
    /// failed invocation retries the batch, bisected if the template says so; past the retry
    /// budget the records are dropped (in AWS: sent to the on-failure destination) and the
    /// outbox items stay pending for the sweeper.
    async fn deliver(&self, batch: Vec<Value>) -> Delivered {
        let mut done = Delivered::default();
        let mut work = vec![(batch, 0u32)];
        while let Some((batch, attempt)) = work.pop() {
            if batch.is_empty() {
                continue;
            }
            if attempt > 0 {
                let backoff = 100u64.saturating_mul(1 << attempt.min(6)).min(5_000);
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            done.invocations += 1;
            let outcome = self
                .invoker
                .invoke(&self.source.function, &json!({ "Records": batch }))
                .await;
            let retry: Option<(Vec<Value>, bool)> = match outcome {
                Ok(response) => match first_failure(&response, &batch) {
                    None => {
                        done.records += batch.len();
                        None
                    }
                    Some(position) => {
                        done.records += position;
                        Some((batch[position..].to_vec(), false))
                    }
                },
                Err(error) => {
                    eprintln!("local-events: {error}");
                    Some((batch, true))
                }
            };
            let Some((rest, function_error)) = retry else {
                continue;
            };
            if attempt >= self.source.max_retries {
                eprintln!(
                    "local-events: giving up on {} record(s) from sequence {} after {} retries; \
                     the outbox items stay pending for the sweeper",
                    rest.len(),
                    sequence(&rest[0]).unwrap_or("?"),
                    attempt
                );
                done.dropped += rest.len();
                continue;
            }
            if function_error && self.source.bisect_on_error && rest.len() > 1 {
                let (first, second) = rest.split_at(rest.len() / 2);
                // Stack order: the first half is delivered first.
                work.push((second.to_vec(), attempt + 1));
                work.push((first.to_vec(), attempt + 1));
            } else {
                work.push((rest, attempt + 1));
            }
        }
        done
    }

    /// Polls until `stop` resolves, four times a second when idle (as Lambda polls a shard),
    /// waiting the batching window after a page with records.
    pub async fn run(mut self) {
        loop {
            match self.poll_once().await {
                Ok(done) if done.invocations > 0 => {
                    eprintln!(
                        "local-events: {} record(s) to {} in {} invocation(s){}",
                        done.records,
                        self.source.function,
                        done.invocations,
                        if done.dropped > 0 {
                            format!(", {} dropped", done.dropped)
                        } else {
                            String::new()
                        }
                    );
                    tokio::time::sleep(self.source.batching_window.min(Duration::from_millis(250)))
                        .await;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(error) => {
                    eprintln!("local-events: polling the stream: {error}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

fn sequence(record: &Value) -> Option<&str> {
    record["dynamodb"]["SequenceNumber"].as_str()
}

/// Where to resume after a response's `batchItemFailures`: the first failed record's
/// position, or the whole batch when a failure names a record not in it (as Lambda does).
fn first_failure(response: &Value, batch: &[Value]) -> Option<usize> {
    let failures = response["batchItemFailures"].as_array()?;
    let ids: Vec<&str> = failures
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    if failures.is_empty() {
        return None;
    }
    let position = batch
        .iter()
        .position(|r| sequence(r).is_some_and(|s| ids.contains(&s)));
    Some(position.unwrap_or(0))
}

/// Invokes a scheduled function on its rate with an EventBridge scheduled event, forever.
pub async fn run_schedule(schedule: Schedule, invoker: Invoker) {
    loop {
        tokio::time::sleep(schedule.every).await;
        let event = json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        });
        match invoker.invoke(&schedule.function, &event).await {
            Ok(result) => eprintln!("local-events: {} ran: {result}", schedule.function),
            Err(error) => eprintln!("local-events: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, pk: &str) -> Value {
        json!({
            "eventName": event_name,
            "dynamodb": { "Keys": { "pk": { "S": pk }, "sk": { "S": "X" } }, "SequenceNumber": pk },
        })
    }

    fn sources() -> EventSources {
        let file = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(name);
            std::fs::read_to_string(path).expect("a workspace file")
        };
        EventSources::from_template(&file("template.yaml"), &file("Makefile"))
            .expect("the template parses")
    }

    #[test]
    fn each_stream_consumer_s_filter_passes_only_its_new_items() {
        let sources = sources();
        let consumers: Vec<&str> = sources
            .streams
            .iter()
            .map(|s| s.function.as_str())
            .collect();
        assert_eq!(consumers, ["user-events", "reset-sender"]);
        for (source, prefix) in sources.streams.iter().zip(["OUTBOX#", "FORGOT#"]) {
            assert!(source.batch_size > 0 && source.max_retries > 0);
            let passes = |r: &Value| source.filters.iter().any(|p| matches(p, r));
            assert!(passes(&record("INSERT", &format!("{prefix}abc"))));
            assert!(!passes(&record("MODIFY", &format!("{prefix}abc"))));
            assert!(!passes(&record("REMOVE", &format!("{prefix}abc"))));
            assert!(!passes(&record("INSERT", "USER#abc")));
            assert!(!passes(&record("INSERT", &format!("CODE#{prefix}"))));
        }
    }

    #[test]
    fn the_sweeper_runs_on_the_template_schedule() {
        let sources = sources();
        let sweeper = sources
            .schedules
            .iter()
            .find(|s| s.function == "outbox-sweeper")
            .expect("the sweeper is scheduled");
        assert_eq!(sweeper.every, Duration::from_secs(300));
    }

    #[test]
    fn rates_and_pattern_operators() {
        assert_eq!(parse_rate("rate(1 minute)"), Some(Duration::from_secs(60)));
        assert_eq!(parse_rate("rate(2 hours)"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_rate("cron(0 * * * ? *)"), None);
        let pattern = json!({ "a": [{ "anything-but": ["x"] }], "b": [{ "exists": false }] });
        assert!(matches(&pattern, &json!({ "a": "y" })));
        assert!(!matches(&pattern, &json!({ "a": "x" })));
        assert!(!matches(&pattern, &json!({ "a": "y", "b": 1 })));
        assert!(matches(&json!({ "a": [1, 2] }), &json!({ "a": 2 })));
    }

    #[test]
    fn item_failures_resume_at_the_first_failed_record() {
        let batch = vec![
            record("INSERT", "1"),
            record("INSERT", "2"),
            record("INSERT", "3"),
        ];
        let ok = json!({ "batchItemFailures": [] });
        assert_eq!(first_failure(&ok, &batch), None);
        let second = json!({ "batchItemFailures": [{ "itemIdentifier": "2" }] });
        assert_eq!(first_failure(&second, &batch), Some(1));
        let unknown = json!({ "batchItemFailures": [{ "itemIdentifier": "9" }] });
        assert_eq!(first_failure(&unknown, &batch), Some(0));
    }
}
