use auth_shared::AuthError;
use auth_shared::Clock as _;
use auth_shared::domain::Channel;
use auth_shared::http::problem;
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::login::{LoginRequest, OtpRequest, login, login_with_otp};
use auth_shared::ops::register::register;
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{TestApp, unique_email, unique_phone};
use lambda_http::Body;

use crate::code;
use crate::confirmation::{registered_email, registered_phone};
use crate::registration::by_email;

const PASSWORD: &str = "correct horse battery staple";

pub fn by_email_login(email: &str, password: &str) -> LoginRequest {
    LoginRequest {
        email: Some(email.to_owned()),
        phone: None,
        password: password.to_owned(),
        origin: Origin::default(),
    }
}

fn by_phone_login(phone: &str, password: &str) -> LoginRequest {
    LoginRequest {
        email: None,
        phone: Some(phone.to_owned()),
        password: password.to_owned(),
        origin: Origin::default(),
    }
}

/// A verified email account; returns the email.
pub async fn verified_email(t: &TestApp) -> String {
    let email = unique_email();
    verified_email_as(t, &email).await;
    email
}

/// A verified account of `email` (registered and confirmed).
pub async fn verified_email_as(t: &TestApp, email: &str) {
    let (_, link) = registered_email(t, email).await;
    auth_shared::ops::confirm::confirm(&t.app, &link, None, &crate::NO_ORIGIN)
        .await
        .expect("confirmed");
}

fn body_of(err: &AuthError) -> String {
    match problem(err).into_body() {
        Body::Text(text) => text,
        other => panic!("unexpected body {other:?}"),
    }
}

#[tokio::test]
async fn a_verified_user_signs_in_with_the_right_password() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let pair = login(&t.app, by_email_login(&email.to_uppercase(), PASSWORD))
        .await
        .expect("signed in");
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, 900);
    assert_eq!(pair.refresh_expires_in, 30 * 24 * 3600);
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_are_answered_alike() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let wrong = login(&t.app, by_email_login(&email, "not the password"))
        .await
        .unwrap_err();
    let unknown = login(&t.app, by_email_login(&unique_email(), "not the password"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "invalid_credentials");
    assert_eq!(body_of(&wrong), body_of(&unknown));
}

#[tokio::test]
async fn the_fifth_failure_locks_and_each_further_one_doubles_the_lock() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    for _ in 0..5 {
        assert_eq!(
            code(login(&t.app, by_email_login(&email, "wrong")).await),
            "invalid_credentials"
        );
    }
    for expected in [1, 2, 4, 8, 16] {
        match login(&t.app, by_email_login(&email, PASSWORD)).await {
            Err(AuthError::RateLimited { retry_after }) => assert_eq!(retry_after, expected),
            other => panic!("expected a {expected}s lock, got {other:?}"),
        }
        t.clock.advance(expected as i64);
        assert_eq!(
            code(login(&t.app, by_email_login(&email, "wrong")).await),
            "invalid_credentials"
        );
    }
    // The lock tops out at 15 minutes.
    for _ in 0..6 {
        let Err(AuthError::RateLimited { retry_after }) =
            login(&t.app, by_email_login(&email, PASSWORD)).await
        else {
            panic!("locked")
        };
        t.clock.advance(retry_after as i64);
        let _ = login(&t.app, by_email_login(&email, "wrong")).await;
    }
    match login(&t.app, by_email_login(&email, PASSWORD)).await {
        Err(AuthError::RateLimited { retry_after }) => assert_eq!(retry_after, 900),
        other => panic!("expected the 15-minute cap, got {other:?}"),
    }
    // A success resets the count: one wrong password is then just a 401.
    t.clock.advance(900);
    login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("right password after the lock");
    assert_eq!(
        code(login(&t.app, by_email_login(&email, "wrong")).await),
        "invalid_credentials"
    );
    login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("not locked after one failure");
}

#[tokio::test]
async fn a_one_second_lock_lasts_a_full_second_whenever_in_the_second_it_began() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    // The fifth failure lands a millisecond before a second turns.
    t.clock.advance_ms(999 - t.clock.now_ms().rem_euclid(1000));
    for _ in 0..5 {
        assert_eq!(
            code(login(&t.app, by_email_login(&email, "wrong")).await),
            "invalid_credentials"
        );
    }
    t.clock.advance_ms(800);
    match login(&t.app, by_email_login(&email, PASSWORD)).await {
        Err(AuthError::RateLimited { retry_after }) => assert_eq!(retry_after, 1),
        other => panic!("still locked 0.8 s after the fifth failure, got {other:?}"),
    }
    t.clock.advance_ms(200);
    login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("a full second later the lock is over");
}

#[tokio::test]
async fn unknown_identifiers_are_locked_too() {
    let t = TestApp::new().await;
    let nobody = unique_email();
    for _ in 0..5 {
        assert_eq!(
            code(login(&t.app, by_email_login(&nobody, "guess")).await),
            "invalid_credentials"
        );
    }
    assert_eq!(
        code(login(&t.app, by_email_login(&nobody, "guess")).await),
        "rate_limited"
    );
}

