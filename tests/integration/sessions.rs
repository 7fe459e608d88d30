use auth_shared::Clock;
use auth_shared::ops::login::login;
use auth_shared::ops::session::{LogoutRequest, RefreshRequest, TokenPair, logout, refresh};
use auth_shared::ops::{Base as _, Issues as _};
use auth_tests::TestApp;
use auth_tests::downstream::verify;

use crate::signin::{by_email_login, verified_email};
use crate::{code, published_keys, signed_in_by};

pub fn exchange(token: &str) -> RefreshRequest {
    RefreshRequest {
        grant_type: Some("refresh_token".into()),
        refresh_token: token.to_owned(),
        client_id: None,
        scope: None,
    }
}

async fn signed_in(t: &TestApp) -> TokenPair {
    let email = verified_email(t).await;
    login(
        &t.app,
        by_email_login(&email, "correct horse battery staple"),
    )
    .await
    .expect("signed in")
}

#[tokio::test]
async fn every_use_rotates_and_a_replay_within_the_grace_window_gets_the_same_child() {
    let t = TestApp::new().await;
    let first = signed_in(&t).await;
    let second = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .expect("rotated");
    assert_ne!(second.refresh_token, first.refresh_token);
    t.clock.advance(10);
    let again = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .expect("a duplicate within 10 s");
    assert_eq!(
        again.refresh_token, second.refresh_token,
        "the family stays one chain"
    );
    let third = refresh(&t.app, exchange(&second.refresh_token))
        .await
        .expect("the child rotates");
    assert_eq!(third.refresh_expires_in, first.refresh_expires_in - 10);
}

