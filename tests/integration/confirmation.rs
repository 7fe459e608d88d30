use auth_shared::Clock as _;
use auth_shared::domain::IdentifierKind;
use auth_shared::ops::Base as _;
use auth_shared::ops::confirm::{ConfirmBody, confirm};
use auth_shared::ops::register::register;
use auth_shared::store::{ClaimItem, UserItem, keys};
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{TestApp, unique_email, unique_phone};

use crate::code;
use crate::registration::{by_email, by_phone};

/// Registers by email and returns (user id, the link code from the mail).
pub async fn registered_email(t: &TestApp, email: &str) -> (String, String) {
    let registered = register(&t.app, by_email(email)).await.expect("registered");
    let mails = Outbox::fetch().await.emails_to(email);
    let code = mails
        .last()
        .and_then(|m| m.confirm_code())
        .expect("a link code");
    (registered.user_id, code)
}

/// Registers by phone and returns (user id, the SMS code).
pub async fn registered_phone(t: &TestApp, phone: &str) -> (String, String) {
    let registered = register(&t.app, by_phone(phone)).await.expect("registered");
    let sms = Outbox::fetch().await.sms_to(phone);
    let code = sms.last().and_then(|m| six_digits(m)).expect("an SMS code");
    (registered.user_id, code)
}

pub fn phone_body(phone: &str) -> Option<ConfirmBody> {
    Some(ConfirmBody {
        phone: phone.to_owned(),
    })
}

#[tokio::test]
async fn an_email_link_verifies_once_and_makes_the_account_permanent() {
    let t = TestApp::new().await;
    let email = unique_email();
    let (user_id, link_code) = registered_email(&t, &email).await;

    let confirmed = confirm(&t.app, &link_code, None, &crate::NO_ORIGIN)
        .await
        .expect("confirmed");
    assert_eq!(confirmed.user_id, user_id);
    assert_eq!(confirmed.verified, IdentifierKind::Email);
    assert_eq!(
        code(confirm(&t.app, &link_code, None, &crate::NO_ORIGIN).await),
        "invalid_code"
    );

    let user: UserItem = t
        .app
        .store()
        .get(&keys::user(&user_id), keys::PROFILE)
        .await
        .unwrap()
        .unwrap();
    assert!(user.verified);
    assert_eq!(user.expires_at, None);
    let claim: ClaimItem = t
        .app
        .store()
        .get(
            &keys::identifier(IdentifierKind::Email, &email),
            keys::CLAIM,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        claim.expires_at, None,
        "a verified account never frees its email"
    );
    t.clock.advance(8 * 24 * 3600);
    assert_eq!(
        code(register(&t.app, by_email(&email)).await),
        "user_exists"
    );
}

#[tokio::test]
async fn an_sms_code_verifies_with_its_phone() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (user_id, sms_code) = registered_phone(&t, &phone).await;
    // The same code with another phone is not this phone's code.
    assert_eq!(
        code(
            confirm(
                &t.app,
                &sms_code,
                phone_body(&unique_phone()),
                &crate::NO_ORIGIN
            )
            .await
        ),
        "invalid_code"
    );
    let confirmed = confirm(&t.app, &sms_code, phone_body(&phone), &crate::NO_ORIGIN)
        .await
        .expect("confirmed");
    assert_eq!(confirmed.user_id, user_id);
    assert_eq!(confirmed.verified, IdentifierKind::Phone);
    let (amr, auth_time) = crate::signed_in_by(&t, &confirmed.tokens.access_token);
    assert_eq!(
        (amr, auth_time),
        (vec!["sms".to_owned()], Some(t.clock.now()))
    );
}

#[tokio::test]
async fn twenty_concurrent_confirmations_of_one_code_succeed_once() {
    let t = TestApp::new().await;
    let (_, link_code) = registered_email(&t, &unique_email()).await;
    let attempts = (0..20).map(|_| confirm(&t.app, &link_code, None, &crate::NO_ORIGIN));
    let results = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        wins,
        1,
        "{:?}",
        results
            .iter()
            .map(|r| r.as_ref().err().map(|e| e.code()))
            .collect::<Vec<_>>()
    );
    for result in results.iter().filter(|r| r.is_err()) {
        assert_eq!(
            result.as_ref().err().map(|e| e.code()),
            Some("invalid_code")
        );
    }
}

