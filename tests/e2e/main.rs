//! End-to-end tests over HTTP against the API that `make test` serves with
//! `cargo lambda watch` (the same paths as the deployed API), reading sent mail and SMS
//! from moto.

mod account;
mod events;
mod federation;
mod lambda;
mod logs;
mod operators;
mod passkeys;
mod policies;
mod provisioning;
mod recovery;
mod signin;

use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{required_env, unique_email, unique_phone};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub fn api(path: &str) -> String {
    format!("{}{path}", required_env("API_URL").trim_end_matches('/'))
}

pub async fn send(
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Option<String>,
) -> (StatusCode, String, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, api(path));
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("the local API answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, content_type, json)
}

pub async fn post_json(path: &str, body: Value) -> (StatusCode, String, Value) {
    send(
        Method::POST,
        path,
        Some("application/json"),
        Some(body.to_string()),
    )
    .await
}

pub fn registration(identifier: (&str, &str)) -> Value {
    json!({
        identifier.0: identifier.1,
        "password": "correct horse battery staple",
        "repeat_password": "correct horse battery staple",
    })
}

pub fn assert_problem(
    status: StatusCode,
    content_type: &str,
    body: &Value,
    want_status: u16,
    want_code: &str,
) {
    assert_error_document(status, body, want_status, want_code);
    assert_eq!(content_type, "application/problem+json", "{body}");
}

/// The members every error carries, problem document or OAuth error alike.
pub fn assert_error_document(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert_eq!(body["status"], want_status, "{body}");
    assert!(body["title"].is_string() && body["type"].is_string() && body["detail"].is_string());
}

#[tokio::test]
async fn register_by_email_then_confirm_through_the_link() {
    let email = unique_email();
    let (status, content_type, body) =
        post_json("/registration", registration(("email", &email))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/json");
    assert_eq!(body["channel"], "email");
    let user_id = body["user_id"].as_str().expect("a user id").to_owned();

    let mails = Outbox::fetch().await.emails_to(&email);
    assert_eq!(mails.len(), 1);
    let code = mails[0].confirm_code().expect("a confirmation link");

    let (status, _, body) = send(Method::PATCH, &format!("/registration/{code}"), None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], user_id.as_str());
    assert_eq!(body["verified"], "email");
    // Verified, so signed in: the confirmation carries a token pair.
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());

    let (status, content_type, body) =
        send(Method::PATCH, &format!("/registration/{code}"), None, None).await;
    assert_problem(status, &content_type, &body, 400, "invalid_code");

    // Within the minute, a second registration is `user_exists` (it would send nothing);
    // resend tells verified.
    let (status, content_type, body) =
        post_json("/registration", registration(("email", &email))).await;
    assert_problem(status, &content_type, &body, 400, "user_exists");
    let (status, content_type, body) =
        post_json("/registration/resend_code", json!({"email": email})).await;
    assert_problem(status, &content_type, &body, 400, "already_verified");
}

