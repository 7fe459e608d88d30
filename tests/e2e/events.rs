//! The event pipeline of the local stack, seen from a subscribing service: a registration
//! over HTTP reaches SocialService's and BlogService's queues through the table's stream,
//! the `user-events` function (invoked as Lambda's event source mapping would) and the topic.

use std::time::Duration;

use auth_shared::events::{USER_CREATED, USER_VERIFIED};
use auth_tests::events::Subscriber;
use auth_tests::moto::Outbox;
use auth_tests::unique_email;
use auth_tools::setup::LOCAL_SUBSCRIBERS;
use reqwest::Method;

use crate::{post_json, registration, send};

const PATIENCE: Duration = Duration::from_secs(30);

async fn local_subscriber(name: &str) -> Subscriber {
    let (_, types) = LOCAL_SUBSCRIBERS
        .iter()
        .find(|(queue, _)| *queue == name)
        .expect("a local subscriber");
    Subscriber::named(name, Some(types)).await
}

#[tokio::test]
async fn a_registration_reaches_the_subscribed_services_and_its_confirmation_follows() {
    let social = local_subscriber("social-service-user-events").await;
    let blog = local_subscriber("blog-service-user-events").await;
    let email = unique_email();
    let username = format!("e{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut body = registration(("email", &email));
    body["username"] = username.clone().into();
    let (status, _, body) = post_json("/registration", body).await;
    assert_eq!(status, 200, "{body}");
    let user_id = body["user_id"].as_str().expect("a user id").to_owned();

    let created = social
        .wait_for(&user_id, USER_CREATED, PATIENCE)
        .await
        .expect("user.created reaches SocialService's queue");
    assert_eq!(created.version, 1);
    assert_eq!(created.identifier_type.as_deref(), Some("email"));
    assert_eq!(created.username.as_deref(), Some(username.as_str()));
    let blog_created = blog
        .wait_for(&user_id, USER_CREATED, PATIENCE)
        .await
        .expect("user.created reaches BlogService's queue");
    assert_eq!(blog_created.event_id, created.event_id);

    let code = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .expect("a confirmation link");
    let (status, _, body) = send(Method::PATCH, &format!("/registration/{code}"), None, None).await;
    assert_eq!(status, 200, "{body}");
    let verified = social
        .wait_for(&user_id, USER_VERIFIED, PATIENCE)
        .await
        .expect("user.verified reaches SocialService's queue");
    assert_ne!(verified.event_id, created.event_id);

    // BlogService's filter policy takes user.created only.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = blog.received_for(&user_id).await;
    assert!(
        later.iter().all(|e| e.event_type == USER_CREATED),
        "{later:?}"
    );
}
