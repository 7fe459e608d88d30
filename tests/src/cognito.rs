//! A Cognito user pool in moto's Cognito user pools, for the migration tests.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, ExplicitAuthFlowsType, MessageActionType, UsernameAttributeType,
};

pub const POOL_PASSWORD: &str = "Pool-passw0rd!";

/// A user pool with email user names and an app client allowing the admin password flow.
pub async fn pool() -> (Client, String, String) {
    let sdk = auth_shared::aws::load_sdk_config().await;
    let cognito = Client::new(&sdk);
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("migration-{}", uuid::Uuid::new_v4().simple()))
        .username_attributes(UsernameAttributeType::Email)
        .send()
        .await
        .expect("moto's Cognito user pools");
    let pool_id = pool.user_pool.unwrap().id.unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("auth-service")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client.unwrap().client_id.unwrap();
    (cognito, pool_id, client_id)
}

pub async fn pool_user(cognito: &Client, pool_id: &str, email: &str, verified: bool) {
    let attribute = |name: &str, value: &str| {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .unwrap()
    };
    cognito
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(email)
        .user_attributes(attribute("email", email))
        .user_attributes(attribute(
            "email_verified",
            if verified { "true" } else { "false" },
        ))
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(email)
        .password(POOL_PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
}
