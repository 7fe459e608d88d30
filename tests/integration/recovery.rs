//! Password recovery and the bearer routes' operations: forgot, reset, change, the session
//! list and revocation, against DynamoDB Local and moto with a clock the tests move.

use auth_shared::AuthError;
use auth_shared::crypto::base64url;
use auth_shared::ops::Base as _;
use auth_shared::ops::bearer::{Caller, authenticate};
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::login::{LoginRequest, login};
use auth_shared::ops::password::{
    Accepted, ChangeRequest, ForgotRequest, ResetDone, ResetRequest, change, request_reset, reset,
    send_reset,
};
use auth_shared::ops::session::{
    LogoutRequest, TokenPair, list, logout, refresh, revoke_all, revoke_one,
};
use auth_shared::store::{UserItem, keys};
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{TestApp, unique_email, unique_phone};

use crate::code;
use crate::confirmation::registered_phone;
use crate::sessions::exchange;
use crate::signin::verified_email;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a different long passphrase";

fn from(agent: &str) -> Origin {
    Origin {
        ip: Some("198.51.100.7".into()),
        user_agent: Some(agent.into()),
    }
}

fn sign_in(email: &str, password: &str, agent: &str) -> LoginRequest {
    LoginRequest {
        email: Some(email.to_owned()),
        phone: None,
        password: password.to_owned(),
        origin: from(agent),
    }
}

/// `POST /password/forgot`, then the stream consumer serving the request it recorded.
pub async fn forgot(
    app: &auth_shared::FullApp,
    request: ForgotRequest,
) -> Result<Accepted, AuthError> {
    let recorded = request_reset(app, request).await?;
    send_reset(app, &recorded).await?;
    Ok(Accepted {})
}

fn forgot_email(email: &str) -> ForgotRequest {
    ForgotRequest {
        email: Some(email.to_owned()),
        phone: None,
        origin: Origin::default(),
    }
}

fn reset_with(code: &str, password: &str, repeat: &str, phone: Option<&str>) -> ResetRequest {
    ResetRequest {
        code: code.to_owned(),
        password: password.to_owned(),
        repeat_password: repeat.to_owned(),
        phone: phone.map(str::to_owned),
        origin: from("reset-page"),
    }
}

fn change_to(current: &str, new: &str) -> ChangeRequest {
    ChangeRequest {
        current_password: current.to_owned(),
        password: new.to_owned(),
        repeat_password: new.to_owned(),
        origin: from("settings-page"),
    }
}

async fn caller(t: &TestApp, pair: &TokenPair) -> Result<Caller, AuthError> {
    authenticate(&t.app, Some(&pair.access_token)).await
}

/// How many "your password was changed" notices went to `email`.
async fn password_notices(email: &str) -> usize {
    Outbox::fetch()
        .await
        .emails_to(email)
        .iter()
        .filter(|m| m.subject == "Your password was changed")
        .count()
}

pub async fn last_reset_link(email: &str) -> String {
    Outbox::fetch()
        .await
        .emails_to(email)
        .last()
        .and_then(|m| m.reset_code())
        .expect("a reset link")
}

/// An email account's whole reset, a minute after its last code: `POST /password/forgot`,
/// the mailed link, and `POST /password/reset` with `new_password`.
pub async fn reset_by_email(
    t: &TestApp,
    email: &str,
    new_password: &str,
) -> Result<ResetDone, AuthError> {
    t.clock.advance(61);
    forgot(&t.app, forgot_email(email)).await?;
    let link = last_reset_link(email).await;
    reset(&t.app, reset_with(&link, new_password, new_password, None)).await
}

async fn profile(t: &TestApp, user_id: &str) -> UserItem {
    t.app
        .store()
        .get(&keys::user(user_id), keys::PROFILE)
        .await
        .unwrap()
        .expect("the account")
}

