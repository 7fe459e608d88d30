//! Abuse budgets beyond one identifier: codes per source IP per hour, and the SMS circuit
//! breaker. Each test moves its clock to an hour no other test uses, so the shared counters
//! of that hour are its own.

use auth_shared::ops::budgets::{Origin, SMS_SHARDS};
use auth_shared::ops::register::{RegisterRequest, register};
use auth_tests::moto::Outbox;
use auth_tests::{TestApp, config_with, unique_email, unique_phone};

use crate::registration::{by_email, by_phone};

fn from(ip: &str, mut request: RegisterRequest) -> RegisterRequest {
    request.origin = Origin {
        ip: Some(ip.to_owned()),
        user_agent: None,
    };
    request
}

/// A documentation-range IPv6 address no other test uses.
fn unique_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("2001:db8::{:x}:{:x}", (n >> 16) as u16, n as u16)
}

/// A test app with these budgets whose clock sits in an hour of its own.
async fn app_with(budgets: &[(&str, &str)]) -> TestApp {
    let t = TestApp::with_config(config_with(budgets)).await;
    let days = 1000 + (uuid::Uuid::new_v4().as_u128() % 100_000) as i64;
    t.clock.advance(days * 86_400);
    t
}

#[tokio::test]
async fn one_source_ip_gets_its_hourly_budget_of_codes_and_no_more() {
    let t = app_with(&[("SENDS_PER_IP_PER_HOUR", "3")]).await;
    let ip = unique_ip();
    for _ in 0..3 {
        register(&t.app, from(&ip, by_email(&unique_email())))
            .await
            .expect("within the budget");
    }
    let over = unique_email();
    let err = register(&t.app, from(&ip, by_email(&over)))
        .await
        .expect_err("past the budget");
    let auth_shared::AuthError::RateLimited { retry_after } = err else {
        panic!("expected rate_limited, got {err:?}")
    };
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    // Counted before sending: nothing went out, and nothing holds the address.
    assert!(Outbox::fetch().await.emails_to(&over).is_empty());
    register(&t.app, by_email(&over))
        .await
        .expect("another source still registers it");
    // The next hour has a fresh budget.
    t.clock.advance(3600);
    register(&t.app, from(&ip, by_email(&unique_email())))
        .await
        .expect("a new hour, a new budget");
}

#[tokio::test]
async fn concurrent_sends_from_one_ip_never_exceed_its_budget() {
    let t = app_with(&[("SENDS_PER_IP_PER_HOUR", "4")]).await;
    let ip = unique_ip();
    let results = futures::future::join_all(
        (0..12).map(|_| register(&t.app, from(&ip, by_email(&unique_email())))),
    )
    .await;
    let sent = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code() == "rate_limited"))
        .count();
    assert_eq!((sent, limited), (4, 8));
}

#[tokio::test]
async fn past_the_sms_budget_sms_sends_stop_while_email_goes_on() {
    let budget = 2 * SMS_SHARDS as usize;
    let t = app_with(&[("SMS_PER_HOUR", &budget.to_string())]).await;
    let (mut sent, mut limited) = (0, 0);
    for _ in 0..3 * budget {
        let phone = unique_phone();
        match register(&t.app, by_phone(&phone)).await {
            Ok(_) => sent += 1,
            Err(e) => {
                assert_eq!(e.code(), "rate_limited", "{e:?}");
                assert!(Outbox::fetch().await.sms_to(&phone).is_empty());
                limited += 1;
            }
        }
    }
    // However the sends fall on the shards, the hour never sends more than its budget, and
    // nearly all of it is usable.
    assert!(sent <= budget, "{sent} SMS sent with a budget of {budget}");
    assert!(
        sent >= budget / 2,
        "only {sent} of {budget} SMS were allowed"
    );
    assert!(limited >= 2 * budget, "{limited}");
    register(&t.app, by_email(&unique_email()))
        .await
        .expect("email is not paused");
}