#[tokio::test]
async fn codes_expire() {
    let t = TestApp::new().await;
    let (_, link_code) = registered_email(&t, &unique_email()).await;
    t.clock.advance(24 * 3600);
    assert_eq!(
        code(confirm(&t.app, &link_code, None, &crate::NO_ORIGIN).await),
        "invalid_code"
    );

    let phone = unique_phone();
    let (_, sms_code) = registered_phone(&t, &phone).await;
    t.clock.advance(10 * 60);
    assert_eq!(
        code(confirm(&t.app, &sms_code, phone_body(&phone), &crate::NO_ORIGIN).await),
        "invalid_code"
    );
}

#[tokio::test]
async fn five_wrong_sms_codes_burn_the_code() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (_, right) = registered_phone(&t, &phone).await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 1..=5 {
        assert_eq!(
            code(confirm(&t.app, wrong, phone_body(&phone), &crate::NO_ORIGIN).await),
            "invalid_code",
            "wrong try {attempt}"
        );
    }
    assert_eq!(
        code(confirm(&t.app, wrong, phone_body(&phone), &crate::NO_ORIGIN).await),
        "too_many_attempts"
    );
    assert_eq!(
        code(confirm(&t.app, &right, phone_body(&phone), &crate::NO_ORIGIN).await),
        "too_many_attempts"
    );
}

#[tokio::test]
async fn concurrent_wrong_guesses_get_no_more_than_five_tries() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (_, right) = registered_phone(&t, &phone).await;
    let guesses: Vec<String> = (0..12u32)
        .map(|i| format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000))
        .collect();
    let attempts = guesses
        .iter()
        .map(|g| confirm(&t.app, g, phone_body(&phone), &crate::NO_ORIGIN));
    let results = futures::future::join_all(attempts).await;
    let counted = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code() == "invalid_code"))
        .count();
    assert_eq!(counted, 5, "exactly five wrong tries are evaluated");
    assert_eq!(
        code(confirm(&t.app, &right, phone_body(&phone), &crate::NO_ORIGIN).await),
        "too_many_attempts"
    );
}

/// `n` six-digit codes other than `right`.
fn wrong_guesses(right: &str, n: u32) -> Vec<String> {
    let right: u32 = right.parse().expect("six digits");
    (0..n)
        .map(|i| format!("{:06}", (right + 1 + i) % 1_000_000))
        .collect()
}

/// The codes of `results`, `ok` for a success.
fn outcomes<T>(results: &[Result<T, auth_shared::AuthError>]) -> Vec<&'static str> {
    results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok"))
        .collect()
}

#[tokio::test]
async fn a_burst_of_a_hundred_guesses_with_the_right_one_among_them_compares_five() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (_, right) = registered_phone(&t, &phone).await;
    let mut guesses = wrong_guesses(&right, 99);
    guesses.insert(50, right.clone());
    let results = futures::future::join_all(
        guesses
            .iter()
            .map(|g| confirm(&t.app, g, phone_body(&phone), &crate::NO_ORIGIN)),
    )
    .await;
    let outcomes = outcomes(&results);
    let compared = outcomes
        .iter()
        .filter(|o| **o != "too_many_attempts")
        .count();
    // Five tries: each is either a wrong guess (invalid_code) or the right one (ok); every
    // other guess finds the tries spent before anything is compared.
    assert_eq!(compared, 5, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(*o, "ok" | "invalid_code" | "too_many_attempts")),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn with_one_try_left_the_right_code_among_nineteen_wrong_ones_wins_only_with_the_last_try() {
    let t = TestApp::new().await;
    for _round in 0..3 {
        let phone = unique_phone();
        let (_, right) = registered_phone(&t, &phone).await;
        let wrong = wrong_guesses(&right, 23);
        for guess in &wrong[..4] {
            assert_eq!(
                code(confirm(&t.app, guess, phone_body(&phone), &crate::NO_ORIGIN).await),
                "invalid_code"
            );
        }
        let mut burst: Vec<String> = wrong[4..].to_vec();
        burst.insert(7, right.clone());
        let results = futures::future::join_all(
            burst
                .iter()
                .map(|g| confirm(&t.app, g, phone_body(&phone), &crate::NO_ORIGIN)),
        )
        .await;
        let outcomes = outcomes(&results);
        let compared: Vec<_> = outcomes
            .iter()
            .filter(|o| **o != "too_many_attempts")
            .collect();
        assert_eq!(
            compared.len(),
            1,
            "one try was left, so one guess is compared: {outcomes:?}"
        );
        if outcomes[7] == "ok" {
            assert!(
                outcomes
                    .iter()
                    .enumerate()
                    .all(|(i, o)| i == 7 || *o == "too_many_attempts")
            );
        } else {
            assert_eq!(outcomes[7], "too_many_attempts", "{outcomes:?}");
        }
    }
}