/// A verified email account and a session in it, the minute after its last code.
async fn account(t: &TestApp) -> (String, TokenPair) {
    let email = verified_email(t).await;
    // A second later than the confirmation's own session, so the list's order is known.
    t.clock.advance(1);
    let pair = login(&t.app, sign_in(&email, PASSWORD, "laptop"))
        .await
        .expect("signed in");
    t.clock.advance(61);
    (email, pair)
}

#[tokio::test]
async fn forgot_sends_a_link_only_to_an_account_and_answers_unknown_identifiers_alike() {
    let t = TestApp::new().await;
    let (email, _) = account(&t).await;
    let nobody = unique_email();
    let known = forgot(&t.app, forgot_email(&email)).await.unwrap();
    let unknown = forgot(&t.app, forgot_email(&nobody)).await.unwrap();
    assert_eq!(
        serde_json::to_string(&known).unwrap(),
        serde_json::to_string(&unknown).unwrap()
    );
    assert_eq!(serde_json::to_string(&known).unwrap(), "{}");
    let outbox = Outbox::fetch().await;
    assert!(
        outbox.emails_to(&nobody).is_empty(),
        "nothing to an unknown address"
    );
    let mail = outbox.emails_to(&email).last().cloned().unwrap();
    assert_eq!(mail.subject, "Reset your password");
    assert!(mail.reset_code().is_some());
    // The send limit counts unknown identifiers too: a 429 tells nothing.
    assert_eq!(
        code(forgot(&t.app, forgot_email(&email)).await),
        "rate_limited"
    );
    assert_eq!(
        code(forgot(&t.app, forgot_email(&nobody)).await),
        "rate_limited"
    );
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_and_starts_one() {
    let t = TestApp::new().await;
    let (email, laptop) = account(&t).await;
    let phone_session = login(&t.app, sign_in(&email, PASSWORD, "phone"))
        .await
        .unwrap();
    forgot(&t.app, forgot_email(&email)).await.unwrap();
    let link = last_reset_link(&email).await;

    // A weak or mismatched password is refused before the code is touched.
    assert_eq!(
        code(reset(&t.app, reset_with(&link, "password", "password", None)).await),
        "weak_password"
    );
    assert_eq!(
        code(reset(&t.app, reset_with(&link, NEW_PASSWORD, "other", None)).await),
        "password_mismatch"
    );
    let done = reset(&t.app, reset_with(&link, NEW_PASSWORD, NEW_PASSWORD, None))
        .await
        .expect("the code still works");
    assert_eq!(done.tokens.token_type, "Bearer");
    assert_eq!(password_notices(&email).await, 1, "the user is told");
    let (amr, _) = crate::signed_in_by(&t, &done.tokens.access_token);
    assert_eq!(amr, ["otp"], "the emailed code proved the identifier");

    // Used, unknown or malformed: invalid_code.
    for used in [link.clone(), base64url(&[7u8; 32]), "short".to_owned()] {
        assert_eq!(
            code(reset(&t.app, reset_with(&used, NEW_PASSWORD, NEW_PASSWORD, None)).await),
            "invalid_code"
        );
    }
    // Every earlier session ended, on refresh and on the bearer routes alike.
    for earlier in [&laptop, &phone_session] {
        assert_eq!(
            code(refresh(&t.app, exchange(&earlier.refresh_token)).await),
            "invalid_grant"
        );
        assert_eq!(code(caller(&t, earlier).await), "invalid_token");
    }
    refresh(&t.app, exchange(&done.tokens.refresh_token))
        .await
        .expect("the reset's own session lives");
    assert_eq!(
        code(login(&t.app, sign_in(&email, PASSWORD, "laptop")).await),
        "invalid_credentials"
    );
    login(&t.app, sign_in(&email, NEW_PASSWORD, "laptop"))
        .await
        .expect("the new password signs in");
}

#[tokio::test]
async fn an_sms_reset_counts_tries_before_comparing_and_verifies_the_phone() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    let (user_id, _) = registered_phone(&t, &phone).await;
    assert!(!profile(&t, &user_id).await.verified);
    t.clock.advance(61);
    let by_phone = ForgotRequest {
        email: None,
        phone: Some(phone.clone()),
        origin: Origin::default(),
    };
    forgot(&t.app, by_phone).await.unwrap();
    let sms = Outbox::fetch().await.sms_to(&phone);
    let text = sms.last().unwrap();
    assert!(
        text.contains("reset") && text.contains("If you did not ask"),
        "{text}"
    );
    let right = six_digits(text).unwrap();
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert_eq!(
        code(
            reset(
                &t.app,
                reset_with(wrong, NEW_PASSWORD, NEW_PASSWORD, Some(&phone))
            )
            .await
        ),
        "invalid_code"
    );
    // Without the phone the 6 digits are not a link code.
    assert_eq!(
        code(reset(&t.app, reset_with(&right, NEW_PASSWORD, NEW_PASSWORD, None)).await),
        "invalid_code"
    );
    let done = reset(
        &t.app,
        reset_with(&right, NEW_PASSWORD, NEW_PASSWORD, Some(&phone)),
    )
    .await
    .expect("the right code after one wrong try");
    assert_eq!(done.user_id, user_id);
    let user = profile(&t, &user_id).await;
    assert!(user.verified, "the code proved the phone");
    assert!(
        user.expires_at.is_none(),
        "a verified account does not expire"
    );
}

