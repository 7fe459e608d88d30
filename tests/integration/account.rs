//! The account's own lifecycle: the profile, changing the identifier, deleting the account,
//! and the sweeper deleting accounts left unverified, each against DynamoDB Local and moto
//! with a clock the tests move.

use auth_shared::AuthError;
use auth_shared::events::{DeletionReason, OutboxItem, PENDING_INDEX, USER_DELETED, USER_VERIFIED};
use auth_shared::ops::Base as _;
use auth_shared::ops::account::{
    ChangeConfirmBody, DeleteRequest, IdentifierChangeRequest, confirm_identifier_change,
    delete_account, expire_unverified, me, request_identifier_change,
};
use auth_shared::ops::bearer::{Caller, authenticate};
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::confirm::confirm;
use auth_shared::ops::login::{LoginRequest, login};
use auth_shared::ops::register::register;
use auth_shared::ops::session::{TokenPair, refresh};
use auth_shared::store::{UserItem, keys};
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{TestApp, config_with, unique_email, unique_phone};

use crate::code;
use crate::confirmation::registered_email;
use crate::registration::{by_email, by_phone};
use crate::sessions::exchange;

const PASSWORD: &str = "correct horse battery staple";

fn sign_in(email: Option<&str>, phone: Option<&str>) -> LoginRequest {
    LoginRequest {
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        password: PASSWORD.to_owned(),
        origin: Origin::default(),
    }
}

fn to_email(email: &str, password: &str) -> IdentifierChangeRequest {
    IdentifierChangeRequest {
        email: Some(email.to_owned()),
        phone: None,
        password: password.to_owned(),
        origin: Origin::default(),
    }
}

async fn caller(t: &TestApp, pair: &TokenPair) -> Caller {
    authenticate(&t.app, Some(&pair.access_token))
        .await
        .expect("a live session")
}

/// A verified email account (optionally with a username), signed in.
async fn signed_in(t: &TestApp, username: Option<&str>) -> (String, TokenPair) {
    let email = unique_email();
    let mut request = by_email(&email);
    request.username = username.map(str::to_owned);
    register(&t.app, request).await.expect("registered");
    let link = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .unwrap();
    let confirmed = confirm(&t.app, &link, None, &crate::NO_ORIGIN)
        .await
        .expect("confirmed");
    (email, confirmed.tokens)
}

async fn last_change_link(email: &str) -> String {
    Outbox::fetch()
        .await
        .emails_to(email)
        .last()
        .and_then(|m| m.change_code())
        .expect("a link to confirm the new address")
}

pub async fn profile(t: &TestApp, user_id: &str) -> Option<UserItem> {
    t.app
        .store()
        .get(&keys::user(user_id), keys::PROFILE)
        .await
        .unwrap()
}

/// The user events still waiting in the outbox for `user_id`.
/// The reasons of the `user.deleted` events still waiting in the outbox for `user_id`.
pub async fn deletion_reasons(t: &TestApp, user_id: &str) -> Vec<Option<DeletionReason>> {
    pending_events(t, user_id)
        .await
        .into_iter()
        .filter(|e| e.event_type == USER_DELETED)
        .map(|e| e.event().unwrap().reason)
        .collect()
}

pub async fn pending_events(t: &TestApp, user_id: &str) -> Vec<OutboxItem> {
    let items: Vec<OutboxItem> = t
        .app
        .store()
        .query_index_up_to(
            PENDING_INDEX,
            "outbox_pending",
            "PENDING",
            "pending_since",
            i64::MAX / 2,
            usize::MAX,
        )
        .await
        .unwrap();
    items.into_iter().filter(|i| i.user_id == user_id).collect()
}