#[tokio::test]
async fn malformed_codes_and_phones_are_rejected() {
    let t = TestApp::new().await;
    assert_eq!(
        code(confirm(&t.app, "not-a-code", None, &crate::NO_ORIGIN).await),
        "invalid_code"
    );
    assert_eq!(
        code(
            confirm(
                &t.app,
                "12345",
                phone_body(&unique_phone()),
                &crate::NO_ORIGIN
            )
            .await
        ),
        "invalid_code"
    );
    assert_eq!(
        code(confirm(&t.app, "123456", phone_body("+1"), &crate::NO_ORIGIN).await),
        "invalid_phone"
    );
    let unknown = "A".repeat(43);
    assert_eq!(
        code(confirm(&t.app, &unknown, None, &crate::NO_ORIGIN).await),
        "invalid_code"
    );
}

#[tokio::test]
async fn i_did_not_sign_up_deletes_the_unverified_account_and_frees_the_address() {
    use auth_shared::events::DeletionReason;
    use auth_shared::ops::confirm::decline;
    let t = TestApp::new().await;
    let email = unique_email();
    let (user_id, link) = registered_email(&t, &email).await;
    decline(&t.app, &link, None, &crate::NO_ORIGIN)
        .await
        .expect("declined");
    // Gone: the profile, the claim, and the code with them.
    let profile = crate::account::profile(&t, &user_id).await;
    assert!(profile.is_none());
    assert_eq!(
        code(confirm(&t.app, &link, None, &crate::NO_ORIGIN).await),
        "invalid_code"
    );
    assert_eq!(
        code(decline(&t.app, &link, None, &crate::NO_ORIGIN).await),
        "invalid_code"
    );
    assert_eq!(
        crate::account::deletion_reasons(&t, &user_id).await,
        [Some(DeletionReason::Declined)]
    );
    // The address is free at once: its owner registers it (after the send minute).
    t.clock.advance(61);
    register(&t.app, by_email(&email))
        .await
        .expect("the owner registers the declined address");
}

#[tokio::test]
async fn declining_counts_wrong_sms_codes_and_never_deletes_a_verified_account() {
    use auth_shared::ops::confirm::decline;
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (user_id, sms) = registered_phone(&t, &phone).await;
    let wrong = if sms == "000000" { "111111" } else { "000000" };
    assert_eq!(
        code(decline(&t.app, wrong, phone_body(&phone), &crate::NO_ORIGIN).await),
        "invalid_code"
    );
    confirm(&t.app, &sms, phone_body(&phone), &crate::NO_ORIGIN)
        .await
        .expect("confirmed");
    assert_eq!(
        code(decline(&t.app, &sms, phone_body(&phone), &crate::NO_ORIGIN).await),
        "invalid_code",
        "a spent code declines nothing"
    );
    let profile = crate::account::profile(&t, &user_id).await;
    assert!(profile.is_some_and(|u| u.verified));
}

#[tokio::test]
async fn a_confirmation_and_a_decline_racing_leave_one_outcome() {
    use auth_shared::ops::confirm::decline;
    let t = TestApp::new().await;
    let email = unique_email();
    let (user_id, link) = registered_email(&t, &email).await;
    let (confirmed, declined) = tokio::join!(
        confirm(&t.app, &link, None, &crate::NO_ORIGIN),
        decline(&t.app, &link, None, &crate::NO_ORIGIN)
    );
    assert!(
        confirmed.is_ok() != declined.is_ok(),
        "exactly one wins: {:?} / {:?}",
        confirmed.as_ref().map(|_| ()),
        declined
    );
    let profile = crate::account::profile(&t, &user_id).await;
    assert_eq!(profile.is_some_and(|u| u.verified), confirmed.is_ok());
}
