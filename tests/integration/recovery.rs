//! Password recovery and the bearer routes' operations: forgot, reset, change, the session
//! list and revocation, against DynamoDB Local and moto with a clock the tests move.

use auth_shared::AuthError;
use auth_shared::crypto::base64url;
use auth_shared::ops::Base as _;
use auth_shared::ops::bearer::{Caller, authenticate};
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::login::{LoginRequest, login};
use auth_shared::ops::password::{
    ChangeRequest, ForgotRequest, ResetRequest, change, forgot, reset,
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

async fn last_reset_link(email: &str) -> String {
    Outbox::fetch()
        .await
        .emails_to(email)
        .last()
        .and_then(|m| m.reset_code())
        .expect("a reset link")
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
    let fresh = change(&t.app, &me, change_to(PASSWORD, NEW_PASSWORD))
        .await
        .expect("changed");
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
        revoke_all(&t.app, &me.user)
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
