use auth_shared::AuthError;
use auth_shared::domain::Channel;
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::confirm::confirm;
use auth_shared::ops::resend::{ResendRequest, resend_code};
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{TestApp, unique_email, unique_phone};

use crate::code;
use crate::confirmation::{phone_body, registered_email, registered_phone};

fn for_email(email: &str) -> ResendRequest {
    ResendRequest {
        email: Some(email.to_owned()),
        phone: None,
        origin: Origin::default(),
    }
}

fn for_phone(phone: &str) -> ResendRequest {
    ResendRequest {
        email: None,
        phone: Some(phone.to_owned()),
        origin: Origin::default(),
    }
}

#[tokio::test]
async fn a_resent_link_replaces_the_previous_one() {
    let t = TestApp::new().await;
    let email = unique_email();
    let (_, first) = registered_email(&t, &email).await;
    t.clock.advance(60);
    let resent = resend_code(&t.app, for_email(&email))
        .await
        .expect("resent");
    assert_eq!(resent.channel, Channel::Email);
    let mails = Outbox::fetch().await.emails_to(&email);
    assert_eq!(mails.len(), 2);
    let second = mails[1].confirm_code().unwrap();
    assert_ne!(first, second);

    assert_eq!(
        code(confirm(&t.app, &first, None, &crate::NO_ORIGIN).await),
        "invalid_code"
    );
    confirm(&t.app, &second, None, &crate::NO_ORIGIN)
        .await
        .expect("the new link works");
    t.clock.advance(60);
    assert_eq!(
        code(resend_code(&t.app, for_email(&email)).await),
        "already_verified"
    );
}

#[tokio::test]
async fn a_resent_sms_code_replaces_the_previous_one_and_its_attempts() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (_, first) = registered_phone(&t, &phone).await;
    for _ in 0..5 {
        let wrong = if first == "000000" {
            "111111"
        } else {
            "000000"
        };
        let _ = confirm(&t.app, wrong, phone_body(&phone), &crate::NO_ORIGIN).await;
    }
    t.clock.advance(60);
    resend_code(&t.app, for_phone(&phone))
        .await
        .expect("resent");
    let sms = Outbox::fetch().await.sms_to(&phone);
    let second = six_digits(sms.last().unwrap()).unwrap();
    if second != first {
        assert_eq!(
            code(confirm(&t.app, &first, phone_body(&phone), &crate::NO_ORIGIN).await),
            "invalid_code"
        );
    }
    confirm(&t.app, &second, phone_body(&phone), &crate::NO_ORIGIN)
        .await
        .expect("a fresh code with fresh attempts");
}

#[tokio::test]
async fn resends_are_limited_to_one_a_minute_and_five_an_hour() {
    let t = TestApp::new().await;
    let email = unique_email();
    registered_email(&t, &email).await; // send 1
    match resend_code(&t.app, for_email(&email)).await {
        Err(AuthError::RateLimited { retry_after }) => assert_eq!(retry_after, 60),
        other => panic!("expected rate_limited, got {other:?}"),
    }
    t.clock.advance(59);
    match resend_code(&t.app, for_email(&email)).await {
        Err(AuthError::RateLimited { retry_after }) => assert_eq!(retry_after, 1),
        other => panic!("expected rate_limited, got {other:?}"),
    }
    for _ in 2..=5 {
        t.clock.advance(60);
        resend_code(&t.app, for_email(&email))
            .await
            .expect("within the hourly limit");
    }
    t.clock.advance(60);
    // Five sends at t0, t0+119, .., t0+299; now is t0+359 and the first leaves the window
    // an hour after it was sent.
    match resend_code(&t.app, for_email(&email)).await {
        Err(AuthError::RateLimited { retry_after }) => assert_eq!(retry_after, 3600 - 359),
        other => panic!("expected rate_limited, got {other:?}"),
    }
    assert_eq!(Outbox::fetch().await.emails_to(&email).len(), 5);
}

#[tokio::test]
async fn unknown_identifiers_are_not_found() {
    let t = TestApp::new().await;
    assert_eq!(
        code(resend_code(&t.app, for_email(&unique_email())).await),
        "user_not_found"
    );
    assert_eq!(
        code(resend_code(&t.app, for_phone(&unique_phone())).await),
        "user_not_found"
    );
    let both = ResendRequest {
        email: Some(unique_email()),
        phone: Some(unique_phone()),
        origin: Origin::default(),
    };
    assert_eq!(code(resend_code(&t.app, both).await), "invalid_request");
}

#[tokio::test]
async fn a_resend_that_cannot_be_delivered_leaves_the_previous_code_working() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (_, first) = registered_phone(&t, &phone).await;
    let broken = TestApp::with_dead_sns().await;
    broken.clock.advance(60);
    assert_eq!(
        code(resend_code(&broken.app, for_phone(&phone)).await),
        "delivery_failed"
    );
    // The failed send still counts against the limit.
    assert_eq!(
        code(resend_code(&broken.app, for_phone(&phone)).await),
        "rate_limited"
    );
    confirm(&t.app, &first, phone_body(&phone), &crate::NO_ORIGIN)
        .await
        .expect("the code that was delivered still works");
}