#[tokio::test]
async fn five_wrong_sms_reset_codes_burn_the_code() {
    let t = TestApp::new().await;
    let phone = unique_phone();
    registered_phone(&t, &phone).await;
    t.clock.advance(61);
    let by_phone = ForgotRequest {
        email: None,
        phone: Some(phone.clone()),
        origin: Origin::default(),
    };
    forgot(&t.app, by_phone).await.unwrap();
    let right = six_digits(Outbox::fetch().await.sms_to(&phone).last().unwrap()).unwrap();
    let guesses: Vec<String> = (0..12)
        .map(|n| format!("{:06}", (n + 1) * 7919 % 1_000_000))
        .filter(|g| *g != right)
        .take(12)
        .collect();
    let attempts = guesses.iter().map(|g| {
        reset(
            &t.app,
            reset_with(g, NEW_PASSWORD, NEW_PASSWORD, Some(&phone)),
        )
    });
    let codes: Vec<&str> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(code)
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "invalid_code").count(),
        5,
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| *c == "invalid_code" || *c == "too_many_attempts")
    );
    assert_eq!(
        code(
            reset(
                &t.app,
                reset_with(&right, NEW_PASSWORD, NEW_PASSWORD, Some(&phone))
            )
            .await
        ),
        "too_many_attempts"
    );
}

