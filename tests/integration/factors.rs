//! Second factors: an authenticator app's enrolment, the `mfa_required` step at sign-in and
//! after a password reset, replayed steps, recovery codes, step-up and the notices, against
//! DynamoDB Local and moto with a clock the tests move.

use auth_shared::AuthError;
use auth_shared::Clock as _;
use auth_shared::ops::Base as _;
use auth_shared::ops::bearer::{Caller, authenticate};
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::login::{MfaRequest, login, login_mfa};
use auth_shared::ops::session::TokenPair;
use auth_shared::ops::totp::{
    CodeRequest, DisableRequest, Enrolment, StepUpRequest, confirm, disable, enrol,
    replace_recovery_codes,
};
use auth_tests::TestApp;
use auth_tests::moto::Outbox;
use auth_tests::totp_code as code_at;

use crate::code;
use crate::signin::{by_email_login, verified_email};

const PASSWORD: &str = "correct horse battery staple";

async fn caller(t: &TestApp, pair: &TokenPair) -> Caller {
    authenticate(&t.app, Some(&pair.access_token))
        .await
        .expect("a live session")
}

/// A verified email account, signed in just now.
async fn signed_in(t: &TestApp) -> (String, TokenPair) {
    let email = verified_email(t).await;
    let pair = login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("signed in");
    (email, pair)
}

/// An account with an authenticator app turned on: its address, secret and recovery codes.
async fn with_totp(t: &TestApp) -> (String, String, Vec<String>) {
    let (email, pair) = signed_in(t).await;
    let me = caller(t, &pair).await;
    let Enrolment { secret, .. } = enrol(&t.app, &me, StepUpRequest::default())
        .await
        .expect("a sign-in just now needs no password");
    let codes = confirm(
        &t.app,
        &me,
        CodeRequest {
            totp: code_at(&secret, t.clock.now()),
        },
    )
    .await
    .expect("a current code turns it on")
    .recovery_codes;
    (email, secret, codes)
}

/// An account with an authenticator app, signed in with its password a step (30 s) after the
/// app was turned on: its address, secret and challenge.
async fn at_the_second_step(t: &TestApp) -> (String, String, String) {
    let (email, secret, _) = with_totp(t).await;
    t.clock.advance(30);
    let (challenge_id, _) = password_step(t, &email).await;
    (email, secret, challenge_id)
}

/// The password sign-in of an account with a second factor: its challenge and methods.
async fn password_step(t: &TestApp, email: &str) -> (String, Vec<&'static str>) {
    challenge_of(login(&t.app, by_email_login(email, PASSWORD)).await)
}

