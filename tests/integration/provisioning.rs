//! Other services answer back: acknowledgements recorded on the account (idempotent, racing,
//! unknown users and services dropped), `GET /me`'s provisioning, the sweeper's count of the
//! unacknowledged from the timeline index, and the events about sessions, passwords and
//! identifiers written with the changes they announce.

use auth_shared::events::{USER_PASSWORD_CHANGED, USER_SESSIONS_REVOKED, UserEvent, rfc3339};
use auth_shared::ops::Base as _;
use auth_shared::ops::account::me;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::login::login;
use auth_shared::ops::password::{ChangeRequest, change};
use auth_shared::ops::session::{TokenPair, revoke_all};
use auth_shared::provisioning::{
    AWAITING, Ack, AckStatus, Awaiting, Recorded, TIMELINE_INDEX, record, unacknowledged,
};
use auth_shared::store::{UserItem, keys};
use auth_tests::TestApp;
use auth_tests::events::pending_events_of;

use crate::signin::{by_email_login, verified_email};

const PASSWORD: &str = "correct horse battery staple";

fn services() -> Vec<String> {
    vec!["social".to_owned(), "blog".to_owned()]
}

fn ack(service: &str, user_id: &str, status: AckStatus) -> Ack {
    Ack {
        service: service.to_owned(),
        user_id: user_id.to_owned(),
        event_id: uuid::Uuid::new_v4().to_string(),
        status,
        detail: None,
    }
}

async fn signed_in(t: &TestApp) -> (String, TokenPair) {
    let email = verified_email(t).await;
    let pair = login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("signed in");
    (email, pair)
}

async fn profile(t: &TestApp, user_id: &str) -> UserItem {
    t.app
        .store()
        .get(&keys::user(user_id), keys::PROFILE)
        .await
        .unwrap()
        .expect("the account")
}

async fn provisioning_of(t: &TestApp, pair: &TokenPair) -> Vec<(String, String)> {
    let caller = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap();
    me(&caller, &services())
        .unwrap()
        .provisioning
        .into_iter()
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn acknowledgements_move_each_service_from_pending_to_created_and_never_back() {
    let t = TestApp::new().await;
    let (_, pair) = signed_in(&t).await;
    let user_id = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap()
        .user
        .user_id;
    let store = t.app.store();
    assert_eq!(
        profile(&t, &user_id).await.timeline.as_deref(),
        Some(AWAITING)
    );
    assert_eq!(
        provisioning_of(&t, &pair).await,
        pairs(&[("blog", "pending"), ("social", "pending")])
    );

    // Blog fails first, then makes it; social makes it at once.
    let failed = ack("blog", &user_id, AckStatus::Failed);
    assert_eq!(
        record(store, &services(), &failed).await.unwrap(),
        Recorded::Recorded
    );
    assert_eq!(
        provisioning_of(&t, &pair).await,
        pairs(&[("blog", "failed"), ("social", "pending")])
    );
    let social = ack("social", &user_id, AckStatus::Created);
    assert_eq!(
        record(store, &services(), &social).await.unwrap(),
        Recorded::Recorded
    );
    assert_eq!(
        profile(&t, &user_id).await.timeline.as_deref(),
        Some(AWAITING)
    );
    let blog = ack("blog", &user_id, AckStatus::Created);
    assert_eq!(
        record(store, &services(), &blog).await.unwrap(),
        Recorded::Recorded
    );
    assert_eq!(
        provisioning_of(&t, &pair).await,
        pairs(&[("blog", "created"), ("social", "created")])
    );
    // Every service said created: the account leaves the index the sweeper counts.
    assert_eq!(profile(&t, &user_id).await.timeline, None);

    // A duplicate, and a late failure, change nothing.
    assert_eq!(
        record(store, &services(), &blog).await.unwrap(),
        Recorded::AlreadyCreated
    );
    assert_eq!(
        record(store, &services(), &failed).await.unwrap(),
        Recorded::AlreadyCreated
    );
    assert_eq!(
        provisioning_of(&t, &pair).await,
        pairs(&[("blog", "created"), ("social", "created")])
    );
}

#[tokio::test]
async fn acknowledgements_for_unknown_users_or_services_are_dropped() {
    let t = TestApp::new().await;
    let store = t.app.store();
    let nobody = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        record(
            store,
            &services(),
            &ack("blog", &nobody, AckStatus::Created)
        )
        .await
        .unwrap(),
        Recorded::UnknownUser
    );
    assert_eq!(
        record(
            store,
            &services(),
            &ack("blog", "not-a-user-id", AckStatus::Created)
        )
        .await
        .unwrap(),
        Recorded::UnknownUser
    );
    // Nothing was made for the unknown user.
    assert!(
        store
            .get::<UserItem>(&keys::user(&nobody), keys::PROFILE)
            .await
            .unwrap()
            .is_none()
    );
    let (_, pair) = signed_in(&t).await;
    let user_id = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap()
        .user
        .user_id;
    assert_eq!(
        record(
            store,
            &services(),
            &ack("search", &user_id, AckStatus::Created)
        )
        .await
        .unwrap(),
        Recorded::UnknownService
    );
    assert!(profile(&t, &user_id).await.provisioning.is_empty());
}