#[tokio::test]
async fn the_grace_window_is_measured_in_milliseconds_from_the_first_refresh_s_arrival() {
    let t = TestApp::new().await;
    let first = signed_in(&t).await;
    // The rotation arrives on a whole second, so seconds and milliseconds disagree below.
    t.clock.advance_ms(1000 - t.clock.now_ms().rem_euclid(1000));
    let second = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .expect("rotated");
    t.clock.advance_ms(9_999);
    let again = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .expect("a duplicate 9.999 s later");
    assert_eq!(again.refresh_token, second.refresh_token);
    t.clock.advance_ms(501);
    assert_eq!(
        code(refresh(&t.app, exchange(&first.refresh_token)).await),
        "invalid_grant",
        "10.5 s after the first refresh arrived is a reuse"
    );
    assert_eq!(
        code(refresh(&t.app, exchange(&second.refresh_token)).await),
        "invalid_grant",
        "a reuse ends the family"
    );
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_family() {
    let t = TestApp::new().await;
    let first = signed_in(&t).await;
    let second = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .unwrap();
    t.clock.advance(11);
    assert_eq!(
        code(refresh(&t.app, exchange(&first.refresh_token)).await),
        "invalid_grant"
    );
    assert_eq!(
        code(refresh(&t.app, exchange(&second.refresh_token)).await),
        "invalid_grant",
        "the newest token dies with its family"
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_get_the_same_child_and_the_family_survives() {
    let t = TestApp::new().await;
    let first = signed_in(&t).await;
    let attempts = (0..10).map(|_| refresh(&t.app, exchange(&first.refresh_token)));
    let results = futures::future::join_all(attempts).await;
    let children: std::collections::HashSet<String> = results
        .into_iter()
        .map(|r| r.expect("every concurrent refresh succeeds").refresh_token)
        .collect();
    assert_eq!(children.len(), 1);
    let child = children.into_iter().next().unwrap();
    refresh(&t.app, exchange(&child))
        .await
        .expect("the family survives");
}

#[tokio::test]
async fn logout_revokes_the_family_and_ignores_unknown_tokens() {
    let t = TestApp::new().await;
    let first = signed_in(&t).await;
    let second = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .unwrap();
    logout(
        &t.app,
        LogoutRequest::for_refresh_token(first.refresh_token.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        code(refresh(&t.app, exchange(&second.refresh_token)).await),
        "invalid_grant"
    );
    logout(&t.app, LogoutRequest::for_refresh_token("A".repeat(43)))
        .await
        .expect("unknown is fine");
    logout(&t.app, LogoutRequest::for_refresh_token("short"))
        .await
        .expect("malformed is fine");
}

#[tokio::test]
async fn a_family_ends_30_days_after_sign_in_however_often_it_rotates() {
    let t = TestApp::new().await;
    let mut pair = signed_in(&t).await;
    for _ in 0..3 {
        t.clock.advance(10 * 24 * 3600 - 1);
        pair = refresh(&t.app, exchange(&pair.refresh_token))
            .await
            .expect("within 30 days");
    }
    assert_eq!(pair.refresh_expires_in, 3);
    t.clock.advance(3);
    assert_eq!(
        code(refresh(&t.app, exchange(&pair.refresh_token)).await),
        "invalid_grant"
    );
}

#[tokio::test]
async fn malformed_and_unknown_tokens_and_other_grants_are_refused() {
    let t = TestApp::new().await;
    assert_eq!(
        code(refresh(&t.app, exchange("short")).await),
        "invalid_grant"
    );
    assert_eq!(
        code(refresh(&t.app, exchange(&"A".repeat(43))).await),
        "invalid_grant"
    );
    let pair = signed_in(&t).await;
    let mut password = exchange(&pair.refresh_token);
    password.grant_type = Some("password".into());
    assert_eq!(
        code(refresh(&t.app, password).await),
        "unsupported_grant_type"
    );
}

#[tokio::test]
async fn access_tokens_say_how_and_when_the_user_signed_in_and_refreshes_keep_it() {
    let t = TestApp::new().await;
    let signed_in_at = t.clock.now();
    let first = signed_in(&t).await;
    let pwd = (vec!["pwd".to_owned()], Some(signed_in_at));
    assert_eq!(signed_in_by(&t, &first.access_token), pwd);
    t.clock.advance(600);
    let second = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .expect("rotated");
    assert_eq!(
        signed_in_by(&t, &second.access_token),
        pwd,
        "a refresh is not a sign-in"
    );
    // A replay within the grace window answers from the token's own copy.
    t.clock.advance(5);
    let again = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .expect("a duplicate");
    assert_eq!(signed_in_by(&t, &again.access_token), pwd);
}

#[tokio::test]
async fn access_tokens_carry_the_contract_claims_and_expire() {
    let t = TestApp::new().await;
    let pair = signed_in(&t).await;
    let config = &t.app.config();
    let claims = verify(
        &pair.access_token,
        &published_keys(),
        &config.issuer,
        &config.audience,
    )
    .expect("verifies");
    assert_eq!(claims.iss, config.issuer);
    assert_eq!(claims.aud, config.audience);
    assert_eq!(claims.exp - claims.iat, 15 * 60);

    // Signed with the real key, but 16 minutes ago.
    let stale = t
        .app
        .signer()
        .await
        .unwrap()
        .sign(
            &claims.sub,
            &claims.sid,
            &auth_shared::crypto::SignedIn::password(t.clock.now() - 16 * 60),
            t.clock.now() - 16 * 60,
        )
        .unwrap();
    let err = verify(&stale, &published_keys(), &config.issuer, &config.audience).unwrap_err();
    assert!(err.contains("Expired"), "{err}");
}

#[tokio::test]
async fn a_duplicate_refresh_after_logout_is_refused_even_within_the_grace_window() {
    let t = TestApp::new().await;
    let first = signed_in(&t).await;
    let second = refresh(&t.app, exchange(&first.refresh_token))
        .await
        .unwrap();
    logout(
        &t.app,
        LogoutRequest::for_refresh_token(second.refresh_token),
    )
    .await
    .unwrap();
    assert_eq!(
        code(refresh(&t.app, exchange(&first.refresh_token)).await),
        "invalid_grant"
    );
}
