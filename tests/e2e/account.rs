//! The account's own routes over HTTP: `GET /me`, changing the identifier with the code read
//! from moto, and deleting the account, whose `user.deleted` reaches a subscribed queue.

use std::time::Duration;

use auth_shared::events::USER_DELETED;
use auth_tests::events::Subscriber;
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{unique_email, unique_phone};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{assert_problem, post_json, send};

const PASSWORD: &str = "correct horse battery staple";

/// A bearer call, as the recovery tests make it: the status and the JSON body.
pub(crate) async fn call(
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let answer = crate::recovery::call(method, path, Some(bearer), "e2e", body).await;
    (answer.status, answer.json())
}

/// Registers (with `username`) and confirms an email account; returns (email, user id,
/// access token, refresh token).
pub(crate) async fn account(username: Option<&str>) -> (String, String, String, String) {
    let email = unique_email();
    let mut body = json!({ "email": email, "password": PASSWORD, "repeat_password": PASSWORD });
    if let Some(name) = username {
        body["username"] = name.into();
    }
    let (status, _, registered) = post_json("/registration", body).await;
    assert_eq!(status, 200, "{registered}");
    let code = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .unwrap();
    let (status, _, confirmed) =
        send(Method::PATCH, &format!("/registration/{code}"), None, None).await;
    assert_eq!(status, 200, "{confirmed}");
    let token = |f: &str| confirmed[f].as_str().unwrap().to_owned();
    (
        email,
        registered["user_id"].as_str().unwrap().to_owned(),
        token("access_token"),
        token("refresh_token"),
    )
}

async fn login_status(identifier: (&str, &str)) -> StatusCode {
    post_json(
        "/login",
        json!({ identifier.0: identifier.1, "password": PASSWORD }),
    )
    .await
    .0
}

#[tokio::test]
async fn me_and_changing_the_email_over_http() {
    let (old, user_id, bearer, _) = account(None).await;
    let (status, profile) = call(Method::GET, "/me", &bearer, None).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["user_id"], user_id.as_str());
    assert_eq!(profile["email"], old.as_str());
    assert_eq!(profile["verified"], true);
    assert!(profile.get("password_hash").is_none());

    let new = unique_email();
    let (status, body) = call(
        Method::POST,
        "/me/identifier",
        &bearer,
        Some(json!({ "email": new, "password": "wrong" })),
    )
    .await;
    assert_problem(
        status,
        "application/problem+json",
        &body,
        401,
        "invalid_credentials",
    );
    let (status, body) = call(
        Method::POST,
        "/me/identifier",
        &bearer,
        Some(json!({ "email": old, "password": PASSWORD })),
    )
    .await;
    assert_problem(
        status,
        "application/problem+json",
        &body,
        400,
        "user_exists",
    );
    let (status, body) = call(
        Method::POST,
        "/me/identifier",
        &bearer,
        Some(json!({ "email": new, "password": PASSWORD })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &body["channel"]),
        (202, &json!("email")),
        "{body}"
    );
    assert_eq!(
        login_status(("email", &old)).await,
        200,
        "the old one works until confirmed"
    );

    let code = Outbox::fetch().await.emails_to(&new)[0]
        .change_code()
        .expect("a link to the new address");
    let (status, body) = call(
        Method::PATCH,
        &format!("/me/identifier/{code}"),
        &bearer,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], new.as_str());
    assert_eq!(login_status(("email", &new)).await, 200);
    assert_eq!(login_status(("email", &old)).await, 401);
    let notice = Outbox::fetch()
        .await
        .emails_to(&old)
        .last()
        .cloned()
        .unwrap();
    assert!(
        notice.html.contains("no longer signs in"),
        "{}",
        notice.html
    );
    let (_, profile) = call(Method::GET, "/me", &bearer, None).await;
    assert_eq!(profile["email"], new.as_str());
}

#[tokio::test]
async fn an_email_account_moves_to_a_phone_over_http() {
    let (old, _, bearer, _) = account(None).await;
    let phone = unique_phone();
    let (status, body) = call(
        Method::POST,
        "/me/identifier",
        &bearer,
        Some(json!({ "phone": phone, "password": PASSWORD })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &body["channel"]),
        (202, &json!("sms")),
        "{body}"
    );
    let code = six_digits(Outbox::fetch().await.sms_to(&phone).last().unwrap()).unwrap();
    let (status, body) = call(
        Method::PATCH,
        &format!("/me/identifier/{code}"),
        &bearer,
        Some(json!({ "phone": phone })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone"], phone.as_str());
    assert_eq!(login_status(("phone", &phone)).await, 200);
    assert_eq!(login_status(("email", &old)).await, 401);
    let (_, profile) = call(Method::GET, "/me", &bearer, None).await;
    assert_eq!(profile["phone"], phone.as_str());
    assert!(profile.get("email").is_none(), "{profile}");
}

#[tokio::test]
async fn a_deleted_account_is_gone_everywhere_and_announced() {
    let deletions = Subscriber::new(Some(&[USER_DELETED])).await;
    let name = format!("gone{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (email, user_id, bearer, refresh) = account(Some(&name)).await;
    let registered_at = std::time::Instant::now();

    let (status, body) = call(
        Method::DELETE,
        "/me",
        &bearer,
        Some(json!({ "password": "wrong" })),
    )
    .await;
    assert_problem(
        status,
        "application/problem+json",
        &body,
        401,
        "invalid_credentials",
    );
    let (status, body) = call(
        Method::DELETE,
        "/me",
        &bearer,
        Some(json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    assert_eq!(login_status(("email", &email)).await, 401);
    let (status, _, _) = post_json("/token", json!({ "refresh_token": refresh })).await;
    assert_eq!(status, 400, "the refresh token died with the account");
    let (status, body) = call(Method::GET, "/me", &bearer, None).await;
    assert_problem(
        status,
        "application/problem+json",
        &body,
        401,
        "invalid_token",
    );

    let deleted = deletions
        .wait_for(&user_id, USER_DELETED, Duration::from_secs(30))
        .await
        .expect("user.deleted reaches a subscribed queue");
    assert_eq!(deleted.version, 1);
    let raw = serde_json::to_value(&deleted).unwrap();
    assert_eq!(raw["reason"], "deleted");
    assert!(raw.get("identifier_type").is_none() && raw.get("username").is_none());

    // The email and the username can be registered again (after the address's sending
    // minute, which outlives the account).
    tokio::time::sleep(Duration::from_secs(61).saturating_sub(registered_at.elapsed())).await;
    let (status, _, again) = post_json(
        "/registration",
        json!({ "email": email, "password": PASSWORD, "repeat_password": PASSWORD, "username": name }),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["user_id"], user_id.as_str());
}