#[tokio::test]
async fn answers_that_tell_an_account_exists_are_charged_to_the_source_ip_budget() {
    use auth_shared::ops::resend::{ResendRequest, resend_code};
    let t = app_with(&[("SENDS_PER_IP_PER_HOUR", "4")]).await;
    let taken = unique_email();
    register(&t.app, by_email(&taken))
        .await
        .expect("registered");
    let ip = unique_ip();
    let origin = Origin {
        ip: Some(ip.clone()),
        user_agent: None,
    };
    let probe = |email: &str| ResendRequest {
        email: Some(email.to_owned()),
        phone: None,
        origin: origin.clone(),
    };
    // Two registrations of a taken address and two resends for addresses nobody holds:
    // each answer tells something, and each costs a send.
    for _ in 0..2 {
        let err = register(&t.app, from(&ip, by_email(&taken)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "user_exists");
        let err = resend_code(&t.app, probe(&unique_email()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "user_not_found");
    }
    // The budget is spent: the next probes learn nothing.
    let err = register(&t.app, from(&ip, by_email(&taken)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    let err = resend_code(&t.app, probe(&unique_email()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    // Another address is not affected.
    let err = register(&t.app, by_email(&taken)).await.unwrap_err();
    assert_eq!(err.code(), "user_exists");
}

#[tokio::test]
async fn a_new_code_does_not_renew_an_identifier_s_daily_code_tries() {
    use auth_shared::ops::confirm::{ConfirmBody, confirm};
    use auth_shared::ops::resend::{ResendRequest, resend_code};
    use auth_tests::moto::six_digits;
    let t = app_with(&[("CODE_TRIES_PER_IDENTIFIER_PER_DAY", "7")]).await;
    let phone = unique_phone();
    register(&t.app, by_phone(&phone))
        .await
        .expect("registered");
    let latest = || async {
        let sms = Outbox::fetch().await.sms_to(&phone);
        six_digits(sms.last().expect("an SMS")).expect("a code")
    };
    let body = || {
        Some(ConfirmBody {
            phone: phone.clone(),
        })
    };
    let wrong = |right: &str| {
        if right == "000000" {
            "111111"
        } else {
            "000000"
        }
        .to_owned()
    };
    // Five wrong tries burn the first code...
    let first = latest().await;
    for _ in 0..5 {
        let err = confirm(&t.app, &wrong(&first), body(), &Origin::default()).await;
        assert_eq!(err.err().map(|e| e.code()), Some("invalid_code"));
    }
    // ...and a new one brings only what is left of the day's seven tries.
    t.clock.advance(61);
    let resend = || ResendRequest {
        email: None,
        phone: Some(phone.clone()),
        origin: Origin::default(),
    };
    resend_code(&t.app, resend()).await.expect("a new code");
    let second = latest().await;
    assert_ne!(first, second);
    for _ in 0..2 {
        let err = confirm(&t.app, &wrong(&second), body(), &Origin::default()).await;
        assert_eq!(err.err().map(|e| e.code()), Some("invalid_code"));
    }
    let spent = confirm(&t.app, &second, body(), &Origin::default()).await;
    assert_eq!(
        spent.err().map(|e| e.code()),
        Some("too_many_attempts"),
        "even the right code is refused once the day's tries are spent"
    );
    // No new code is sent until the window passes.
    t.clock.advance(61);
    let err = resend_code(&t.app, resend()).await.unwrap_err();
    let auth_shared::AuthError::RateLimited { retry_after } = err else {
        panic!("expected rate_limited, got {err:?}")
    };
    assert!(retry_after > 23 * 3600, "{retry_after}");
    // A day later the identifier has its tries again.
    t.clock.advance(24 * 3600);
    resend_code(&t.app, resend())
        .await
        .expect("a new day, a new code");
    confirm(&t.app, &latest().await, body(), &Origin::default())
        .await
        .expect("confirmed");
}

#[tokio::test]
async fn failed_sign_ins_sprayed_over_many_identifiers_meet_the_address_s_hourly_budget() {
    use auth_shared::ops::login::{LoginRequest, login};
    let t = app_with(&[("FAILURES_PER_IP_PER_HOUR", "6")]).await;
    let email = unique_email();
    register(&t.app, by_email(&email))
        .await
        .expect("registered");
    let link = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .unwrap();
    auth_shared::ops::confirm::confirm(&t.app, &link, None, &Origin::default())
        .await
        .expect("confirmed");
    // Hosts of one IPv6 /64 count as one address.
    let n = uuid::Uuid::new_v4().as_u128();
    let network = format!("2001:db8:{:x}:{:x}", (n >> 16) as u16, n as u16);
    let from = |host: u16, email: &str, password: &str| LoginRequest {
        email: Some(email.to_owned()),
        phone: None,
        password: password.to_owned(),
        origin: Origin {
            ip: Some(format!("{network}::{host:x}")),
            user_agent: None,
        },
    };
    // Right passwords are not failures: they give their try back.
    for host in 0..8 {
        login(&t.app, from(host, &email, "correct horse battery staple"))
            .await
            .expect("signed in");
    }
    for host in 0..6 {
        let err = login(&t.app, from(host, &unique_email(), "a guessed password")).await;
        assert_eq!(err.err().map(|e| e.code()), Some("invalid_credentials"));
    }
    for (email, password) in [
        (unique_email(), "a guessed password"),
        (email.clone(), "correct horse battery staple"),
    ] {
        let err = login(&t.app, from(99, &email, password)).await.unwrap_err();
        assert_eq!(err.code(), "rate_limited", "{err:?}");
    }
    // Another network is not affected.
    let mut other = from(1, &email, "correct horse battery staple");
    other.origin.ip = Some(unique_ip());
    login(&t.app, other)
        .await
        .expect("another address signs in");
}
