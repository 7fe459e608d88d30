//! A recording proxy in front of the local AWS stand-ins: a function pointed at it
//! (`AWS_ENDPOINT_URL_*`) reaches DynamoDB Local and moto as usual, and every IAM action its
//! requests need is recorded, so a test can hold the calls a function's code really makes
//! against the policy `template.yaml` grants it. It can also make SES fail, to drive the
//! code paths that only run when a send fails (rollbacks).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use auth_tools::loopback::{Handler, Request, Response, serve};
use serde_json::Value;

/// What a request needs from IAM: `dynamodb:GetItem`, `ses:SendEmail`, ... and for a query
/// what it reads (`dynamodb:Query@table`, `dynamodb:Query@index/<name>`), for SNS
/// which kind of target, `sns:Publish` to a phone (`sns:Publish@sms`) or to a topic
/// (`sns:Publish@topic`); for Secrets Manager which secret (`...@hmac`, `...@signing`).
pub type Action = String;

pub struct Recorder {
    pub url: String,
    actions: Arc<Mutex<BTreeSet<Action>>>,
    fail_email: Arc<AtomicBool>,
}

fn actions_of(request: &Request) -> Vec<Action> {
    let target = request
        .headers
        .get("x-amz-target")
        .cloned()
        .unwrap_or_default();
    if target == "DynamoDB_20120810.TransactGetItems" {
        // IAM authorises a transactional read as GetItem on each item.
        return vec!["dynamodb:GetItem".to_owned()];
    }
    if target == "DynamoDB_20120810.Query" {
        // A query of an index is granted on the index's ARN, one of the table on the table's.
        let index = serde_json::from_slice::<Value>(&request.body)
            .ok()
            .and_then(|b| b["IndexName"].as_str().map(str::to_owned));
        return vec![match index {
            Some(index) => format!("dynamodb:Query@index/{index}"),
            None => "dynamodb:Query@table".to_owned(),
        }];
    }
    if let Some(operation) = target.strip_prefix("DynamoDB_20120810.") {
        let mut actions = vec![format!("dynamodb:{operation}")];
        // A transaction is authorised per contained action too.
        if operation == "TransactWriteItems"
            && let Ok(body) = serde_json::from_slice::<Value>(&request.body)
        {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                for (kind, action) in [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ] {
                    if item.get(kind).is_some() {
                        actions.push(format!("dynamodb:{action}"));
                    }
                }
            }
        }
        return actions;
    }
    if let Some(operation) = target.strip_prefix("AWSCognitoIdentityProviderService.") {
        // Granted on the one user pool the service migrates from.
        return vec![format!("cognito-idp:{operation}@pool")];
    }
    if let Some(operation) = target.strip_prefix("secretsmanager.") {
        // Which of the two secrets: each is granted to its own functions.
        let id = serde_json::from_slice::<Value>(&request.body)
            .ok()
            .and_then(|b| b["SecretId"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let secret = [
            ("hmac", "AUTH_HMAC_SECRET_ID"),
            ("signing", "AUTH_SIGNING_SECRET_ID"),
            ("oauth", "AUTH_OAUTH_SECRET_ID"),
        ]
        .into_iter()
        .find(|(_, var)| std::env::var(var).is_ok_and(|v| v == id))
        .map_or("unknown", |(name, _)| name);
        return vec![format!("secretsmanager:{operation}@{secret}")];
    }
    if request.path.starts_with("/v2/email/outbound-emails") {
        return vec!["ses:SendEmail".to_owned()];
    }
    let form = String::from_utf8_lossy(&request.body);
    // A replay: to the replay topic (PublishBatch is granted as sns:Publish).
    let replay_topic = std::env::var("USER_EVENTS_REPLAY_TOPIC_ARN").unwrap_or_default();
    if (form.contains("Action=PublishBatch") || form.contains("Action=Publish&"))
        && !replay_topic.is_empty()
        && form.contains(&replay_topic.replace(':', "%3A"))
    {
        return vec!["sns:Publish@replay-topic".to_owned()];
    }
    if form.contains("Action=Publish") {
        let kind = if form.contains("TopicArn=") {
            "topic"
        } else {
            "sms"
        };
        return vec![format!("sns:Publish@{kind}")];
    }
    vec![format!("unknown:{} {}", request.method, request.path)]
}

impl Recorder {
    /// Forwards DynamoDB to `dynamodb_url` and everything else to `moto_url`.
    pub async fn start(dynamodb_url: &str, moto_url: &str) -> Self {
        let actions: Arc<Mutex<BTreeSet<Action>>> = Arc::default();
        let fail_email = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::new();
        let (dynamodb_url, moto_url) = (dynamodb_url.to_owned(), moto_url.to_owned());
        let handler: Handler = {
            let actions = Arc::clone(&actions);
            let fail_email = Arc::clone(&fail_email);
            Arc::new(move |request: Request| {
                let recorded = actions_of(&request);
                actions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(recorded.iter().cloned());
                let is_dynamodb = recorded.iter().any(|a| a.starts_with("dynamodb:"));
                let base = if is_dynamodb {
                    &dynamodb_url
                } else {
                    &moto_url
                }
                .clone();
                let failing = recorded.iter().any(|a| a == "ses:SendEmail")
                    && fail_email.load(Ordering::SeqCst);
                let http = http.clone();
                Box::pin(async move {
                    if failing {
                        return Response::new(
                            500,
                            "application/json",
                            r#"{"message":"injected failure"}"#,
                        );
                    }
                    forward(&http, &base, request).await
                })
            })
        };
        let port = serve(handler).await.expect("the recorder listens");
        Self {
            url: format!("http://127.0.0.1:{port}"),
            actions,
            fail_email,
        }
    }

    /// Every action recorded so far.
    pub fn actions(&self) -> BTreeSet<Action> {
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// While set, every SES send fails with a 500.
    pub fn fail_email(&self, fail: bool) {
        self.fail_email.store(fail, Ordering::SeqCst);
    }
}

async fn forward(http: &reqwest::Client, base: &str, request: Request) -> Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or_default();
    let mut outgoing = http.request(method, format!("{base}{}", request.path));
    for (name, value) in &request.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            outgoing = outgoing.header(name, value);
        }
    }
    let Ok(answer) = outgoing.body(request.body).send().await else {
        return Response::new(
            502,
            "application/json",
            r#"{"message":"upstream unreachable"}"#,
        );
    };
    let status = answer.status().as_u16();
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            )
        })
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    Response {
        status,
        headers,
        body,
    }
}
