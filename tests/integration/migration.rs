//! Lazy migration from a Cognito user pool, against moto's Cognito user pools: a user the
//! pool knows signs in here with their pool password (and the account is made, verified as the
//! pool says, `user.created` saying `migrated`), a forgot-password request migrates them
//! without a password, and neither a user unknown to the pool nor a wrong pool password gets
//! any other answer than an unknown identifier does.

use auth_shared::events::{OutboxItem, PENDING_INDEX};
use auth_shared::ops::Base as _;
use auth_shared::ops::login::login;
use auth_shared::store::{ClaimItem, UserItem, keys};
use auth_tests::cognito::{POOL_PASSWORD, pool, pool_user};
use auth_tests::moto::Outbox;
use auth_tests::{TestApp, config_with, unique_email};

use crate::code;
use crate::signin::by_email_login;

async fn migrating() -> (TestApp, aws_sdk_cognitoidentityprovider::Client, String) {
    let (cognito, pool_id, client_id) = pool().await;
    let t = TestApp::with_config(config_with(&[
        ("COGNITO_USER_POOL_ID", &pool_id),
        ("COGNITO_CLIENT_ID", &client_id),
    ]))
    .await;
    (t, cognito, pool_id)
}

async fn account_of(t: &TestApp, email: &str) -> Option<UserItem> {
    let claim: Option<ClaimItem> = t
        .app
        .store()
        .get(
            &keys::identifier(auth_shared::domain::IdentifierKind::Email, email),
            keys::CLAIM,
        )
        .await
        .unwrap();
    let claim = claim?;
    t.app
        .store()
        .get(&keys::user(&claim.user_id), keys::PROFILE)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pool_user_signs_in_with_their_pool_password_and_is_migrated() {
    let (t, cognito, pool_id) = migrating().await;
    let email = unique_email();
    pool_user(&cognito, &pool_id, &email, true).await;
    assert!(account_of(&t, &email).await.is_none());

    login(&t.app, by_email_login(&email, POOL_PASSWORD))
        .await
        .expect("the pool's password signs in");
    let user = account_of(&t, &email).await.expect("migrated");
    assert!(user.verified);
    assert!(user.password_hash.starts_with("$argon2id$"), "hashed here");
    assert!(!user.no_password);
    let events: Vec<OutboxItem> = t
        .app
        .store()
        .query_index(PENDING_INDEX, "outbox_pending", "PENDING")
        .await
        .unwrap();
    let created = events
        .iter()
        .find(|e| e.user_id == user.user_id)
        .expect("user.created");
    let event = created.event().unwrap();
    assert_eq!(event.event_type, "user.created");
    assert!(event.migrated && !event.imported);

    // From now on the account here answers: the pool is not needed, and a wrong password is
    // refused as for any account.
    login(&t.app, by_email_login(&email, POOL_PASSWORD))
        .await
        .expect("signs in again");
    assert_eq!(
        code(login(&t.app, by_email_login(&email, "a wrong password")).await),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn neither_an_unknown_user_nor_a_wrong_pool_password_tells_what_the_pool_knows() {
    let (t, cognito, pool_id) = migrating().await;
    let known = unique_email();
    pool_user(&cognito, &pool_id, &known, true).await;
    let wrong = login(&t.app, by_email_login(&known, "not the pool password")).await;
    let unknown = login(&t.app, by_email_login(&unique_email(), POOL_PASSWORD)).await;
    assert_eq!(code(wrong), "invalid_credentials");
    assert_eq!(code(unknown), "invalid_credentials");
    assert!(account_of(&t, &known).await.is_none(), "nothing migrated");
}

#[tokio::test]
async fn an_unverified_pool_user_is_migrated_unverified_and_asked_for_a_code() {
    let (t, cognito, pool_id) = migrating().await;
    let email = unique_email();
    pool_user(&cognito, &pool_id, &email, false).await;
    assert_eq!(
        code(login(&t.app, by_email_login(&email, POOL_PASSWORD)).await),
        "verification_required"
    );
    let user = account_of(&t, &email).await.expect("migrated");
    assert!(!user.verified);
    assert_eq!(user.expires_at, None, "a migrated account never expires");
}

#[tokio::test]
async fn a_forgot_password_for_a_pool_user_migrates_them_without_a_password_and_sends_the_reset() {
    let (t, cognito, pool_id) = migrating().await;
    let email = unique_email();
    pool_user(&cognito, &pool_id, &email, true).await;
    crate::recovery::forgot(
        &t.app,
        auth_shared::ops::password::ForgotRequest {
            email: Some(email.clone()),
            phone: None,
            origin: Default::default(),
        },
    )
    .await
    .unwrap();
    let user = account_of(&t, &email).await.expect("migrated");
    assert!(user.no_password);
    assert!(user.verified);
    assert!(
        !Outbox::fetch().await.emails_to(&email).is_empty(),
        "the reset link went out"
    );
    // Nobody knows its password yet: the pool's does not sign in here any more.
    assert_eq!(
        code(login(&t.app, by_email_login(&email, POOL_PASSWORD)).await),
        "invalid_credentials"
    );
}