#[tokio::test]
async fn me_shows_the_account_and_never_a_secret() {
    let t = TestApp::new().await;
    let name = format!("me{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (email, pair) = signed_in(&t, Some(&name)).await;
    let shown = me(&caller(&t, &pair).await, &[]).unwrap();
    assert_eq!(shown.email.as_deref(), Some(email.as_str()));
    assert_eq!(shown.phone, None);
    assert_eq!(shown.username.as_deref(), Some(name.as_str()));
    assert!(shown.verified);
    let json = serde_json::to_string(&shown).unwrap();
    // No hash and no password: only whether the account has one.
    assert!(
        !json.contains("argon2")
            && !json.contains("password_hash")
            && !json.contains("\"password\""),
        "{json}"
    );
    assert!(json.contains("\"has_password\":true"), "{json}");
}

#[tokio::test]
async fn changing_the_email_moves_sign_in_to_the_new_address_and_tells_the_old_one() {
    let t = TestApp::new().await;
    let (old, pair) = signed_in(&t, None).await;
    let me_now = caller(&t, &pair).await;
    let new = unique_email();
    assert_eq!(
        code(request_identifier_change(&t.app, &me_now, to_email(&new, "wrong")).await),
        "invalid_credentials"
    );
    let requested = request_identifier_change(&t.app, &me_now, to_email(&new, PASSWORD))
        .await
        .expect("a code to the new address");
    assert_eq!(
        serde_json::to_value(&requested).unwrap()["channel"],
        "email"
    );
    // Until it is confirmed, the old address signs in and the new one does not.
    login(&t.app, sign_in(Some(&old), None)).await.expect("old");
    assert_eq!(
        code(login(&t.app, sign_in(Some(&new), None)).await),
        "invalid_credentials"
    );
    let link = last_change_link(&new).await;
    let changed = confirm_identifier_change(&t.app, &me_now, &link, None)
        .await
        .expect("changed");
    assert_eq!(changed.email.as_deref(), Some(new.as_str()));
    login(&t.app, sign_in(Some(&new), None)).await.expect("new");
    assert_eq!(
        code(login(&t.app, sign_in(Some(&old), None)).await),
        "invalid_credentials"
    );
    let notice = Outbox::fetch()
        .await
        .emails_to(&old)
        .last()
        .cloned()
        .unwrap();
    assert!(
        notice.html.contains("no longer signs in"),
        "{}",
        notice.html
    );
    // The old address is free for a new account (after its sending minute, which outlives
    // the change); the code does not work twice.
    t.clock.advance(61);
    register(&t.app, by_email(&old))
        .await
        .expect("old address free");
    assert_eq!(
        code(confirm_identifier_change(&t.app, &me_now, &link, None).await),
        "invalid_code"
    );
    assert_eq!(
        me(&caller(&t, &pair).await, &[]).unwrap().email.as_deref(),
        Some(new.as_str())
    );
}

#[tokio::test]
async fn an_email_account_can_move_to_a_phone() {
    let t = TestApp::new().await;
    let (old, pair) = signed_in(&t, None).await;
    let me_now = caller(&t, &pair).await;
    let phone = unique_phone();
    let request = IdentifierChangeRequest {
        email: None,
        phone: Some(phone.clone()),
        password: PASSWORD.to_owned(),
        origin: Origin::default(),
    };
    let requested = request_identifier_change(&t.app, &me_now, request)
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&requested).unwrap()["channel"], "sms");
    let sms = Outbox::fetch()
        .await
        .sms_to(&phone)
        .last()
        .cloned()
        .unwrap();
    let right = six_digits(&sms).unwrap();
    let body = || {
        Some(ChangeConfirmBody {
            phone: phone.clone(),
        })
    };
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert_eq!(
        code(confirm_identifier_change(&t.app, &me_now, wrong, body()).await),
        "invalid_code"
    );
    let changed = confirm_identifier_change(&t.app, &me_now, &right, body())
        .await
        .expect("the phone confirmed");
    assert_eq!(changed.phone.as_deref(), Some(phone.as_str()));
    assert_eq!(changed.email, None);
    login(&t.app, sign_in(None, Some(&phone)))
        .await
        .expect("signs in by phone");
    assert_eq!(
        code(login(&t.app, sign_in(Some(&old), None)).await),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn a_taken_identifier_is_user_exists_and_of_two_confirmations_one_wins() {
    let t = TestApp::new().await;
    let (taken, _) = signed_in(&t, None).await;
    let (mine, my_pair) = signed_in(&t, None).await;
    let (_, their_pair) = signed_in(&t, None).await;
    let me_now = caller(&t, &my_pair).await;
    let them = caller(&t, &their_pair).await;
    for held in [&taken, &mine] {
        assert_eq!(
            code(request_identifier_change(&t.app, &me_now, to_email(held, PASSWORD)).await),
            "user_exists"
        );
    }
    // Both ask for the same free address (a minute apart: one code a minute per address).
    let wanted = unique_email();
    request_identifier_change(&t.app, &me_now, to_email(&wanted, PASSWORD))
        .await
        .unwrap();
    let my_link = last_change_link(&wanted).await;
    t.clock.advance(61);
    request_identifier_change(&t.app, &them, to_email(&wanted, PASSWORD))
        .await
        .unwrap();
    let their_link = last_change_link(&wanted).await;
    assert_ne!(my_link, their_link);
    let (mine_done, theirs_done) = tokio::join!(
        confirm_identifier_change(&t.app, &me_now, &my_link, None),
        confirm_identifier_change(&t.app, &them, &their_link, None),
    );
    let outcomes = [mine_done.map(drop), theirs_done.map(drop)];
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    let loser = outcomes.into_iter().find_map(Result::err).unwrap();
    assert_eq!(loser.code(), "user_exists");
    // A link belongs to the account that asked for it.
    assert_eq!(
        code(confirm_identifier_change(&t.app, &them, &my_link, None).await),
        "invalid_code"
    );
}

#[tokio::test]
async fn deleting_the_account_ends_it_everywhere_and_frees_its_claims() {
    // Its own table: the event tests' sweeps would publish the pending user.deleted here.
    let t = own_table().await;
    let name = format!("del{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (email, pair) = signed_in(&t, Some(&name)).await;
    let me_now = caller(&t, &pair).await;
    let user_id = me_now.user.user_id.clone();
    let wrong = DeleteRequest {
        password: "wrong".into(),
    };
    assert_eq!(
        code(delete_account(&t.app, &me_now, wrong).await),
        "invalid_credentials"
    );
    delete_account(
        &t.app,
        &me_now,
        DeleteRequest {
            password: PASSWORD.into(),
        },
    )
    .await
    .expect("deleted");
    assert!(profile(&t, &user_id).await.is_none());
    assert_eq!(
        code(login(&t.app, sign_in(Some(&email), None)).await),
        "invalid_credentials"
    );
    assert_eq!(
        code(refresh(&t.app, exchange(&pair.refresh_token)).await),
        "invalid_grant"
    );
    assert_eq!(
        code(authenticate(&t.app, Some(&pair.access_token)).await),
        "invalid_token"
    );
    assert_eq!(
        deletion_reasons(&t, &user_id).await,
        [Some(DeletionReason::Deleted)]
    );
    // The identifier and the username are free again (the send counter outlives the
    // account, so the registration's minute still applies).
    t.clock.advance(61);
    let mut again = by_email(&email);
    again.username = Some(name.to_uppercase());
    let reborn = register(&t.app, again).await.expect("registered again");
    assert_ne!(reborn.user_id, user_id);
}

/// A table of this test's own: moving the sweep's clock 7 days on would otherwise expire
/// every other test's unverified accounts, and the event tests' sweeps would publish (and so
/// unlist) the pending events these tests look for.
async fn own_table() -> TestApp {
    let name = format!("auth-expiry-{}", uuid::Uuid::new_v4().simple());
    let sdk = auth_shared::aws::load_sdk_config().await;
    auth_tools::setup::ensure_table(&aws_sdk_dynamodb::Client::new(&sdk), &name)
        .await
        .expect("a table for the sweeper");
    TestApp::with_config(config_with(&[("TABLE_NAME", &name)])).await
}

const WEEK: i64 = 7 * 24 * 3600;

#[tokio::test]
async fn the_sweeper_deletes_unverified_accounts_after_7_days_and_announces_them() {
    let t = own_table().await;
    let (unverified, _) = registered_email(&t, &unique_email()).await;
    let phone = unique_phone();
    register(&t.app, by_phone(&phone)).await.unwrap();
    let (verified_email, verified_pair) = signed_in(&t, None).await;
    let verified_id = caller(&t, &verified_pair).await.user.user_id;

    let now = t.clock_now();
    assert_eq!(
        expire_unverified(t.app.store(), now + WEEK - 1, 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        expire_unverified(t.app.store(), now + WEEK, 100)
            .await
            .unwrap(),
        2
    );
    assert!(profile(&t, &unverified).await.is_none());
    let events = pending_events(&t, &unverified).await;
    let deleted: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == USER_DELETED)
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].event().unwrap().reason,
        Some(DeletionReason::Expired)
    );
    // A verified account is never touched, however late the sweep.
    assert_eq!(
        expire_unverified(t.app.store(), now + 100 * WEEK, 100)
            .await
            .unwrap(),
        0
    );
    assert!(profile(&t, &verified_id).await.is_some());
    t.clock.advance(WEEK);
    login(&t.app, sign_in(Some(&verified_email), None))
        .await
        .expect("still signs in");
    // The expired phone is free again.
    register(&t.app, by_phone(&phone))
        .await
        .expect("the phone is free");
}