#[tokio::test]
async fn a_reset_clears_the_login_lock_and_only_the_newest_link_works() {
    let t = TestApp::new().await;
    let (email, _) = account(&t).await;
    for _ in 0..6 {
        let _ = login(&t.app, sign_in(&email, "wrong", "laptop")).await;
    }
    assert_eq!(
        code(login(&t.app, sign_in(&email, PASSWORD, "laptop")).await),
        "rate_limited"
    );
    forgot(&t.app, forgot_email(&email)).await.unwrap();
    let older = last_reset_link(&email).await;
    t.clock.advance(61);
    forgot(&t.app, forgot_email(&email)).await.unwrap();
    let newer = last_reset_link(&email).await;
    assert_ne!(older, newer);
    assert_eq!(
        code(reset(&t.app, reset_with(&older, NEW_PASSWORD, NEW_PASSWORD, None)).await),
        "invalid_code"
    );
    reset(&t.app, reset_with(&newer, NEW_PASSWORD, NEW_PASSWORD, None))
        .await
        .unwrap();
    login(&t.app, sign_in(&email, NEW_PASSWORD, "laptop"))
        .await
        .expect("no lock after the reset");
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour() {
    let t = TestApp::new().await;
    let (email, _) = account(&t).await;
    forgot(&t.app, forgot_email(&email)).await.unwrap();
    let link = last_reset_link(&email).await;
    t.clock.advance(3600);
    assert_eq!(
        code(reset(&t.app, reset_with(&link, NEW_PASSWORD, NEW_PASSWORD, None)).await),
        "invalid_code"
    );
}

#[tokio::test]
async fn changing_the_password_ends_every_session_and_answers_a_new_one() {
    let t = TestApp::new().await;
    let (email, laptop) = account(&t).await;
    let phone_session = login(&t.app, sign_in(&email, PASSWORD, "phone"))
        .await
        .unwrap();
    let me = caller(&t, &laptop).await.unwrap();
    assert_eq!(
        code(change(&t.app, &me, change_to("wrong", NEW_PASSWORD)).await),
        "invalid_credentials"
    );
    let mut weak = change_to(PASSWORD, "password");
    weak.repeat_password = "password".into();
    assert_eq!(code(change(&t.app, &me, weak).await), "weak_password");
    assert_eq!(password_notices(&email).await, 0, "nothing changed yet");
    let fresh = change(&t.app, &me, change_to(PASSWORD, NEW_PASSWORD))
        .await
        .expect("changed");
    assert_eq!(password_notices(&email).await, 1, "the user is told");
    for earlier in [&laptop, &phone_session] {
        assert_eq!(
            code(refresh(&t.app, exchange(&earlier.refresh_token)).await),
            "invalid_grant"
        );
        assert_eq!(code(caller(&t, earlier).await), "invalid_token");
    }
    caller(&t, &fresh).await.expect("the new session works");
    assert_eq!(
        code(login(&t.app, sign_in(&email, PASSWORD, "laptop")).await),
        "invalid_credentials"
    );
    login(&t.app, sign_in(&email, NEW_PASSWORD, "laptop"))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_login_lock() {
    let t = TestApp::new().await;
    let (email, laptop) = account(&t).await;
    let me = caller(&t, &laptop).await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            code(change(&t.app, &me, change_to("wrong", NEW_PASSWORD)).await),
            "invalid_credentials"
        );
    }
    assert_eq!(
        code(change(&t.app, &me, change_to(PASSWORD, NEW_PASSWORD)).await),
        "rate_limited"
    );
    assert_eq!(
        code(login(&t.app, sign_in(&email, PASSWORD, "laptop")).await),
        "rate_limited"
    );
}

#[tokio::test]
async fn the_session_list_shows_each_sign_in_and_revoking_one_ends_only_that_one() {
    let t = TestApp::new().await;
    let (email, laptop) = account(&t).await;
    t.clock.advance(1);
    let phone_session = login(&t.app, sign_in(&email, PASSWORD, "phone"))
        .await
        .unwrap();
    let me = caller(&t, &phone_session).await.unwrap();
    let sessions = list(&t.app, &me).await.unwrap().sessions;
    // The confirmation's session, the laptop's and the phone's, newest first.
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    assert_eq!(sessions[0].user_agent.as_deref(), Some("phone"));
    assert_eq!(sessions[1].user_agent.as_deref(), Some("laptop"));
    assert_eq!(sessions[0].ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);
    assert!(sessions[0].current);
    assert!(
        sessions[0].created_at.ends_with('Z') && sessions[0].expires_at > sessions[0].created_at
    );

    // A refresh records its time on the session.
    t.clock.advance(120);
    let laptop = refresh(&t.app, exchange(&laptop.refresh_token))
        .await
        .unwrap();
    let sessions = list(&t.app, &me).await.unwrap().sessions;
    assert!(
        sessions[1].last_used_at > sessions[1].created_at,
        "{sessions:?}"
    );

    let laptop_id = sessions[1].id.clone();
    revoke_one(&t.app, &me, &laptop_id).await.unwrap();
    assert_eq!(
        code(refresh(&t.app, exchange(&laptop.refresh_token)).await),
        "invalid_grant"
    );
    assert_eq!(code(caller(&t, &laptop).await), "invalid_token");
    caller(&t, &phone_session)
        .await
        .expect("the other session lives");
    let left: Vec<String> = list(&t.app, &me)
        .await
        .unwrap()
        .sessions
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&laptop_id));
    assert_eq!(
        code(revoke_one(&t.app, &me, &laptop_id).await),
        "session_not_found"
    );
}

