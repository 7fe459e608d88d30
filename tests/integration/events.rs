use auth_shared::ops::Base as _;
use std::collections::HashSet;
use std::sync::Arc;

use auth_shared::events::{Publisher, USER_CREATED, USER_VERIFIED, UserEvent};
use auth_shared::ops::confirm::confirm;
use auth_shared::ops::register::register;
use auth_shared::store::keys;
use auth_tests::events::{Subscriber, lambda_event, stream_records_for};
use auth_tests::moto::Outbox;
use auth_tests::{TestApp, closed_port, unique_email, unique_phone};
use lambda_runtime::{Context, LambdaEvent};

use crate::code;
use crate::registration::{by_email, by_phone};

fn publisher(t: &TestApp, sns: aws_sdk_sns::Client) -> Publisher {
    Publisher::new(
        t.app.store().clone(),
        sns,
        &auth_tests::required_env("USER_EVENTS_TOPIC_ARN"),
        Arc::new(t.clock.clone()),
    )
}

async fn live_sns() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&auth_shared::aws::load_sdk_config().await)
}

async fn dead_sns() -> aws_sdk_sns::Client {
    let sdk = auth_shared::aws::load_sdk_config().await;
    let config = aws_sdk_sns::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{}", closed_port()))
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// Hands every stream record about `user_id` to the stream consumer, as Lambda would.
async fn deliver_stream(publisher: &Publisher, user_id: &str) -> Vec<String> {
    let event = lambda_event(stream_records_for(user_id).await);
    let response =
        user_events::handle(publisher, LambdaEvent::new(event, Context::default())).await;
    response
        .batch_item_failures
        .into_iter()
        .filter_map(|f| f.item_identifier)
        .collect()
}

/// One event per `event_id`: delivery is at least once, and `event_id` deduplicates.
fn distinct(events: &[UserEvent]) -> Vec<UserEvent> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter(|e| seen.insert(e.event_id.clone()))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_registration_and_its_confirmation_reach_a_subscribed_queue_once_each() {
    let social = Subscriber::new(None).await;
    let blog = Subscriber::new(Some(&[USER_CREATED])).await;
    let t = TestApp::new().await;
    let email = unique_email();
    let mut request = by_email(&email);
    request.username = Some(format!(
        "u{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    let user_id = register(&t.app, request).await.unwrap().user_id;

    let publisher = publisher(&t, live_sns().await);
    assert!(deliver_stream(&publisher, &user_id).await.is_empty());
    let created = distinct(&social.received_for(&user_id).await);
    assert_eq!(created.len(), 1, "{created:?}");
    let event = &created[0];
    assert_eq!(
        (event.event_type.as_str(), event.version),
        (USER_CREATED, 1)
    );
    assert_eq!(event.identifier_type.as_deref(), Some("email"));
    assert!(event.username.is_some());
    assert!(event.occurred_at.ends_with('Z'));

    let link = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .unwrap();
    confirm(&t.app, &link, None, &crate::NO_ORIGIN)
        .await
        .unwrap();
    // The stream now also holds the confirmation; handing it all over again may republish
    // user.created (at least once), never a second distinct one.
    assert!(deliver_stream(&publisher, &user_id).await.is_empty());
    let later = distinct(&social.received_for(&user_id).await);
    let verified: Vec<_> = later
        .iter()
        .filter(|e| e.event_type == USER_VERIFIED)
        .collect();
    assert_eq!(verified.len(), 1, "{later:?}");
    assert!(
        later
            .iter()
            .all(|e| e.event_type == USER_VERIFIED || e.event_id == event.event_id)
    );

    // A subscription filtered on user.created never sees user.verified.
    let blog_events = blog.received_for(&user_id).await;
    assert!(!blog_events.is_empty());
    assert!(
        blog_events
            .iter()
            .all(|e| e.event_type == USER_CREATED && e.event_id == event.event_id)
    );
}

#[tokio::test]
async fn a_rolled_back_registration_announces_nothing() {
    let subscriber = Subscriber::new(None).await;
    let t = TestApp::with_dead_sns().await;
    let phone = unique_phone();
    assert_eq!(
        code(register(&t.app, by_phone(&phone)).await),
        "delivery_failed"
    );

    // The claim's stream record names the user id the rollback removed.
    let claim_pk = keys::identifier(auth_shared::domain::IdentifierKind::Phone, &phone);
    let claim_records = auth_tests::events::stream_records_with_key(&claim_pk).await;
    let user_id = claim_records
        .first()
        .and_then(|r| r["dynamodb"]["NewImage"]["user_id"]["S"].as_str())
        .expect("the claim was written, then rolled back")
        .to_owned();
    let records = stream_records_for(&user_id).await;
    assert!(!records.is_empty());
    assert!(
        records.iter().all(|r| !r["dynamodb"]["Keys"]["pk"]["S"]
            .as_str()
            .unwrap_or_default()
            .starts_with("OUTBOX#")),
        "no outbox item was ever written"
    );
    let publisher = publisher(&t, live_sns().await);
    assert!(deliver_stream(&publisher, &user_id).await.is_empty());
    assert!(subscriber.received_for(&user_id).await.is_empty());
}

#[tokio::test]
async fn a_failed_publish_is_a_batch_item_failure_and_the_sweeper_publishes_it_later() {
    let subscriber = Subscriber::new(Some(&[USER_CREATED])).await;
    let t = TestApp::new().await;
    let user_id = register(&t.app, by_email(&unique_email()))
        .await
        .unwrap()
        .user_id;

    let broken = publisher(&t, dead_sns().await);
    let failures = deliver_stream(&broken, &user_id).await;
    assert_eq!(failures.len(), 1, "the outbox record is reported failed");
    assert!(subscriber.received_for(&user_id).await.is_empty());

    // Pending, so the sweeper picks it up once it is old enough; with its original event_id.
    let sweeper = publisher(&t, live_sns().await);
    let outbox_records = stream_records_for(&user_id).await;
    let event_id = outbox_records
        .iter()
        .find_map(|r| {
            r["dynamodb"]["NewImage"]["event_id"]["S"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("the outbox item");
    sweeper
        .sweep(outbox_sweeper::MIN_AGE_SECS, 10_000)
        .await
        .expect("the sweep runs");
    assert!(
        subscriber.received_for(&user_id).await.is_empty(),
        "too young for the sweeper"
    );
    t.clock.advance(outbox_sweeper::MIN_AGE_SECS);
    sweeper
        .sweep(outbox_sweeper::MIN_AGE_SECS, 10_000)
        .await
        .expect("the sweep runs");
    let received = distinct(&subscriber.received_for(&user_id).await);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event_id, event_id);
}
