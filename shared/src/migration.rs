//! Lazy migration from a Cognito user pool, whose password hashes cannot be exported: a
//! sign-in for an identifier no account holds asks the pool (`AdminInitiateAuth` with
//! `ADMIN_USER_PASSWORD_AUTH`, the identifier as the user name, which the pool must accept as
//! its user name or an alias); when the pool takes the password, the account is created here
//! with that password hashed by the service (verified as the pool says) and `user.created`
//! says `"migrated": true`. A forgot-password request for such an identifier asks the pool
//! whether it knows the user (`AdminGetUser`) and migrates it without a password, so the
//! reset sets one. Any refusal of the pool is the usual answer: nothing tells whether it
//! knew the user.

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType};

use crate::AuthError;
use crate::config::CognitoPool;
use crate::domain::{Identifier, IdentifierKind};

/// The pool's API, for one configured pool and app client.
pub struct Cognito {
    client: Client,
    pool: CognitoPool,
}

/// What the pool says of a user it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUser {
    /// `email_verified` or `phone_number_verified`, for the identifier asked about.
    pub verified: bool,
}

impl Cognito {
    pub fn new(sdk: &SdkConfig, pool: CognitoPool) -> Self {
        Self {
            client: Client::new(sdk),
            pool,
        }
    }

    /// Whether the pool takes `password` for `identifier`: the user as the pool knows them,
    /// or `None` for any refusal (unknown user, wrong password, a user who must change their
    /// password or answer a challenge first, a disabled user).
    pub async fn authenticate(
        &self,
        identifier: &Identifier,
        password: &str,
    ) -> Result<Option<PoolUser>, AuthError> {
        use aws_sdk_cognitoidentityprovider::operation::admin_initiate_auth::AdminInitiateAuthError as E;
        let answer = self
            .client
            .admin_initiate_auth()
            .user_pool_id(&self.pool.user_pool_id)
            .client_id(&self.pool.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", identifier.normalized())
            .auth_parameters("PASSWORD", password)
            .send()
            .await;
        match answer {
            // Tokens: the password is the pool's. A challenge (a new password required, MFA)
            // is not a migration: the user signs in at the pool's app until it is settled.
            Ok(out) if out.authentication_result.is_some() => self.find(identifier).await,
            Ok(_) => Ok(None),
            Err(error) => match error.as_service_error() {
                Some(
                    E::NotAuthorizedException(_)
                    | E::UserNotFoundException(_)
                    | E::UserNotConfirmedException(_)
                    | E::PasswordResetRequiredException(_),
                ) => Ok(None),
                _ => Err(AuthError::internal(format!(
                    "the Cognito user pool could not be asked: {}",
                    aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&error)
                ))),
            },
        }
    }

    /// The user the pool holds under `identifier`, if an enabled one.
    pub async fn find(&self, identifier: &Identifier) -> Result<Option<PoolUser>, AuthError> {
        use aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserError as E;
        let answer = self
            .client
            .admin_get_user()
            .user_pool_id(&self.pool.user_pool_id)
            .username(identifier.normalized())
            .send()
            .await;
        match answer {
            Ok(user) if user.enabled => {
                let flag = match identifier.kind() {
                    IdentifierKind::Email => "email_verified",
                    IdentifierKind::Phone => "phone_number_verified",
                };
                let verified = attribute(user.user_attributes(), flag) == Some("true");
                Ok(Some(PoolUser { verified }))
            }
            Ok(_) => Ok(None),
            Err(error) => match error.as_service_error() {
                Some(E::UserNotFoundException(_)) => Ok(None),
                _ => Err(AuthError::internal(format!(
                    "the Cognito user pool could not be asked: {}",
                    aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&error)
                ))),
            },
        }
    }
}

fn attribute<'a>(attributes: &'a [AttributeType], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name() == name)
        .and_then(|a| a.value())
}