#[tokio::test]
async fn another_user_s_session_is_not_found() {
    let t = TestApp::new().await;
    let (_, mine) = account(&t).await;
    let (_, theirs) = account(&t).await;
    let me = caller(&t, &mine).await.unwrap();
    let them = caller(&t, &theirs).await.unwrap();
    for id in [
        them.session_id.as_str(),
        &uuid::Uuid::new_v4().to_string(),
        "not-a-session",
    ] {
        assert_eq!(code(revoke_one(&t.app, &me, id).await), "session_not_found");
    }
    caller(&t, &theirs)
        .await
        .expect("their session is untouched");
}

#[tokio::test]
async fn bearer_checks_refuse_bad_expired_and_ended_tokens() {
    let t = TestApp::new().await;
    let (_, pair) = account(&t).await;
    caller(&t, &pair).await.expect("a good token");
    assert_eq!(code(authenticate(&t.app, None).await), "invalid_token");
    assert_eq!(
        code(authenticate(&t.app, Some("not.a.jwt")).await),
        "invalid_token"
    );

    // alg none, with the claims of the good token and no signature.
    let payload = pair.access_token.split('.').nth(1).unwrap();
    let header = base64url(br#"{"alg":"none","typ":"at+jwt"}"#);
    let unsigned = format!("{header}.{payload}.");
    assert_eq!(
        code(authenticate(&t.app, Some(&unsigned)).await),
        "invalid_token"
    );
    // The good header and signature over altered claims.
    let mut parts: Vec<String> = pair.access_token.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
            .unwrap(),
    )
    .unwrap();
    claims["sub"] = "00000000-0000-4000-8000-000000000000".into();
    parts[1] = base64url(claims.to_string().as_bytes());
    assert_eq!(
        code(authenticate(&t.app, Some(&parts.join("."))).await),
        "invalid_token"
    );

    // Expired at the service's clock.
    t.clock.advance(15 * 60);
    assert_eq!(code(caller(&t, &pair).await), "invalid_token");

    // A live token of a session signed out with its refresh token.
    let (_, other) = account(&t).await;
    caller(&t, &other).await.unwrap();
    logout(
        &t.app,
        LogoutRequest::for_refresh_token(other.refresh_token.clone()),
    )
    .await
    .unwrap();
    assert_eq!(code(caller(&t, &other).await), "invalid_token");
}

#[tokio::test]
async fn once_sign_out_everywhere_has_answered_no_earlier_session_refreshes() {
    let t = TestApp::new().await;
    let (email, laptop) = account(&t).await;
    let mut pairs = vec![laptop];
    for agent in ["phone", "tablet", "desktop"] {
        pairs.push(
            login(&t.app, sign_in(&email, PASSWORD, agent))
                .await
                .unwrap(),
        );
    }
    let me = caller(&t, &pairs[0]).await.unwrap();
    let refreshes = pairs
        .iter()
        .flat_map(|p| [p.refresh_token.clone(), p.refresh_token.clone()])
        .map(|token| {
            let app = &t.app;
            async move { refresh(app, exchange(&token)).await }
        });
    let (refreshed, revoked) = tokio::join!(
        futures::future::join_all(refreshes),
        revoke_all(&t.app, &me)
    );
    revoked.expect("signed out everywhere");
    // Whatever the racing refreshes got, nothing of the earlier sessions works now.
    let mut tokens: Vec<String> = pairs.iter().map(|p| p.refresh_token.clone()).collect();
    tokens.extend(refreshed.into_iter().flatten().map(|p| p.refresh_token));
    for token in tokens {
        assert_eq!(
            code(refresh(&t.app, exchange(&token)).await),
            "invalid_grant"
        );
    }
    assert_eq!(code(caller(&t, &pairs[0]).await), "invalid_token");
    assert!(
        list(
            &t.app,
            &caller(
                &t,
                &login(&t.app, sign_in(&email, PASSWORD, "new"))
                    .await
                    .unwrap()
            )
            .await
            .unwrap()
        )
        .await
        .unwrap()
        .sessions
        .len()
            == 1,
        "only the session started after it is listed"
    );
}

