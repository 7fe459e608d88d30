//! Other services answer back, over HTTP and through the local stack: the SocialService and
//! BlogService stand-ins acknowledge a new user (GET /me's provisioning goes from pending to
//! created for both), a silent service shows in the sweeper's lag figures (the lines its
//! metric filter reads), and a password change reaches a subscribed queue as
//! `user.sessions_revoked` with the time before which the old access tokens are void; a
//! replay (authctl events replay) reaches the one service it names.

use std::time::{Duration, Instant};

use auth_shared::events::{
    USER_CREATED, USER_PASSWORD_CHANGED, USER_SESSIONS_REVOKED, USER_VERIFIED, rfc3339,
};
use auth_shared::store::{Store, UserItem, keys};
use auth_tests::downstream::{fetch_jwks, verify};
use auth_tests::events::Subscriber;
use auth_tests::moto::Outbox;
use auth_tests::{required_env, unique_email};
use reqwest::Method;
use serde_json::{Value, json};

use crate::account::{account, call};
use crate::lambda::run;
use crate::{post_json, send};

const PATIENCE: Duration = Duration::from_secs(30);

fn unique_username(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

async fn provisioning(token: &str) -> Value {
    let (status, me) = call(Method::GET, "/me", token, None).await;
    assert_eq!(status, 200, "{me}");
    me["provisioning"].clone()
}

/// GET /me's provisioning once `done` holds of it, or the last one read after PATIENCE.
async fn provisioning_until(token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = provisioning(token).await;
        if done(&now) || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn stored(user_id: &str) -> UserItem {
    let sdk = auth_shared::aws::load_sdk_config().await;
    Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        required_env("TABLE_NAME"),
    )
    .get(&keys::user(user_id), keys::PROFILE)
    .await
    .unwrap()
    .expect("the account")
}

#[tokio::test]
async fn both_stand_ins_acknowledge_a_new_user_and_me_shows_it() {
    let started = Instant::now();
    let email = unique_email();
    let password = "correct horse battery staple";
    let (status, _, registered) = post_json(
        "/registration",
        json!({ "email": email, "password": password, "repeat_password": password,
                "username": unique_username("p") }),
    )
    .await;
    assert_eq!(status, 200, "{registered}");
    let user_id = registered["user_id"].as_str().unwrap().to_owned();
    // Right after the sign-up nobody has answered yet: the event has to travel the stream,
    // the topic and two queues first.
    let first = stored(&user_id).await;
    assert!(first.provisioning.is_empty(), "{:?}", first.provisioning);
    let code = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .unwrap();
    let (status, _, confirmed) =
        send(Method::PATCH, &format!("/registration/{code}"), None, None).await;
    assert_eq!(status, 200, "{confirmed}");
    let token = confirmed["access_token"].as_str().unwrap().to_owned();
    let done = provisioning_until(&token, |p| {
        p["social"] == "created" && p["blog"] == "created"
    })
    .await;
    assert_eq!(done, json!({ "social": "created", "blog": "created" }));
    eprintln!("provisioned by both in {:?}", started.elapsed());
    // Every service answered: the account left the index the sweeper counts.
    assert_eq!(stored(&user_id).await.timeline, None);
}

#[tokio::test]
async fn a_silent_service_shows_in_the_lag_figures_the_alarm_reads() {
    // The BlogService stand-in stays silent for this user (its username says so); the
    // SocialService one answers.
    let (_, user_id, token, _) = account(Some(&unique_username("silent_blog_"))).await;
    let social_done = provisioning_until(&token, |p| p["social"] == "created").await;
    assert_eq!(
        social_done,
        json!({ "social": "created", "blog": "pending" })
    );
    let lag: u64 = required_env("PROVISIONING_LAG_SECS").parse().unwrap();
    tokio::time::sleep(Duration::from_secs(lag + 1)).await;
    assert_eq!(provisioning(&token).await["blog"], "pending");
    let event = json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
    let sweep = run("outbox-sweeper", vec![event.to_string()]).await;
    let counts = &sweep.answers[0]["unacknowledged"];
    assert!(counts["blog"].as_u64() >= Some(1), "{}", sweep.answers[0]);
    // The lines the UnacknowledgedUsers metric filter turns into the metric and its alarm.
    let lines: Vec<Value> = sweep
        .output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["unacknowledged_service"].is_string())
        .collect();
    let blog = lines
        .iter()
        .find(|l| l["fields"]["unacknowledged_service"] == "blog")
        .unwrap_or_else(|| panic!("no lag line for blog in {}", sweep.output));
    assert!(
        blog["fields"]["unacknowledged"].as_u64() >= Some(1),
        "{blog}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["unacknowledged_service"] == "social"),
        "a line per service, zero included"
    );
    assert!(stored(&user_id).await.timeline.is_some());
}