#[tokio::test]
async fn a_confirmation_racing_the_sweeper_ends_in_exactly_one_event() {
    let t = own_table().await;
    for _ in 0..6 {
        let email = unique_email();
        let (user_id, link) = registered_email(&t, &email).await;
        let expires_at = profile(&t, &user_id).await.unwrap().expires_at.unwrap();
        // The confirmation still sees a second left; the sweep sees the expiry passed.
        let confirming = TestApp::with_config(config_with(&[(
            "TABLE_NAME",
            t.app.config().table_name.as_str(),
        )]))
        .await;
        confirming
            .clock
            .advance(expires_at - 1 - confirming.clock_now());
        let (confirmed, swept) = tokio::join!(
            confirm(&confirming.app, &link, None, &crate::NO_ORIGIN),
            expire_unverified(t.app.store(), expires_at + 1, 100),
        );
        swept.unwrap();
        let events = pending_events(&t, &user_id).await;
        let verified = events
            .iter()
            .filter(|e| e.event_type == USER_VERIFIED)
            .count();
        let deleted = events
            .iter()
            .filter(|e| e.event_type == USER_DELETED)
            .count();
        assert_eq!(verified + deleted, 1, "{confirmed:?} {events:?}");
        match profile(&t, &user_id).await {
            Some(user) => {
                assert!(user.verified && confirmed.is_ok() && verified == 1);
            }
            None => assert!(
                matches!(confirmed, Err(AuthError::InvalidCode)) && deleted == 1,
                "{confirmed:?}"
            ),
        }
    }
}