/// Signs in with `password` from several tasks, over and over, while `change` runs, and a
/// little after it has answered; every pair any of them got.
async fn sign_ins_hammered_during<F: std::future::Future>(
    t: &std::sync::Arc<TestApp>,
    email: &str,
    password: &str,
    change: F,
) -> (F::Output, Vec<TokenPair>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    // Three at a time: with the change's own try, below the five failures that lock.
    for _ in 0..3 {
        let (t, stop) = (t.clone(), stop.clone());
        let (email, password) = (email.to_owned(), password.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut pairs = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok(pair) = login(&t.app, sign_in(&email, &password, "attacker")).await {
                    pairs.push(pair);
                }
            }
            pairs
        }));
    }
    // Let the sign-ins get going, so some are between their read and their write.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let changed = change.await;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    stop.store(true, Ordering::SeqCst);
    let mut pairs = Vec::new();
    for task in tasks {
        pairs.extend(task.await.expect("sign-in task"));
    }
    (changed, pairs)
}

/// No pair in `pairs` refreshes or passes a bearer check, and `owner`'s session is the only
/// one listed.
async fn all_dead_but(t: &TestApp, pairs: &[TokenPair], owner: &TokenPair) {
    for pair in pairs {
        assert_eq!(
            code(refresh(&t.app, exchange(&pair.refresh_token)).await),
            "invalid_grant",
            "a session signed in with the old password outlived the change"
        );
        assert_eq!(code(caller(t, pair).await), "invalid_token");
    }
    let me = caller(t, owner).await.expect("the owner's new session");
    let sessions = list(&t.app, &me).await.unwrap().sessions;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].current);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_sign_in_with_the_old_password_outlives_a_password_change() {
    let t = std::sync::Arc::new(TestApp::new().await);
    let (email, owner) = account(&t).await;
    let me = caller(&t, &owner).await.unwrap();
    let (changed, pairs) = sign_ins_hammered_during(
        &t,
        &email,
        PASSWORD,
        change(&t.app, &me, change_to(PASSWORD, NEW_PASSWORD)),
    )
    .await;
    let owner = changed.expect("the password changed");
    assert!(
        !pairs.is_empty(),
        "the old password signed in before the change"
    );
    all_dead_but(&t, &pairs, &owner).await;
    // Past any lock the failures after the change earned, the old password is just wrong.
    t.clock.advance(900);
    assert_eq!(
        code(login(&t.app, sign_in(&email, PASSWORD, "attacker")).await),
        "invalid_credentials"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_sign_in_with_the_old_password_outlives_a_password_reset() {
    let t = std::sync::Arc::new(TestApp::new().await);
    let (email, _) = account(&t).await;
    forgot(&t.app, forgot_email(&email)).await.unwrap();
    let link = last_reset_link(&email).await;
    let (reset, pairs) = sign_ins_hammered_during(
        &t,
        &email,
        PASSWORD,
        reset(&t.app, reset_with(&link, NEW_PASSWORD, NEW_PASSWORD, None)),
    )
    .await;
    let owner = reset.expect("the password was reset").tokens;
    assert!(
        !pairs.is_empty(),
        "the old password signed in before the reset"
    );
    all_dead_but(&t, &pairs, &owner).await;
}

#[tokio::test]
async fn a_reset_request_served_twice_sends_one_code() {
    let t = TestApp::new().await;
    let (email, _) = account(&t).await;
    let recorded = request_reset(&t.app, forgot_email(&email)).await.unwrap();
    send_reset(&t.app, &recorded).await.unwrap();
    // The stream delivers the record again.
    send_reset(&t.app, &recorded).await.unwrap();
    let mails = Outbox::fetch().await.emails_to(&email).len();
    let resets = Outbox::fetch()
        .await
        .emails_to(&email)
        .iter()
        .filter(|m| m.reset_code().is_some())
        .count();
    assert_eq!(resets, 1, "{mails} mails");
}

#[tokio::test]
async fn a_reset_code_is_not_sent_to_an_address_the_account_left_meanwhile() {
    use auth_shared::ops::account::{
        IdentifierChangeRequest, confirm_identifier_change, request_identifier_change,
    };
    let t = TestApp::new().await;
    let (old, pair) = account(&t).await;
    // Forgot is recorded while the account holds the old address...
    let recorded = request_reset(&t.app, forgot_email(&old)).await.unwrap();
    // ...the account moves to a new one before the code is sent...
    let me = caller(&t, &pair).await.unwrap();
    let new = unique_email();
    request_identifier_change(
        &t.app,
        &me,
        IdentifierChangeRequest {
            email: Some(new.clone()),
            phone: None,
            password: PASSWORD.to_owned(),
            origin: Origin::default(),
        },
    )
    .await
    .unwrap();
    let link = Outbox::fetch().await.emails_to(&new)[0]
        .change_code()
        .unwrap();
    confirm_identifier_change(&t.app, &me, &link, None)
        .await
        .unwrap();
    // ...so no reset code reaches the old address.
    send_reset(&t.app, &recorded).await.unwrap();
    let to_old = Outbox::fetch().await.emails_to(&old);
    assert!(
        to_old.iter().all(|m| m.reset_code().is_none()),
        "a reset code went to an address the account left"
    );
}

#[tokio::test]
async fn forgot_for_numbers_no_account_holds_never_spends_the_sms_budget() {
    let budget = 2 * auth_shared::ops::budgets::SMS_SHARDS as usize;
    let t = TestApp::with_config(auth_tests::config_with(&[(
        "SMS_PER_HOUR",
        &budget.to_string(),
    )]))
    .await;
    // An hour no other test uses, so the hour's SMS counters are this test's.
    let days = 1000 + (uuid::Uuid::new_v4().as_u128() % 100_000) as i64;
    t.clock.advance(days * 86_400);
    for _ in 0..3 * budget {
        let request = ForgotRequest {
            email: None,
            phone: Some(unique_phone()),
            origin: Origin::default(),
        };
        forgot(&t.app, request)
            .await
            .expect("202 for an unknown number");
    }
    let phone = unique_phone();
    auth_shared::ops::register::register(&t.app, crate::registration::by_phone(&phone))
        .await
        .expect("an SMS to a real account still goes out");
    assert_eq!(Outbox::fetch().await.sms_to(&phone).len(), 1);
}

#[tokio::test]
async fn forgot_answers_in_the_same_time_whether_or_not_an_account_holds_the_identifier() {
    use auth_shared::ops::password::forgot as record_only;
    let t = TestApp::new().await;
    let (known, _) = account(&t).await;
    let unknown = unique_email();
    let (mut known_ms, mut unknown_ms) = (Vec::new(), Vec::new());
    // Alternating, each a minute after the last send, so neither meets the send limit and
    // both meet the same machine.
    for round in 0..200 {
        t.clock.advance(61 * 60 / 5 + 1);
        for (email, times) in [(&known, &mut known_ms), (&unknown, &mut unknown_ms)] {
            let started = std::time::Instant::now();
            record_only(&t.app, forgot_email(email))
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known_ms), median(&mut unknown_ms));
    assert!(
        (k - u).abs() < 5.0,
        "median answer {k:.2} ms for an account, {u:.2} ms for no account"
    );
}
