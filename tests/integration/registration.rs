use auth_shared::ops::Base as _;
use std::collections::HashMap;

use auth_shared::domain::Channel;
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::register::{RegisterRequest, register};
use auth_shared::store::{ClaimItem, keys};
use auth_tests::moto::Outbox;
use auth_tests::{TestApp, config_with, unique_email, unique_phone};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::code;

pub fn by_email(email: &str) -> RegisterRequest {
    request(Some(email), None, "correct horse battery staple")
}

pub fn by_phone(phone: &str) -> RegisterRequest {
    request(None, Some(phone), "correct horse battery staple")
}

fn request(email: Option<&str>, phone: Option<&str>, password: &str) -> RegisterRequest {
    RegisterRequest {
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        password: password.to_owned(),
        repeat_password: password.to_owned(),
        username: None,
        origin: Origin::default(),
    }
}

/// Every item in the table that mentions this identifier, by partition key.
pub async fn items_mentioning(t: &TestApp, normalized: &str) -> Vec<String> {
    // Every page: a table that other runs have filled holds more than one Scan answers.
    let items: Vec<_> = t
        .app
        .store()
        .client()
        .scan()
        .table_name(t.app.store().table())
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .expect("scan");
    items
        .iter()
        .filter(|item| {
            item.values()
                .any(|v| matches!(v, AttributeValue::S(s) if s.contains(normalized)))
        })
        .filter_map(|item| item.get("pk").and_then(|v| v.as_s().ok()).cloned())
        .collect()
}

#[tokio::test]
async fn registering_by_email_sends_one_confirmation_link() {
    let t = TestApp::new().await;
    let email = unique_email();
    let registered = register(&t.app, by_email(&email))
        .await
        .expect("registered");
    assert_eq!(registered.channel, Channel::Email);

    let mails = Outbox::fetch().await.emails_to(&email);
    assert_eq!(mails.len(), 1, "exactly one mail");
    let code = mails[0]
        .confirm_code()
        .expect("the mail carries a confirmation link");
    assert_eq!(code.len(), 43);
    assert!(
        mails[0].html.contains(&code),
        "the HTML part carries the same link"
    );

    // Committed: the claim now lives as long as an unverified account may.
    let claim: ClaimItem = t
        .app
        .store()
        .get(
            &keys::identifier(auth_shared::domain::IdentifierKind::Email, &email),
            keys::CLAIM,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.user_id, registered.user_id);
    assert_eq!(claim.expires_at, Some(t.clock_now() + 7 * 24 * 3600));
}

#[tokio::test]
async fn registering_by_phone_sends_a_six_digit_sms() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let registered = register(&t.app, by_phone(&phone))
        .await
        .expect("registered");
    assert_eq!(registered.channel, Channel::Sms);
    let sms = Outbox::fetch().await.sms_to(&phone);
    assert_eq!(sms.len(), 1);
    let otp = auth_tests::moto::six_digits(&sms[0]).expect("six digits in the SMS");
    assert_eq!(otp.len(), 6);
}

#[tokio::test]
async fn an_email_is_unique_whatever_its_case() {
    let t = TestApp::new().await;
    let email = unique_email();
    register(&t.app, by_email(&email)).await.unwrap();
    t.clock.advance(61);
    let shouted = email.to_uppercase();
    assert_eq!(
        code(register(&t.app, by_email(&shouted)).await),
        "user_exists"
    );
}