#[tokio::test]
async fn another_account_asking_for_the_same_phone_never_replaces_or_burns_my_code() {
    let t = TestApp::new().await;
    let (_, my_pair) = signed_in(&t, None).await;
    let (_, their_pair) = signed_in(&t, None).await;
    let me_now = caller(&t, &my_pair).await;
    let them = caller(&t, &their_pair).await;
    let phone = unique_phone();
    let to_phone = || IdentifierChangeRequest {
        email: None,
        phone: Some(phone.clone()),
        password: PASSWORD.to_owned(),
        origin: Origin::default(),
    };
    let body = || {
        Some(ChangeConfirmBody {
            phone: phone.clone(),
        })
    };
    request_identifier_change(&t.app, &me_now, to_phone())
        .await
        .unwrap();
    let mine = six_digits(Outbox::fetch().await.sms_to(&phone).last().unwrap()).unwrap();
    // Someone else asks for the same number (after its send minute) and guesses at it.
    t.clock.advance(61);
    request_identifier_change(&t.app, &them, to_phone())
        .await
        .unwrap();
    let theirs = six_digits(Outbox::fetch().await.sms_to(&phone).last().unwrap()).unwrap();
    let wrong = if mine == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let _ = confirm_identifier_change(&t.app, &them, wrong, body()).await;
    }
    // My code still works: it was neither replaced nor burned by their request or tries.
    let changed = confirm_identifier_change(&t.app, &me_now, &mine, body())
        .await
        .expect("my code confirms my change");
    assert_eq!(changed.phone.as_deref(), Some(phone.as_str()));
    assert_ne!(mine, theirs);
}