fn challenge_of(result: Result<TokenPair, AuthError>) -> (String, Vec<&'static str>) {
    match result {
        Err(AuthError::MfaRequired {
            challenge_id,
            methods,
            ..
        }) => (challenge_id, methods),
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

fn with_totp_code(challenge_id: &str, totp: &str) -> MfaRequest {
    MfaRequest {
        challenge_id: challenge_id.to_owned(),
        totp: Some(totp.to_owned()),
        recovery_code: None,
        credential: None,
        origin: Origin::default(),
    }
}

/// `POST /login/mfa` with the code the app shows now.
async fn with_the_app_now(
    t: &TestApp,
    challenge_id: &str,
    secret: &str,
) -> Result<TokenPair, AuthError> {
    login_mfa(
        &t.app,
        with_totp_code(challenge_id, &code_at(secret, t.clock.now())),
    )
    .await
}

fn with_recovery_code(challenge_id: &str, recovery_code: &str) -> MfaRequest {
    MfaRequest {
        challenge_id: challenge_id.to_owned(),
        totp: None,
        recovery_code: Some(recovery_code.to_owned()),
        credential: None,
        origin: Origin::default(),
    }
}

#[tokio::test]
async fn an_authenticator_app_turns_on_with_a_current_code_and_then_every_sign_in_needs_it() {
    let t = TestApp::new().await;
    let (email, pair) = signed_in(&t).await;
    let me = caller(&t, &pair).await;
    let enrolment = enrol(&t.app, &me, StepUpRequest::default()).await.unwrap();
    assert!(
        enrolment.otpauth_uri.starts_with("otpauth://totp/")
            && enrolment
                .otpauth_uri
                .contains(&format!("secret={}", enrolment.secret)),
        "{}",
        enrolment.otpauth_uri
    );
    // Still pending: sign-in needs the password only.
    login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("no second factor yet");
    assert_eq!(
        code(
            confirm(
                &t.app,
                &me,
                CodeRequest {
                    totp: "000000".into()
                }
            )
            .await
        ),
        "invalid_code"
    );
    let codes = confirm(
        &t.app,
        &me,
        CodeRequest {
            totp: code_at(&enrolment.secret, t.clock.now()),
        },
    )
    .await
    .expect("turned on")
    .recovery_codes;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        10
    );
    // The user is told, without a code in the message.
    let notices = Outbox::fetch().await.emails_to(&email);
    let notice = notices
        .iter()
        .find(|m| m.subject.contains("authenticator app"))
        .expect("a notice");
    assert!(!notice.html.contains(&enrolment.secret));
    assert_eq!(
        code(enrol(&t.app, &me, StepUpRequest::default()).await),
        "totp_already_enabled"
    );

    // The password alone no longer signs in.
    let (challenge_id, methods) = password_step(&t, &email).await;
    assert_eq!(methods, ["totp", "recovery_code"]);
    // The code that turned it on was for this very step: it is not accepted twice.
    assert_eq!(
        code(with_the_app_now(&t, &challenge_id, &enrolment.secret).await),
        "invalid_code"
    );
    t.clock.advance(30);
    let signed_in_at = t.clock.now();
    let pair = login_mfa(
        &t.app,
        with_totp_code(&challenge_id, &code_at(&enrolment.secret, signed_in_at)),
    )
    .await
    .expect("the next step's code signs in");
    let (amr, auth_time) = crate::signed_in_by(&t, &pair.access_token);
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    assert_eq!(auth_time, Some(signed_in_at));
    // The challenge is spent.
    t.clock.advance(30);
    assert_eq!(
        code(with_the_app_now(&t, &challenge_id, &enrolment.secret).await),
        "invalid_challenge"
    );
}

#[tokio::test]
async fn a_challenge_takes_five_tries_and_lives_five_minutes() {
    let t = TestApp::new().await;
    let (email, secret, challenge_id) = at_the_second_step(&t).await;
    let right = code_at(&secret, t.clock.now());
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(code(
            login_mfa(&t.app, with_totp_code(&challenge_id, wrong)).await,
        ));
    }
    // Each wrong code also counts toward the login lock (the password's try counted too):
    // from the fifth failure on, the identifier is locked.
    assert!(
        answers[..4].iter().all(|a| *a == "invalid_code"),
        "{answers:?}"
    );
    assert!(
        answers[4..]
            .iter()
            .all(|a| *a == "too_many_attempts" || *a == "rate_limited" || *a == "invalid_code"),
        "{answers:?}"
    );
    assert_eq!(
        code(login_mfa(&t.app, with_totp_code(&challenge_id, &right)).await),
        "too_many_attempts",
        "a burned challenge takes no more codes, the right one included"
    );

    // A new challenge, once the lock has passed, expires after 5 minutes.
    t.clock.advance(3600);
    let (challenge_id, _) = password_step(&t, &email).await;
    t.clock.advance(301);
    assert_eq!(
        code(with_the_app_now(&t, &challenge_id, &secret).await),
        "invalid_challenge"
    );
}

