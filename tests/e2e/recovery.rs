//! Password recovery, password change and sessions over HTTP: codes read from moto, bearer
//! tokens in the Authorization header, concurrent requests racing the revocations.

use std::time::Duration;

use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{unique_email, unique_phone};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::signin::verified_email_account;
use crate::{api, assert_problem, post_json, registration};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a different long passphrase";

/// An answer as it came: status, headers and the exact body bytes.
pub(crate) struct Raw {
    pub(crate) status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Raw {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn problem(&self, status: u16, code: &str) {
        assert_problem(self.status, self.content_type(), &self.json(), status, code);
    }
}

pub(crate) async fn call(
    method: Method,
    path: &str,
    bearer: Option<&str>,
    agent: &str,
    body: Option<Value>,
) -> Raw {
    let mut request = reqwest::Client::new()
        .request(method, api(path))
        .header("user-agent", agent);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the local API answers");
    Raw {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap_or_default(),
    }
}

async fn sign_in(email: &str, password: &str, agent: &str) -> Raw {
    call(
        Method::POST,
        "/login",
        None,
        agent,
        Some(json!({ "email": email, "password": password })),
    )
    .await
}

async fn refresh(token: &str) -> StatusCode {
    post_json("/token", json!({ "refresh_token": token }))
        .await
        .0
}

fn reset_body(code: &str, password: &str, repeat: &str) -> Value {
    json!({ "code": code, "password": password, "repeat_password": repeat })
}

/// Waits out the per-identifier minute after the registration's code.
async fn after_the_send_limit() {
    tokio::time::sleep(Duration::from_secs(61)).await;
}

fn assert_invalid_token(answer: &Raw) {
    answer.problem(401, "invalid_token");
    assert_eq!(
        answer.headers["www-authenticate"], r#"Bearer error="invalid_token""#,
        "RFC 6750's challenge"
    );
}

#[tokio::test]
async fn reset_by_email_is_enumeration_safe_and_ends_every_session() {
    let email = verified_email_account().await;
    let laptop = sign_in(&email, PASSWORD, "laptop").await.json();
    after_the_send_limit().await;

    let nobody = unique_email();
    let known = call(
        Method::POST,
        "/password/forgot",
        None,
        "t",
        Some(json!({ "email": email })),
    )
    .await;
    let unknown = call(
        Method::POST,
        "/password/forgot",
        None,
        "t",
        Some(json!({ "email": nobody })),
    )
    .await;
    assert_eq!(known.status, 202, "{}", known.text);
    assert_eq!(
        (
            unknown.status,
            unknown.content_type(),
            unknown.text.as_str()
        ),
        (known.status, known.content_type(), known.text.as_str()),
        "byte-identical answers"
    );
    assert_eq!(known.text, "{}");
    // The code goes out from the table's stream, moments after the answer.
    let link = Outbox::next_reset_link(&email, 0).await;
    assert!(
        Outbox::fetch().await.emails_to(&nobody).is_empty(),
        "nothing sent to an unknown address"
    );

    // Weak or mismatched: refused, and the code is still good.
    call(
        Method::POST,
        "/password/reset",
        None,
        "t",
        Some(reset_body(&link, "password", "password")),
    )
    .await
    .problem(400, "weak_password");
    call(
        Method::POST,
        "/password/reset",
        None,
        "t",
        Some(reset_body(&link, NEW_PASSWORD, "x")),
    )
    .await
    .problem(400, "password_mismatch");

    // The reset races refreshes of the earlier session: once it has answered, none works.
    let racing = (0..6).map(|_| refresh(laptop["refresh_token"].as_str().unwrap()));
    let (_, done) = tokio::join!(
        futures::future::join_all(racing),
        call(
            Method::POST,
            "/password/reset",
            None,
            "reset-page",
            Some(reset_body(&link, NEW_PASSWORD, NEW_PASSWORD))
        )
    );
    assert_eq!(done.status, 200, "{}", done.text);
    let done = done.json();
    assert!(done["user_id"].is_string() && done["refresh_token"].is_string());
    assert_eq!(
        refresh(laptop["refresh_token"].as_str().unwrap()).await,
        400
    );
    assert_invalid_token(
        &call(
            Method::GET,
            "/sessions",
            laptop["access_token"].as_str(),
            "laptop",
            None,
        )
        .await,
    );

    // Used and unknown codes.
    for code in [link.as_str(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        call(
            Method::POST,
            "/password/reset",
            None,
            "t",
            Some(reset_body(code, NEW_PASSWORD, NEW_PASSWORD)),
        )
        .await
        .problem(400, "invalid_code");
    }
    sign_in(&email, PASSWORD, "laptop")
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(sign_in(&email, NEW_PASSWORD, "laptop").await.status, 200);
    assert_eq!(refresh(done["refresh_token"].as_str().unwrap()).await, 200);
}

#[tokio::test]
async fn reset_by_sms_with_the_code_from_moto() {
    let phone = unique_phone();
    let (status, _, body) = post_json("/registration", registration(("phone", &phone))).await;
    assert_eq!(status, 200, "{body}");
    after_the_send_limit().await;
    let forgot = call(
        Method::POST,
        "/password/forgot",
        None,
        "t",
        Some(json!({ "phone": phone })),
    )
    .await;
    assert_eq!((forgot.status.as_u16(), forgot.text.as_str()), (202, "{}"));
    let outbox = Outbox::wait_until(|o| o.sms_to(&phone).len() > 1).await;
    let text = outbox.sms_to(&phone).last().cloned().unwrap();
    assert!(text.contains("password reset code"), "{text}");
    let code = six_digits(&text).unwrap();
    let mut body = reset_body(&code, NEW_PASSWORD, NEW_PASSWORD);
    body["phone"] = phone.clone().into();
    let done = call(
        Method::POST,
        "/password/reset",
        None,
        "t",
        Some(body.clone()),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    call(Method::POST, "/password/reset", None, "t", Some(body))
        .await
        .problem(400, "invalid_code");
    // The code proved the phone: the new password signs in without an OTP.
    let signed_in = call(
        Method::POST,
        "/login",
        None,
        "t",
        Some(json!({ "phone": phone, "password": NEW_PASSWORD })),
    )
    .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
}

#[tokio::test]
async fn the_owner_of_an_address_takes_back_an_account_a_squatter_registered() {
    let email = unique_email();
    // The squatter registers the owner's address with its own password and never confirms.
    let (status, _, body) = post_json(
        "/registration",
        json!({ "email": email, "password": "squatter's own password", "repeat_password": "squatter's own password" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // (Signing in with it would only send an OTP to the owner's mailbox.)
    after_the_send_limit().await;

    // The owner asks for a reset and sets a password.
    let forgot = call(
        Method::POST,
        "/password/forgot",
        None,
        "owner",
        Some(json!({ "email": email })),
    )
    .await;
    assert_eq!(forgot.status, 202);
    let link = Outbox::next_reset_link(&email, 0).await;
    let done = call(
        Method::POST,
        "/password/reset",
        None,
        "owner",
        Some(reset_body(&link, NEW_PASSWORD, NEW_PASSWORD)),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);

    // The squatter's password no longer works; the owner's signs in, verified.
    sign_in(&email, "squatter's own password", "squatter")
        .await
        .problem(401, "invalid_credentials");
    let owner = sign_in(&email, NEW_PASSWORD, "owner").await;
    assert_eq!(owner.status, 200, "{}", owner.text);
    let sessions = call(
        Method::GET,
        "/sessions",
        owner.json()["access_token"].as_str(),
        "owner",
        None,
    )
    .await;
    let agents: Vec<String> = sessions.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        agents.iter().all(|a| a == "owner"),
        "only the owner's sessions: {agents:?}"
    );
}

#[tokio::test]
async fn sessions_are_listed_revoked_one_by_one_and_all_at_once() {
    let email = verified_email_account().await;
    let laptop = sign_in(&email, PASSWORD, "laptop-browser").await.json();
    let phone = sign_in(&email, PASSWORD, "phone-app").await.json();
    let phone_token = phone["access_token"].as_str();

    let listed = call(Method::GET, "/sessions", phone_token, "phone-app", None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{sessions:?}");
    assert_eq!(current[0]["user_agent"], "phone-app");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    let laptop_session = sessions
        .iter()
        .find(|s| s["user_agent"] == "laptop-browser")
        .expect("the laptop's sign-in is listed");
    for field in ["id", "created_at", "last_used_at", "expires_at"] {
        assert!(
            laptop_session[field].is_string(),
            "{field}: {laptop_session}"
        );
    }

    // Someone else's session is not found, and stays alive.
    let other = sign_in(&verified_email_account().await, PASSWORD, "other")
        .await
        .json();
    let other_id = call(
        Method::GET,
        "/sessions",
        other["access_token"].as_str(),
        "other",
        None,
    )
    .await
    .json()["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        Method::DELETE,
        &format!("/sessions/{other_id}"),
        phone_token,
        "phone-app",
        None,
    )
    .await
    .problem(404, "session_not_found");
    assert_eq!(refresh(other["refresh_token"].as_str().unwrap()).await, 200);

    // Revoking the laptop's ends only it.
    let revoked = call(
        Method::DELETE,
        &format!("/sessions/{}", laptop_session["id"].as_str().unwrap()),
        phone_token,
        "phone-app",
        None,
    )
    .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    assert_eq!(
        refresh(laptop["refresh_token"].as_str().unwrap()).await,
        400
    );
    assert_invalid_token(
        &call(
            Method::GET,
            "/sessions",
            laptop["access_token"].as_str(),
            "l",
            None,
        )
        .await,
    );
    assert_eq!(
        call(Method::GET, "/sessions", phone_token, "phone-app", None)
            .await
            .status,
        200
    );

    // Sign out everywhere while refreshes race it: once it has answered, none works.
    let tablet = sign_in(&email, PASSWORD, "tablet").await.json();
    let tokens = [
        phone["refresh_token"].as_str().unwrap().to_owned(),
        tablet["refresh_token"].as_str().unwrap().to_owned(),
    ];
    let racing = tokens
        .iter()
        .cycle()
        .take(8)
        .map(|t| post_json("/token", json!({ "refresh_token": t })));
    let (raced, everywhere) = tokio::join!(
        futures::future::join_all(racing),
        call(Method::DELETE, "/sessions", phone_token, "phone-app", None)
    );
    assert_eq!(everywhere.status, 204, "{}", everywhere.text);
    let mut later: Vec<String> = tokens.to_vec();
    later.extend(
        raced
            .into_iter()
            .filter_map(|(_, _, body)| body["refresh_token"].as_str().map(str::to_owned)),
    );
    for token in later {
        assert_eq!(
            refresh(&token).await,
            400,
            "a session ended by sign-out everywhere"
        );
    }
    assert_invalid_token(&call(Method::GET, "/sessions", phone_token, "phone-app", None).await);
}

#[tokio::test]
async fn changing_the_password_over_http_ends_the_other_sessions() {
    let email = verified_email_account().await;
    let laptop = sign_in(&email, PASSWORD, "laptop").await.json();
    let phone = sign_in(&email, PASSWORD, "phone").await.json();
    let change = |current: &str| json!({ "current_password": current, "password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD });
    call(
        Method::POST,
        "/password/change",
        laptop["access_token"].as_str(),
        "laptop",
        Some(change("wrong")),
    )
    .await
    .problem(401, "invalid_credentials");
    let changed = call(
        Method::POST,
        "/password/change",
        laptop["access_token"].as_str(),
        "laptop",
        Some(change(PASSWORD)),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let fresh = changed.json();
    assert_eq!(fresh["token_type"], "Bearer");
    for earlier in [&laptop, &phone] {
        assert_eq!(
            refresh(earlier["refresh_token"].as_str().unwrap()).await,
            400
        );
    }
    let listed = call(
        Method::GET,
        "/sessions",
        fresh["access_token"].as_str(),
        "laptop",
        None,
    )
    .await;
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 1, "only the new session: {sessions:?}");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sign_in(&email, NEW_PASSWORD, "laptop").await.status, 200);
}

#[tokio::test]
async fn bearer_routes_refuse_missing_malformed_and_unsigned_tokens() {
    let email = verified_email_account().await;
    let pair = sign_in(&email, PASSWORD, "t").await.json();
    let good = pair["access_token"].as_str().unwrap();
    let payload = good.split('.').nth(1).unwrap();
    let none_header = auth_shared::crypto::base64url(br#"{"alg":"none","typ":"at+jwt"}"#);
    let unsigned = format!("{none_header}.{payload}.");
    for (method, path) in [
        (Method::GET, "/sessions"),
        (Method::DELETE, "/sessions"),
        (
            Method::DELETE,
            "/sessions/00000000-0000-4000-8000-000000000000",
        ),
        (Method::POST, "/password/change"),
    ] {
        assert_invalid_token(&call(method.clone(), path, None, "t", None).await);
        for bad in ["garbage", "a.b.c", unsigned.as_str()] {
            assert_invalid_token(&call(method.clone(), path, Some(bad), "t", None).await);
        }
    }
    // A Basic header is no bearer token either.
    let basic = reqwest::Client::new()
        .get(api("/sessions"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(
        call(Method::GET, "/sessions", Some(good), "t", None)
            .await
            .status,
        200
    );
}