#[tokio::test]
async fn a_password_change_tells_other_services_when_sessions_ended() {
    let queue = format!(
        "e2e-sessions-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let subscriber = Subscriber::named(
        &queue,
        Some(&[USER_PASSWORD_CHANGED, USER_SESSIONS_REVOKED]),
    )
    .await;
    let (_, user_id, old_token, _) = account(None).await;
    // A second apart, so the old token's iat is earlier than the change's second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (status, changed) = call(
        Method::POST,
        "/password/change",
        &old_token,
        Some(json!({
            "current_password": "correct horse battery staple",
            "password": "another horse battery staple",
            "repeat_password": "another horse battery staple",
        })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Both events, whichever comes first (reading the queue consumes what it reads).
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while Instant::now() < deadline && seen.len() < 2 {
        seen.extend(subscriber.received_for(&user_id).await);
        seen.dedup_by(|a, b| a.event_id == b.event_id);
    }
    let revoked = seen
        .iter()
        .find(|e| e.event_type == USER_SESSIONS_REVOKED)
        .cloned()
        .unwrap_or_else(|| panic!("user.sessions_revoked reaches a subscribed queue: {seen:?}"));
    assert!(
        seen.iter().any(|e| e.event_type == USER_PASSWORD_CHANGED),
        "user.password_changed too: {seen:?}"
    );
    let revoked_before = revoked.revoked_before.expect("revoked_before");
    assert!(
        (rfc3339(before)..=rfc3339(after)).contains(&revoked_before),
        "{revoked_before} not within the request ({before}..={after})"
    );
    assert_eq!(revoked.occurred_at, revoked_before);

    // What a downstream service does with it: the old access token still verifies by
    // signature and expiry, but was issued before revoked_before; the new one was not.
    let jwks = fetch_jwks(&required_env("API_URL")).await;
    let issuer = required_env("ISSUER");
    let audience = required_env("JWT_AUDIENCE");
    let old = verify(&old_token, &jwks, &issuer, &audience).expect("the old token verifies");
    let new_token = changed["access_token"].as_str().unwrap();
    let new = verify(new_token, &jwks, &issuer, &audience).expect("the new token verifies");
    assert!(rfc3339(old.iat) < revoked_before, "the old token is void");
    assert!(rfc3339(new.iat) >= revoked_before, "the new token is not");
    // This service's own routes refuse the old token at once.
    let (status, _) = call(Method::GET, "/me", &old_token, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_replay_reaches_the_one_service_it_names_with_the_original_event_ids() {
    let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let original = Subscriber::named(&format!("e2e-original-{id}"), Some(&[USER_CREATED])).await;
    let types = [USER_CREATED, USER_VERIFIED];
    let blog = Subscriber::to_replays(&format!("e2e-replay-blog-{id}"), "blog", &types).await;
    let social = Subscriber::to_replays(&format!("e2e-replay-social-{id}"), "social", &types).await;
    let (_, user_id, _, _) = account(None).await;
    let created = original
        .wait_for(&user_id, USER_CREATED, PATIENCE)
        .await
        .expect("user.created published");

    let (ok, result) =
        crate::operators::authctl(&["events", "replay", "--service", "blog", "--user", &user_id]);
    assert!(ok, "{result}");
    assert_eq!(result["service"], "blog");
    assert_eq!(
        result["replayed"], 2,
        "user.created and user.verified: {result}"
    );

    let again = blog
        .wait_for(&user_id, USER_CREATED, PATIENCE)
        .await
        .expect("the replay reaches BlogService's queue");
    assert_eq!(
        again.event_id, created.event_id,
        "consumers deduplicate by event_id"
    );
    // SocialService's replay subscription lets nothing through that was meant for blog.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(social.received_for(&user_id).await.is_empty());

    // A period instead of a user, and the mistakes an operator can make.
    let (ok, result) =
        crate::operators::authctl(&["events", "replay", "--service", "blog", "--since", "1m"]);
    assert!(ok && result["replayed"].as_u64() >= Some(2), "{result}");
    let (ok, failed) =
        crate::operators::authctl(&["events", "replay", "--service", "nobody", "--since", "1h"]);
    assert!(!ok);
    assert_eq!(failed["code"], "invalid_request", "{failed}");
    let (ok, failed) = crate::operators::authctl(&[
        "events",
        "replay",
        "--service",
        "blog",
        "--since",
        "yesterday-ish",
    ]);
    assert!(!ok);
    assert_eq!(failed["code"], "invalid_request", "{failed}");
}