#[tokio::test]
async fn twenty_concurrent_guesses_at_one_challenge_compare_at_most_five() {
    let t = TestApp::new().await;
    let (_, secret, challenge_id) = at_the_second_step(&t).await;
    let right = code_at(&secret, t.clock.now());
    let guesses: Vec<String> = (0..20)
        .map(|i| format!("{:06}", (i * 37_171 + 100_003) % 1_000_000))
        .filter(|g| *g != right)
        .collect();
    let answers = futures::future::join_all(
        guesses
            .iter()
            .map(|g| login_mfa(&t.app, with_totp_code(&challenge_id, g))),
    )
    .await;
    let compared = answers
        .iter()
        .filter(|a| matches!(a, Err(AuthError::InvalidCode)))
        .count();
    assert!(compared <= 5, "{compared} guesses were compared");
    assert!(answers.iter().all(Result::is_err));
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_the_user_is_told() {
    let t = TestApp::new().await;
    let (email, _, codes) = with_totp(&t).await;
    let (challenge_id, _) = password_step(&t, &email).await;
    // Typed in capitals and without the dash, it is the same code.
    let typed = codes[3].replace('-', "").to_uppercase();
    let pair = login_mfa(&t.app, with_recovery_code(&challenge_id, &typed))
        .await
        .expect("a recovery code signs in");
    let (amr, _) = crate::signed_in_by(&t, &pair.access_token);
    assert!(amr.contains(&"mfa".to_owned()), "{amr:?}");
    let told = Outbox::fetch()
        .await
        .emails_to(&email)
        .iter()
        .any(|m| m.subject.contains("recovery code"));
    assert!(told, "the user is told a recovery code was used");

    let (challenge_id, _) = password_step(&t, &email).await;
    assert_eq!(
        code(login_mfa(&t.app, with_recovery_code(&challenge_id, &codes[3])).await),
        "invalid_code",
        "used once"
    );
    login_mfa(&t.app, with_recovery_code(&challenge_id, &codes[4]))
        .await
        .expect("another code still works");

    // New codes replace the old ones.
    let (challenge_id, _) = password_step(&t, &email).await;
    let pair = login_mfa(&t.app, with_recovery_code(&challenge_id, &codes[5]))
        .await
        .unwrap();
    let me = caller(&t, &pair).await;
    let fresh = replace_recovery_codes(&t.app, &me, StepUpRequest::default())
        .await
        .expect("a sign-in just now is recent enough")
        .recovery_codes;
    let (challenge_id, _) = password_step(&t, &email).await;
    assert_eq!(
        code(login_mfa(&t.app, with_recovery_code(&challenge_id, &codes[6])).await),
        "invalid_code"
    );
    login_mfa(&t.app, with_recovery_code(&challenge_id, &fresh[0]))
        .await
        .expect("a new code works");
}

#[tokio::test]
async fn sensitive_changes_need_a_recent_sign_in_or_the_password() {
    let t = TestApp::new().await;
    let (_, pair) = signed_in(&t).await;
    t.clock.advance(601);
    let me = caller(&t, &pair).await;
    assert_eq!(
        code(enrol(&t.app, &me, StepUpRequest::default()).await),
        "reauthentication_required"
    );
    assert_eq!(
        code(
            enrol(
                &t.app,
                &me,
                StepUpRequest {
                    password: Some("wrong password entirely".into())
                }
            )
            .await
        ),
        "invalid_credentials"
    );
    enrol(
        &t.app,
        &me,
        StepUpRequest {
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .expect("the password stands in for a recent sign-in");
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_a_fresh_code() {
    let t = TestApp::new().await;
    let (email, secret, challenge_id) = at_the_second_step(&t).await;
    let used = code_at(&secret, t.clock.now());
    let pair = login_mfa(&t.app, with_totp_code(&challenge_id, &used))
        .await
        .unwrap();
    let me = caller(&t, &pair).await;
    let off = |password: &str, totp: &str| DisableRequest {
        password: password.to_owned(),
        totp: totp.to_owned(),
    };
    assert_eq!(
        code(disable(&t.app, &me, off(PASSWORD, &used)).await),
        "invalid_code",
        "the code just used to sign in is spent"
    );
    t.clock.advance(30);
    let now_code = code_at(&secret, t.clock.now());
    assert_eq!(
        code(disable(&t.app, &me, off("wrong password entirely", &now_code)).await),
        "invalid_credentials"
    );
    disable(&t.app, &me, off(PASSWORD, &now_code))
        .await
        .expect("turned off");
    login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("the password alone signs in again");
    assert_eq!(
        code(disable(&t.app, &caller(&t, &pair).await, off(PASSWORD, &now_code)).await),
        "totp_not_enabled"
    );
}

#[tokio::test]
async fn a_password_reset_never_skips_the_second_factor() {
    let t = TestApp::new().await;
    let (email, secret, _) = with_totp(&t).await;
    let new_password = "a brand new passphrase here";
    let result = crate::recovery::reset_by_email(&t, &email, new_password).await;
    let (challenge_id, _) = match result {
        Err(AuthError::MfaRequired {
            challenge_id,
            methods,
            ..
        }) => (challenge_id, methods),
        other => panic!("expected mfa_required, got {:?}", other.map(|d| d.user_id)),
    };
    // The new password is in place, the old one refused.
    assert_eq!(
        code(login(&t.app, by_email_login(&email, PASSWORD)).await),
        "invalid_credentials"
    );
    t.clock.advance(30);
    let pair = with_the_app_now(&t, &challenge_id, &secret)
        .await
        .expect("the second factor finishes the reset's sign-in");
    let (amr, _) = crate::signed_in_by(&t, &pair.access_token);
    assert_eq!(amr, ["otp", "mfa"], "the emailed code, then the app");
}

#[tokio::test]
async fn an_otp_sign_in_never_skips_the_second_factor() {
    // No route lets an unverified account turn an app on; the rule holds all the same, so
    // the flag is set on the stored account directly.
    let t = TestApp::new().await;
    let email = auth_tests::unique_email();
    let registered =
        auth_shared::ops::register::register(&t.app, crate::registration::by_email(&email))
            .await
            .unwrap();
    t.app
        .store()
        .update_if(
            &auth_shared::store::keys::user(&registered.user_id),
            auth_shared::store::keys::PROFILE,
            auth_shared::store::Expr::new("SET #totp = :yes").bool(":yes", true),
            auth_shared::store::Expr::new("attribute_exists(pk)"),
        )
        .await
        .unwrap();
    t.clock.advance(60);
    let Err(AuthError::VerificationRequired { challenge_id, .. }) =
        login(&t.app, by_email_login(&email, PASSWORD)).await
    else {
        panic!("expected verification_required")
    };
    let mails = Outbox::fetch().await.emails_to(&email);
    let otp = auth_tests::moto::six_digits(&mails.last().unwrap().html).unwrap();
    let result = auth_shared::ops::login::login_with_otp(
        &t.app,
        auth_shared::ops::login::OtpRequest {
            challenge_id,
            otp,
            origin: Origin::default(),
        },
    )
    .await;
    let (_, methods) = challenge_of(result);
    assert_eq!(methods, ["totp", "recovery_code"]);
}