#[tokio::test]
async fn twenty_concurrent_registrations_of_one_email_yield_one_account_and_one_mail() {
    let t = TestApp::new().await;
    let email = unique_email();
    let attempts = (0..20).map(|_| register(&t.app, by_email(&email)));
    let results = futures::future::join_all(attempts).await;

    let mut outcomes: HashMap<&str, usize> = HashMap::new();
    for result in &results {
        let key = match result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    // A live account holds the identifier, so nothing is sent and no limit is consulted.
    assert_eq!(outcomes.get("ok"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("user_exists"), Some(&19), "{outcomes:?}");
    assert_eq!(Outbox::fetch().await.emails_to(&email).len(), 1);
}

#[tokio::test]
async fn a_failed_email_leaves_nothing_stored() {
    // A sender whose SES identity was removed: SES rejects the message.
    let sender = unique_email();
    let setup = TestApp::new().await;
    let ses = aws_sdk_sesv2::Client::new(&auth_shared::aws::load_sdk_config().await);
    auth_tools::setup::ensure_sender(&ses, &sender)
        .await
        .unwrap();
    ses.delete_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    drop(setup);

    let t = TestApp::with_config(config_with(&[("SENDER_EMAIL", &sender)])).await;
    let email = unique_email();
    assert_eq!(
        code(register(&t.app, by_email(&email)).await),
        "delivery_failed"
    );
    assert!(Outbox::fetch().await.emails_to(&email).is_empty());
    // Only the send counter stays: it must survive a rollback.
    let left = items_mentioning(&t, &email).await;
    assert_eq!(
        left,
        vec![keys::send_limit(&format!("EMAIL#{email}"))],
        "{left:?}"
    );
}

#[tokio::test]
async fn a_failed_sms_leaves_nothing_stored_and_still_counts_against_the_limit() {
    let t = TestApp::with_dead_sns().await;
    let phone = unique_phone();
    assert_eq!(
        code(register(&t.app, by_phone(&phone)).await),
        "delivery_failed"
    );
    let left = items_mentioning(&t, &phone).await;
    assert_eq!(
        left,
        vec![keys::send_limit(&format!("PHONE#{phone}"))],
        "{left:?}"
    );

    // The identifier is free again, but the failed send counted.
    let healthy = TestApp::new().await;
    assert_eq!(
        code(register(&healthy.app, by_phone(&phone)).await),
        "rate_limited"
    );
    healthy.clock.advance(61);
    register(&healthy.app, by_phone(&phone))
        .await
        .expect("free after the rollback");
}

#[tokio::test]
async fn a_registration_left_pending_by_a_crash_frees_its_identifier_after_15_minutes() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    // What a crash between the write and the commit leaves: a pending claim.
    let now = t.clock_now();
    let claim = ClaimItem {
        pk: keys::identifier(auth_shared::domain::IdentifierKind::Phone, &phone),
        sk: keys::CLAIM.to_owned(),
        user_id: "crashed-registration".to_owned(),
        expires_at: Some(now + 15 * 60),
    };
    let put = t.app.store().put(&claim, None).unwrap();
    t.app.store().transact(vec![put]).await.unwrap();

    assert_eq!(
        code(register(&t.app, by_phone(&phone)).await),
        "user_exists"
    );
    t.clock.advance(15 * 60);
    register(&t.app, by_phone(&phone))
        .await
        .expect("the pending claim expired");
}

#[tokio::test]
async fn an_account_unverified_for_7_days_frees_its_identifier() {
    let t = TestApp::new().await;
    let email = unique_email();
    let first = register(&t.app, by_email(&email)).await.unwrap();
    t.clock.advance(7 * 24 * 3600 - 1);
    assert_eq!(
        code(register(&t.app, by_email(&email)).await),
        "user_exists"
    );
    t.clock.advance(1);
    let second = register(&t.app, by_email(&email))
        .await
        .expect("expired account frees the email");
    assert_ne!(first.user_id, second.user_id);
}

#[tokio::test]
async fn usernames_are_unique_whatever_their_case() {
    let t = TestApp::new().await;
    let name = format!("Jane.{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut first = by_email(&unique_email());
    first.username = Some(name.clone());
    register(&t.app, first)
        .await
        .expect("first claim of the username");

    let mut second = by_email(&unique_email());
    second.username = Some(name.to_lowercase());
    assert_eq!(code(register(&t.app, second).await), "user_exists");

    let mut malformed = by_email(&unique_email());
    malformed.username = Some("no spaces allowed".into());
    assert_eq!(code(register(&t.app, malformed).await), "invalid_request");
}

#[tokio::test]
async fn the_first_failing_rule_answers() {
    let t = TestApp::new().await;
    let taken = unique_email();
    register(&t.app, by_email(&taken)).await.unwrap();
    let weak = |email: Option<&str>, phone: Option<&str>, pw: &str, repeat: &str| RegisterRequest {
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        password: pw.to_owned(),
        repeat_password: repeat.to_owned(),
        username: None,
        origin: Origin::default(),
    };
    let cases = [
        (
            weak(Some("bad"), Some("+14155552671"), "x", "y"),
            "invalid_request",
        ),
        (weak(None, None, "x", "y"), "invalid_request"),
        (weak(Some("not-an-email"), None, "x", "y"), "invalid_email"),
        (weak(None, Some("12345"), "x", "y"), "invalid_phone"),
        (
            weak(Some(&unique_email()), None, "password", "different"),
            "password_mismatch",
        ),
        (
            weak(Some(&unique_email()), None, "password", "password"),
            "weak_password",
        ),
        (
            weak(Some(&taken), None, "password", "password"),
            "weak_password",
        ),
        // Within a minute of its code, a taken email is still `user_exists`: a live account
        // holds it, so nothing would be sent.
        (by_email(&taken), "user_exists"),
    ];
    for (request, expected) in cases {
        assert_eq!(code(register(&t.app, request).await), expected);
    }
    t.clock.advance(61);
    assert_eq!(
        code(register(&t.app, by_email(&taken)).await),
        "user_exists"
    );
}

#[tokio::test]
async fn a_phone_is_one_identity_however_it_is_written() {
    let t = TestApp::new().await;
    let line = 100_000 + uuid::Uuid::new_v4().as_u128() % 900_000;
    let canonical = format!("+447400{line}");
    let uk_style = format!("+44 (0)7400 {line}");
    register(&t.app, by_phone(&uk_style))
        .await
        .expect("the UK way of writing it registers");
    // The SMS goes to the canonical form, and that form is the identity.
    assert_eq!(Outbox::fetch().await.sms_to(&canonical).len(), 1);
    let claim: Option<ClaimItem> = t
        .app
        .store()
        .get(
            &keys::identifier(auth_shared::domain::IdentifierKind::Phone, &canonical),
            keys::CLAIM,
        )
        .await
        .unwrap();
    assert!(claim.is_some(), "claimed as {canonical}");
    t.clock.advance(61);
    for other in [canonical.clone(), format!("+44 7400 {line}")] {
        assert_eq!(
            code(register(&t.app, by_phone(&other)).await),
            "user_exists",
            "{other}"
        );
    }
}

#[tokio::test]
async fn numbers_outside_the_country_allow_list_are_invalid_phones() {
    let t = TestApp::with_config(config_with(&[("SMS_ALLOWED_COUNTRIES", "US,CA")])).await;
    assert_eq!(
        code(register(&t.app, by_phone("+447400123456")).await),
        "invalid_phone"
    );
    register(&t.app, by_phone(&unique_phone()))
        .await
        .expect("a US number is allowed");
}