#[tokio::test]
async fn register_by_phone_then_confirm_with_the_sms_code() {
    let phone = unique_phone();
    // Spaces, dashes and parentheses are stripped before the E.164 check.
    let typed = format!(
        "{} ({}) {}-{}",
        &phone[..2],
        &phone[2..5],
        &phone[5..8],
        &phone[8..]
    );
    let (status, _, body) = post_json("/registration", registration(("phone", &typed))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["channel"], "sms");

    let sms = Outbox::fetch().await.sms_to(&phone);
    assert_eq!(sms.len(), 1);
    let code = six_digits(&sms[0]).expect("six digits");

    let body = json!({"phone": phone}).to_string();
    let (status, _, answer) = send(
        Method::PATCH,
        &format!("/registration/{code}"),
        Some("application/json"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["verified"], "phone");
}

#[tokio::test]
async fn resending_too_soon_is_429_with_retry_after() {
    let email = unique_email();
    let (status, _, _) = post_json("/registration", registration(("email", &email))).await;
    assert_eq!(status, 200);
    let response = reqwest::Client::new()
        .post(api("/registration/resend_code"))
        .json(&json!({"email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    let (status, content_type, body) = post_json(
        "/registration/resend_code",
        json!({"phone": unique_phone()}),
    )
    .await;
    assert_problem(status, &content_type, &body, 400, "user_not_found");
}

/// (method, path, content type, body, expected status, expected code)
type Case = (
    Method,
    &'static str,
    Option<&'static str>,
    Option<String>,
    u16,
    &'static str,
);

#[tokio::test]
async fn malformed_requests_get_4xx_problems_and_never_5xx() {
    let good = registration(("email", "someone@example.com"));
    let json_ct = Some("application/json");
    let cases: Vec<Case> = vec![
        (Method::POST, "/registration", json_ct, Some("{".into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some("[]".into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some("null".into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, None, 400, "invalid_request"),
        (Method::POST, "/registration", Some("text/plain"), Some(good.to_string()), 415, "unsupported_media_type"),
        (Method::POST, "/registration", Some("application/x-www-form-urlencoded"), Some("email=a".into()), 415, "unsupported_media_type"),
        (Method::POST, "/registration", None, Some(good.to_string()), 415, "unsupported_media_type"),
        (Method::POST, "/registration", json_ct, Some(format!(r#"{{"email":"{}"}}"#, "a".repeat(17 * 1024))), 413, "payload_too_large"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":5,"password":"x","repeat_password":"x"}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":"a@example.com","password":["x"],"repeat_password":"x"}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some(r#"{"emial":"a@example.com","password":"x","repeat_password":"x"}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":"a@example.com","phone":"+14155552671","password":"x","repeat_password":"x"}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some(r#"{"password":"x","repeat_password":"x"}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":"a@example.com","password":"x"}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":"a@example.com","password":"x","repeat_password":"x","username":"no spaces"}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":"not-an-email","password":"x","repeat_password":"x"}"#.into()), 400, "invalid_email"),
        (Method::POST, "/registration", json_ct, Some(r#"{"phone":"+1 555","password":"x","repeat_password":"x"}"#.into()), 400, "invalid_phone"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":"a@example.com","password":"abcdefgh1","repeat_password":"abcdefgh2"}"#.into()), 400, "password_mismatch"),
        (Method::POST, "/registration", json_ct, Some(r#"{"email":"a@example.com","password":"password","repeat_password":"password"}"#.into()), 400, "weak_password"),
        (Method::PATCH, "/registration/not-a-code", None, None, 400, "invalid_code"),
        (Method::PATCH, "/registration/123456", json_ct, Some("{".into()), 400, "invalid_request"),
        (Method::PATCH, "/registration/123456", json_ct, Some(r#"{"phone":5}"#.into()), 400, "invalid_request"),
        (Method::PATCH, "/registration/123456", json_ct, Some(r#"{"phone":"+14155552671","extra":1}"#.into()), 400, "invalid_request"),
        (Method::PATCH, "/registration/123456", Some("text/plain"), Some(r#"{"phone":"+14155552671"}"#.into()), 415, "unsupported_media_type"),
        (Method::PATCH, "/registration/123456", json_ct, Some(r#"{"phone":"nope"}"#.into()), 400, "invalid_phone"),
        (Method::POST, "/registration/resend_code", json_ct, Some("{}".into()), 400, "invalid_request"),
        (Method::POST, "/registration/resend_code", json_ct, Some(r#"{"email":true}"#.into()), 400, "invalid_request"),
        (Method::POST, "/registration/resend_code", Some("text/html"), Some("<p>".into()), 415, "unsupported_media_type"),
    ];
    for (method, path, content_type, body, want_status, want_code) in cases {
        let label = format!(
            "{method} {path} {content_type:?} {:?}",
            body.as_deref().map(|b| &b[..b.len().min(80)])
        );
        let (status, got_type, answer) = send(method, path, content_type, body).await;
        assert!(!status.is_server_error(), "{label}: {status}");
        assert_eq!(status.as_u16(), want_status, "{label}: {answer}");
        assert_eq!(got_type, "application/problem+json", "{label}");
        assert_eq!(answer["code"], want_code, "{label}: {answer}");
    }
}
