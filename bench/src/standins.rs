//! Loopback stand-ins for the AWS services the functions call (DynamoDB, SES v2, SNS, Secrets
//! Manager), answered from memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use auth_tools::loopback::{Handler, Request, Response, serve};

/// What the fake table returns for accounts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// No account holds the identifier.
    Absent,
    Verified,
    Unverified,
}

pub struct AwsState {
    /// The two secrets' values: the HMAC key's, and the signing keys'.
    pub hmac_secret_json: String,
    pub signing_secret_json: String,
    /// How long Secrets Manager takes to answer: a round trip in AWS is tens of milliseconds,
    /// where loopback answers in one.
    pub secret_delay: std::time::Duration,
    pub password_hash: String,
    pub account: Mutex<Account>,
    last_code_pk: Mutex<String>,
    /// Requests received, by service and operation (`DynamoDB GetItem`, `SNS Publish`...).
    calls: Mutex<BTreeMap<String, u64>>,
}

impl AwsState {
    pub fn new(
        doc: &auth_shared::secrets::SecretDocument,
        password_hash: String,
        secret_delay: std::time::Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            secret_delay,
            hmac_secret_json: serde_json::to_string(&doc.hmac_part()).unwrap_or_default(),
            signing_secret_json: serde_json::to_string(&doc.signing_part()).unwrap_or_default(),
            password_hash,
            account: Mutex::new(Account::Verified),
            last_code_pk: Mutex::new(String::new()),
            calls: Mutex::default(),
        })
    }

    /// The calls counted since the last take.
    pub fn take_calls(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count(&self, call: String) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(call)
            .or_default() += 1;
    }
}

fn s(v: &str) -> Value {
    json!({ "S": v })
}

fn n(v: i64) -> Value {
    json!({ "N": v.to_string() })
}

fn get_item(state: &AwsState, body: &Value) -> Value {
    let pk = body["Key"]["pk"]["S"].as_str().unwrap_or_default();
    let sk = body["Key"]["sk"]["S"].as_str().unwrap_or_default();
    let far = 4_000_000_000i64;
    let now = auth_shared::Clock::now(&auth_shared::SystemClock);
    let account = *state.account.lock().unwrap_or_else(|e| e.into_inner());
    let item = if (pk.starts_with("EMAIL#") || pk.starts_with("PHONE#")) && sk == "CLAIM" {
        if account == Account::Absent {
            return json!({});
        }
        json!({ "pk": s(pk), "sk": s(sk), "user_id": s("bench-user") })
    } else if pk.starts_with("USER#") {
        let verified = account == Account::Verified;
        let code_pk = state
            .last_code_pk
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut user = json!({
            "pk": s(pk), "sk": s("PROFILE"), "user_id": s("bench-user"),
            "identifier_type": s("email"), "identifier": s("bench@example.com"),
            "address": s("bench@example.com"), "password_hash": s(&state.password_hash),
            "status": s("active"), "verified": { "BOOL": verified }, "created_at": n(now),
            "code_pk": s(&code_pk),
        });
        if !verified {
            user["expires_at"] = n(far);
        }
        user
    } else if let Some(digest) = pk.strip_prefix("CODE#") {
        *state.last_code_pk.lock().unwrap_or_else(|e| e.into_inner()) = pk.to_owned();
        json!({
            "pk": s(pk), "sk": s("CODE"), "user_id": s("bench-user"), "digest": s(digest),
            "created_at": n(now), "expires_at": n(far), "attempts": n(0), "used": { "BOOL": false },
        })
    } else if pk.starts_with("REFRESH#") {
        json!({
            "pk": s(pk), "sk": s("TOKEN"), "family_id": s("bench-family"), "user_id": s("bench-user"),
            "created_at": n(now), "expires_at": n(far), "generation": n(0),
        })
    } else if pk.starts_with("FAMILY#") {
        json!({
            "pk": s(pk), "sk": s("FAMILY"), "family_id": s("bench-family"), "user_id": s("bench-user"),
            "created_at": n(now), "expires_at": n(far), "revoked": { "BOOL": false },
        })
    } else if pk.starts_with("CHALLENGE#") {
        json!({
            "pk": s(pk), "sk": s("OTP"), "user_id": s("bench-user"), "digest": s("not-the-digest"),
            "created_at": n(now), "expires_at": n(far), "attempts": n(0), "used": { "BOOL": false },
        })
    } else {
        return json!({});
    };
    json!({ "Item": item })
}