#[tokio::test]
async fn acknowledgements_racing_each_other_are_all_recorded() {
    let t = TestApp::new().await;
    let (_, pair) = signed_in(&t).await;
    let user_id = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap()
        .user
        .user_id;
    let store = t.app.store();
    // Both services at once (the first makes the map, the other must not overwrite it), each
    // delivered three times, plus late failures.
    let mut racing = Vec::new();
    for _ in 0..3 {
        for service in ["social", "blog"] {
            let created = ack(service, &user_id, AckStatus::Created);
            racing.push(tokio::spawn({
                let store = store.clone();
                async move { record(&store, &services(), &created).await.unwrap() }
            }));
        }
    }
    let failed = ack("blog", &user_id, AckStatus::Failed);
    racing.push(tokio::spawn({
        let store = store.clone();
        async move { record(&store, &services(), &failed).await.unwrap() }
    }));
    let outcomes: Vec<Recorded> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(outcomes.contains(&Recorded::Recorded));
    let account = profile(&t, &user_id).await;
    assert_eq!(
        account.provisioning.get("social").map(String::as_str),
        Some("created")
    );
    assert_eq!(
        account.provisioning.get("blog").map(String::as_str),
        Some("created")
    );
    assert_eq!(account.timeline, None);
}

#[tokio::test]
async fn the_sweeper_counts_per_service_the_users_not_acknowledged_in_time() {
    let t = TestApp::new().await;
    let store = t.app.store();
    // Three accounts made now; social acknowledges all three, blog one of them and fails
    // another.
    let mut users = Vec::new();
    for _ in 0..3 {
        let (_, pair) = signed_in(&t).await;
        users.push(
            authenticate(&t.app, Some(&pair.access_token))
                .await
                .unwrap()
                .user
                .user_id,
        );
    }
    for user in &users {
        record(store, &services(), &ack("social", user, AckStatus::Created))
            .await
            .unwrap();
    }
    record(
        store,
        &services(),
        &ack("blog", &users[0], AckStatus::Created),
    )
    .await
    .unwrap();
    record(
        store,
        &services(),
        &ack("blog", &users[1], AckStatus::Failed),
    )
    .await
    .unwrap();
    let lag = 300;
    let now = t.app.now();
    let counts = |at: i64, window: i64| {
        let store = store.clone();
        async move {
            unacknowledged(&store, &services(), at, lag, window)
                .await
                .unwrap()
        }
    };
    // Once the lag has passed: blog has not acknowledged two (one failed, one silent); the
    // counts are of the whole index, where other tests' accounts may wait too.
    let later = now + lag + 1;
    let late = counts(later, later - (now - 60)).await;
    assert!(late["blog"] >= 2, "{late:?}");
    // The index holds exactly the two of these accounts that still wait.
    let waiting: Vec<Awaiting> = store
        .query_index(TIMELINE_INDEX, "timeline", AWAITING)
        .await
        .unwrap();
    let waiting: Vec<&str> = waiting
        .iter()
        .map(|u| u.user_id.as_str())
        .filter(|id| users.iter().any(|u| u == id))
        .collect();
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(!waiting.contains(&users[0].as_str()));
}

fn types_of(events: &[UserEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

#[tokio::test]
async fn a_password_change_announces_itself_and_when_sessions_ended() {
    let t = TestApp::new().await;
    let (_, pair) = signed_in(&t).await;
    let caller = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap();
    let user_id = caller.user.user_id.clone();
    t.clock.advance(42);
    let changed_at = t.app.now();
    change(
        &t.app,
        &caller,
        ChangeRequest {
            current_password: PASSWORD.to_owned(),
            password: "a whole new passphrase".to_owned(),
            repeat_password: "a whole new passphrase".to_owned(),
            origin: Default::default(),
        },
    )
    .await
    .expect("changed");
    let events = pending_events_of(t.app.store(), &user_id).await;
    let types = types_of(&events);
    let tail = &types[types.len() - 2..];
    assert!(
        tail.contains(&USER_PASSWORD_CHANGED) && tail.contains(&USER_SESSIONS_REVOKED),
        "{types:?}"
    );
    let revoked = events
        .iter()
        .find(|e| e.event_type == USER_SESSIONS_REVOKED)
        .unwrap();
    assert_eq!(
        revoked.revoked_before.as_deref(),
        Some(rfc3339(changed_at).as_str())
    );
    let body = serde_json::to_value(revoked).unwrap();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "event_id",
            "occurred_at",
            "revoked_before",
            "type",
            "user_id",
            "version"
        ]
    );
}

#[tokio::test]
async fn signing_out_everywhere_announces_when_sessions_ended() {
    let t = TestApp::new().await;
    let (_, pair) = signed_in(&t).await;
    let caller = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap();
    t.clock.advance(7);
    let at = t.app.now();
    revoke_all(&t.app, &caller).await.unwrap();
    let events = pending_events_of(t.app.store(), &caller.user.user_id).await;
    let revoked: Vec<&UserEvent> = events
        .iter()
        .filter(|e| e.event_type == USER_SESSIONS_REVOKED)
        .collect();
    assert_eq!(revoked.len(), 1, "{events:?}");
    assert_eq!(
        revoked[0].revoked_before.as_deref(),
        Some(rfc3339(at).as_str())
    );
    // None of it is personal data.
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains('@'), "{all}");
}