#[tokio::test]
async fn concurrent_wrong_passwords_get_no_more_than_five_tries() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let attempts = (0..20).map(|_| login(&t.app, by_email_login(&email, "wrong")));
    let results = futures::future::join_all(attempts).await;
    let tried = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::InvalidCredentials)))
        .count();
    let locked = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::RateLimited { .. })))
        .count();
    assert_eq!((tried, locked), (5, 15));
}

#[tokio::test]
async fn an_unverified_phone_gets_an_sms_otp_only_after_the_right_password() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    registered_phone(&t, &phone).await;
    t.clock.advance(60);

    assert_eq!(
        code(login(&t.app, by_phone_login(&phone, "wrong")).await),
        "invalid_credentials"
    );
    assert_eq!(
        Outbox::fetch().await.sms_to(&phone).len(),
        1,
        "no OTP for a wrong password"
    );

    let Err(AuthError::VerificationRequired {
        challenge_id,
        channel,
    }) = login(&t.app, by_phone_login(&phone, PASSWORD)).await
    else {
        panic!("expected verification_required")
    };
    assert_eq!(channel, Channel::Sms);
    let sms = Outbox::fetch().await.sms_to(&phone);
    assert_eq!(sms.len(), 2);
    let otp = six_digits(sms.last().unwrap()).unwrap();

    let pair = login_with_otp(
        &t.app,
        OtpRequest {
            challenge_id: challenge_id.clone(),
            otp: otp.clone(),
            origin: Origin::default(),
        },
    )
    .await
    .expect("the OTP signs in");
    let (amr, _) = crate::signed_in_by(&t, &pair.access_token);
    assert_eq!(amr, ["pwd", "sms"], "the password, then a code by text");
    assert_eq!(
        code(
            login_with_otp(
                &t.app,
                OtpRequest {
                    challenge_id,
                    otp,
                    origin: Origin::default()
                }
            )
            .await
        ),
        "invalid_code"
    );
    login(&t.app, by_phone_login(&phone, PASSWORD))
        .await
        .expect("verified now");
    // And the phone is held for good.
    t.clock.advance(8 * 24 * 3600);
    assert_eq!(
        code(register(&t.app, crate::registration::by_phone(&phone)).await),
        "user_exists"
    );
}

#[tokio::test]
async fn an_unverified_email_gets_its_otp_by_email_and_five_wrong_ones_burn_it() {
    let t = TestApp::new().await;
    let email = unique_email();
    register(&t.app, by_email(&email)).await.unwrap();
    t.clock.advance(60);
    let Err(AuthError::VerificationRequired {
        challenge_id,
        channel,
    }) = login(&t.app, by_email_login(&email, PASSWORD)).await
    else {
        panic!("expected verification_required")
    };
    assert_eq!(channel, Channel::Email);
    let mails = Outbox::fetch().await.emails_to(&email);
    let otp = six_digits(&mails.last().unwrap().html).unwrap();
    let wrong = format!("{:06}", (otp.parse::<u32>().unwrap() + 7) % 1_000_000);
    for _ in 0..5 {
        let request = OtpRequest {
            challenge_id: challenge_id.clone(),
            otp: wrong.clone(),
            origin: Origin::default(),
        };
        assert_eq!(code(login_with_otp(&t.app, request).await), "invalid_code");
    }
    let request = OtpRequest {
        challenge_id,
        otp,
        origin: Origin::default(),
    };
    assert_eq!(
        code(login_with_otp(&t.app, request).await),
        "too_many_attempts"
    );
}

#[tokio::test]
async fn otps_expire_after_10_minutes() {
    let t = TestApp::new().await;
    let email = unique_email();
    register(&t.app, by_email(&email)).await.unwrap();
    t.clock.advance(60);
    let Err(AuthError::VerificationRequired { challenge_id, .. }) =
        login(&t.app, by_email_login(&email, PASSWORD)).await
    else {
        panic!("expected verification_required")
    };
    let otp = six_digits(&Outbox::fetch().await.emails_to(&email).last().unwrap().html).unwrap();
    t.clock.advance(600);
    assert_eq!(
        code(
            login_with_otp(
                &t.app,
                OtpRequest {
                    challenge_id,
                    otp,
                    origin: Origin::default()
                }
            )
            .await
        ),
        "invalid_code"
    );
    let malformed = OtpRequest {
        challenge_id: "not-a-uuid".into(),
        otp: "123456".into(),
        origin: Origin::default(),
    };
    assert_eq!(
        code(login_with_otp(&t.app, malformed).await),
        "invalid_code"
    );
}

#[tokio::test]
async fn a_known_and_an_unknown_identifier_cost_the_same_dynamodb_calls() {
    let (t, calls) = TestApp::recording_dynamodb_calls().await;
    let email = verified_email(&t).await;
    calls.take();
    assert_eq!(
        code(login(&t.app, by_email_login(&email, "wrong password")).await),
        "invalid_credentials"
    );
    let known = calls.take();
    assert_eq!(
        code(login(&t.app, by_email_login(&unique_email(), "wrong password")).await),
        "invalid_credentials"
    );
    let unknown = calls.take();
    assert!(!known.is_empty());
    assert_eq!(known, unknown, "a wrong password vs an unknown identifier");
}
