//! Faults: DynamoDB Local and moto paused (SIGSTOP, then SIGCONT) in the middle of bursts of
//! registrations, refreshes and confirmations against the API that `make test` serves, the
//! way a stalled or slow AWS dependency behaves. Each test states what must still hold.
//!
//! They pause the servers every other test uses, so `make test` runs them alone, after the
//! rest, one at a time (`--test-threads 1`), with `DDB_PID` and `MOTO_PID` exported. A guard
//! resumes a paused server whatever happens in the test.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use auth_tests::events::Subscriber;
use auth_tests::moto::Outbox;
use auth_tests::{required_env, unique_email};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
/// Longer than the refresh's own deadline (5 s) and the SDK's per-attempt timeout (5 s).
const STALL: Duration = Duration::from_secs(7);

/// A server paused until this is dropped.
struct Paused(String);

impl Paused {
    fn pause(pid_var: &str) -> Self {
        let pid = required_env(pid_var);
        signal("-STOP", &pid);
        Self(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

fn signal(which: &str, pid: &str) {
    let status = std::process::Command::new("kill")
        .args([which, pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {which} {pid}");
}

/// Pauses the server for [`STALL`] on a thread of its own, from `after` on.
fn stall(pid_var: &'static str, after: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let paused = Paused::pause(pid_var);
        std::thread::sleep(STALL);
        drop(paused);
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

async fn call(method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let url = format!("{}{path}", required_env("API_URL").trim_end_matches('/'));
    let mut request = client().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        // The front end gave up on the function: a 5xx as far as a client can tell.
        Err(_) => (StatusCode::BAD_GATEWAY, Value::Null),
    }
}

async fn register(email: &str) -> (StatusCode, Value) {
    call(
        reqwest::Method::POST,
        "/registration",
        Some(json!({ "email": email, "password": PASSWORD, "repeat_password": PASSWORD })),
    )
    .await
}

async fn refresh(token: &str) -> (StatusCode, Value) {
    call(
        reqwest::Method::POST,
        "/token",
        Some(json!({ "refresh_token": token })),
    )
    .await
}

/// A verified account and a session in it (the confirmation's).
async fn signed_in() -> String {
    let email = unique_email();
    let (status, body) = register(&email).await;
    assert_eq!(status, 200, "{body}");
    let code = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .expect("a link");
    let (status, body) = call(
        reqwest::Method::PATCH,
        &format!("/registration/{code}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["refresh_token"].as_str().expect("a token").to_owned()
}

/// A refresh as a client following the README does it: a 5xx or a dropped connection is
/// retried at once with the same token, until an answer that is not a 5xx.
async fn refresh_like_a_client(token: &str) -> (StatusCode, Value) {
    let mut last = (StatusCode::BAD_GATEWAY, Value::Null);
    for _ in 0..6 {
        last = refresh(token).await;
        if !last.0.is_server_error() {
            break;
        }
    }
    last
}

#[tokio::test]
async fn two_tabs_refreshing_through_a_database_stall_stay_signed_in() {
    let sessions: Vec<String> = futures::future::join_all((0..6).map(|_| signed_in())).await;
    // Every session's two tabs present its token at the same instant, while DynamoDB stalls
    // for longer than a refresh may take.
    let stalled = stall("DDB_PID", Duration::from_millis(150));
    let started = Instant::now();
    let answers = futures::future::join_all(sessions.iter().map(|token| async move {
        let (a, b) = tokio::join!(refresh_like_a_client(token), refresh_like_a_client(token));
        (token.clone(), a, b)
    }))
    .await;
    stalled.join().expect("the stall thread");
    let took = started.elapsed();
    for (token, (status_a, a), (status_b, b)) in answers {
        assert_eq!(status_a, 200, "a tab was signed out by the stall: {a}");
        assert_eq!(status_b, 200, "a tab was signed out by the stall: {b}");
        // At most one successor: both tabs hold the same new token...
        assert_eq!(
            a["refresh_token"], b["refresh_token"],
            "the two tabs got different successors"
        );
        // ...and the session lives on with it.
        let next = a["refresh_token"].as_str().unwrap();
        let (status, body) = refresh(next).await;
        assert_eq!(status, 200, "the session ended after the stall: {body}");
        assert_ne!(next, token);
    }
    assert!(took < Duration::from_secs(30), "refreshes took {took:?}");
}

#[tokio::test]
async fn registrations_through_a_mail_stall_send_every_code_they_answer_for_and_leave_no_half() {
    let subscriber = Subscriber::new(Some(&["user.created"])).await;
    let emails: Vec<String> = (0..10).map(|_| unique_email()).collect();
    // SES (moto) stalls while the registrations wait on their sends.
    let stalled = stall("MOTO_PID", Duration::from_millis(100));
    let answers = futures::future::join_all(emails.iter().map(|e| register(e))).await;
    stalled.join().expect("the stall thread");
    let outbox = Outbox::fetch().await;
    let mut created = BTreeMap::new();
    for (email, (status, body)) in emails.iter().zip(answers) {
        match status.as_u16() {
            // No 200 without its mail.
            200 => {
                // (A send that timed out and was retried may have gone out twice, with the
                // same code: that costs a mail, never a code that does not work.)
                assert!(
                    !outbox.emails_to(email).is_empty(),
                    "{email} was answered 200 and got no mail"
                );
                created.insert(body["user_id"].as_str().unwrap().to_owned(), email.clone());
            }
            // A failed send leaves nothing behind: the address is not held. (The send minute
            // still applies, so the answer is 429 or a fresh 200, never user_exists.)
            _ => {
                let (again, body) = register(email).await;
                assert!(
                    again == 429 || again == 200,
                    "{email} half-stored after {status}: {again} {body}"
                );
            }
        }
    }
    assert!(!created.is_empty(), "no registration got through the stall");
    // Every committed registration's user.created reaches a subscriber.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = BTreeSet::new();
    while created.keys().any(|u| !seen.contains(u)) && Instant::now() < deadline {
        seen.extend(
            subscriber
                .received()
                .await
                .into_iter()
                .filter(|e| e.event_type == "user.created")
                .map(|e| e.user_id),
        );
    }
    let missing: Vec<_> = created.keys().filter(|u| !seen.contains(*u)).collect();
    assert!(
        missing.is_empty(),
        "user.created never arrived for {missing:?}"
    );
}

#[tokio::test]
async fn confirmations_through_a_database_stall_confirm_each_account_once() {
    let mut codes = Vec::new();
    for _ in 0..8 {
        let email = unique_email();
        let (status, body) = register(&email).await;
        assert_eq!(status, 200, "{body}");
        let code = Outbox::fetch().await.emails_to(&email)[0]
            .confirm_code()
            .unwrap();
        codes.push((email, code));
    }
    let stalled = stall("DDB_PID", Duration::from_millis(100));
    // Each link clicked twice at once, during the stall.
    let answers = futures::future::join_all(codes.iter().map(|(_, code)| async move {
        let path = format!("/registration/{code}");
        tokio::join!(
            call(reqwest::Method::PATCH, &path, None),
            call(reqwest::Method::PATCH, &path, None)
        )
    }))
    .await;
    stalled.join().expect("the stall thread");
    for ((email, code), ((a, _), (b, _))) in codes.iter().zip(answers) {
        let wins = [a, b].iter().filter(|s| **s == 200).count();
        assert!(wins <= 1, "{email} confirmed twice");
        // Whatever the clicks got, the account is confirmed exactly once in the end: a
        // retry confirms it if neither did, and is refused if one did.
        let (retry, body) = call(
            reqwest::Method::PATCH,
            &format!("/registration/{code}"),
            None,
        )
        .await;
        if wins == 1 {
            assert_eq!(retry, 400, "{email}: {body}");
        } else {
            assert!(retry == 200 || retry == 400, "{email}: {retry} {body}");
        }
        let (status, body) = call(
            reqwest::Method::POST,
            "/login",
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await;
        assert_eq!(
            status, 200,
            "{email} is not verified after the stall: {body}"
        );
    }
}
