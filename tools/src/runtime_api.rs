//! A stand-in for the Lambda Runtime API on loopback: a function binary started with
//! `AWS_LAMBDA_RUNTIME_API` pointing here runs exactly as it would in Lambda, taking the
//! events pushed here and reporting what it answered.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::loopback::{Handler, Request, Response, serve};

/// One finished invocation: the status the function answered and how long it took from
/// handing out the event to receiving the response.
pub struct Invocation {
    pub status: u16,
    pub micros: f64,
    pub body: String,
}

/// The Runtime API: `next` hands out queued events (or, in init mode, only reports that the
/// function asked for one), `response` reports back.
pub struct RuntimeApi {
    pub port: u16,
    queue: Arc<Mutex<VecDeque<String>>>,
    ready: Arc<Notify>,
    pub first_poll: mpsc::UnboundedReceiver<Instant>,
    pub done: mpsc::UnboundedReceiver<Invocation>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let queue: Arc<Mutex<VecDeque<String>>> = Arc::new(Mutex::new(VecDeque::new()));
        let ready = Arc::new(Notify::new());
        let started: Arc<Mutex<std::collections::HashMap<String, Instant>>> = Arc::default();
        let (poll_tx, first_poll) = mpsc::unbounded_channel();
        let (done_tx, done) = mpsc::unbounded_channel();
        let handler: Handler = {
            let queue = Arc::clone(&queue);
            let ready = Arc::clone(&ready);
            Arc::new(move |request: Request| {
                let queue = Arc::clone(&queue);
                let ready = Arc::clone(&ready);
                let started = Arc::clone(&started);
                let poll_tx = poll_tx.clone();
                let done_tx = done_tx.clone();
                Box::pin(async move {
                    if request.path.ends_with("/invocation/next") {
                        let _ = poll_tx.send(Instant::now());
                        let event = loop {
                            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                            match next {
                                Some(event) => break event,
                                None => ready.notified().await,
                            }
                        };
                        let id = uuid::Uuid::new_v4().to_string();
                        started
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(id.clone(), Instant::now());
                        Response::new(200, "application/json", event)
                            .header("lambda-runtime-aws-request-id", &id)
                            .header("lambda-runtime-deadline-ms", "99999999999999")
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:bench",
                            )
                    } else if let Some(rest) =
                        request.path.strip_prefix("/2018-06-01/runtime/invocation/")
                    {
                        let id = rest.split('/').next().unwrap_or_default();
                        let start = started.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                        let status = serde_json::from_slice::<Value>(&request.body)
                            .ok()
                            .and_then(|v| v["statusCode"].as_u64())
                            .unwrap_or(if rest.ends_with("/error") { 599 } else { 0 })
                            as u16;
                        if let Some(start) = start {
                            let micros = start.elapsed().as_secs_f64() * 1e6;
                            let body = String::from_utf8_lossy(&request.body).into_owned();
                            let _ = done_tx.send(Invocation {
                                status,
                                micros,
                                body,
                            });
                        }
                        Response::new(202, "application/json", "{}")
                    } else {
                        eprintln!(
                            "runtime stand-in: unexpected {} {}",
                            request.method, request.path
                        );
                        Response::new(404, "application/json", "{}")
                    }
                })
            })
        };
        let port = serve(handler).await?;
        Ok(Self {
            port,
            queue,
            ready,
            first_poll,
            done,
        })
    }

    pub fn push(&self, event: String) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(event);
        self.ready.notify_one();
    }
}

/// An API Gateway HTTP API (payload 2.0) event for `method path`, as Lambda hands it to an
/// HTTP function; `route` is the route key's path (`/registration/{code}`).
pub fn api_gateway_event(
    method: &str,
    path: &str,
    route: &str,
    body: Option<String>,
    params: Value,
) -> String {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json", "host": "api.example", "user-agent": "runtime-stand-in" },
        "pathParameters": params,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "api.example",
            "domainPrefix": "api", "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("{method} {route}"),
            "stage": "$default", "time": "22/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "runtime-stand-in" },
        },
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string()
}