/// Serves every AWS API the functions call; returns the port.
pub async fn aws(state: Arc<AwsState>) -> std::io::Result<u16> {
    let handler: Handler = Arc::new(move |request: Request| {
        let state = Arc::clone(&state);
        Box::pin(async move {
            let target = request
                .headers
                .get("x-amz-target")
                .cloned()
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let call = if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
                format!("DynamoDB {op}")
            } else if let Some(op) = target.strip_prefix("secretsmanager.") {
                format!("SecretsManager {op}")
            } else if request.path.starts_with("/v2/email/outbound-emails") {
                "SES SendEmail".to_owned()
            } else if String::from_utf8_lossy(&request.body).contains("Action=Publish") {
                "SNS Publish".to_owned()
            } else {
                format!("other {} {}", request.method, request.path)
            };
            state.count(call);
            let ddb = |v: Value| Response::new(200, "application/x-amz-json-1.0", v.to_string());
            match target.as_str() {
                "DynamoDB_20120810.GetItem" => ddb(get_item(&state, &body)),
                // A code try taken (`ReturnValues: ALL_NEW`): the item with the try counted.
                "DynamoDB_20120810.UpdateItem" if body["ReturnValues"] == "ALL_NEW" => {
                    let mut item = get_item(&state, &body)["Item"].clone();
                    if item.get("attempts").is_some() {
                        item["attempts"] = n(1);
                    }
                    // A sign-in attempt counted on the login gate: the first failure.
                    if body["Key"]["sk"]["S"] == "LOCK" {
                        let now = auth_shared::Clock::now(&auth_shared::SystemClock);
                        item = json!({
                            "pk": body["Key"]["pk"].clone(), "sk": s("LOCK"), "failures": n(1),
                            "locked_until_ms": n(0), "version": n(1), "expires_at": n(now + 86_400),
                        });
                    }
                    ddb(json!({ "Attributes": item }))
                }
                "DynamoDB_20120810.Query" => {
                    ddb(json!({ "Items": [], "Count": 0, "ScannedCount": 0 }))
                }
                t if t.starts_with("DynamoDB_20120810.") => ddb(json!({})),
                "secretsmanager.GetSecretValue" => {
                    tokio::time::sleep(state.secret_delay).await;
                    let id = body["SecretId"].as_str().unwrap_or_default().to_owned();
                    let value = if id == "bench-signing" {
                        &state.signing_secret_json
                    } else {
                        &state.hmac_secret_json
                    };
                    Response::new(
                        200,
                        "application/x-amz-json-1.1",
                        json!({
                            "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{id}"),
                            "Name": id, "SecretString": value, "VersionId": "v1",
                            "VersionStages": ["AWSCURRENT"],
                        })
                        .to_string(),
                    )
                }
                _ if request.path.starts_with("/v2/email/outbound-emails") => Response::new(
                    200,
                    "application/json",
                    json!({ "MessageId": "bench" }).to_string(),
                ),
                _ if String::from_utf8_lossy(&request.body).contains("Action=Publish") => {
                    Response::new(
                        200,
                        "text/xml",
                        "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>\
                     <MessageId>bench</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId>\
                     </ResponseMetadata></PublishResponse>",
                    )
                }
                _ => Response::new(
                    400,
                    "application/json",
                    format!(
                        "{{\"message\":\"unexpected {} {}\"}}",
                        request.method, request.path
                    ),
                ),
            }
        })
    });
    serve(handler).await
}
