//! Lazy migration from a Cognito user pool (see `crate::migration`): the account of a user
//! the pool knows is made here at their first sign-in (with the password they signed in
//! with, hashed by the service) or at their first password reset (without a password, which
//! the reset sets). Off unless the pool is configured.

use crate::AuthError;
use crate::crypto;
use crate::domain::{Identifier, Password};
use crate::ops::{Base, Hashes};
use crate::store::{UserItem, keys};

/// A sign-in's identifier that no account holds, and its password: the account migrated
/// from the pool when the pool takes the password, or `None` (the usual answer follows).
pub(crate) async fn on_sign_in(
    app: &impl Hashes,
    identifier: &Identifier,
    password: &Password,
) -> Result<Option<UserItem>, AuthError> {
    let Some(pool) = app.cognito() else {
        return Ok(None);
    };
    let known = match pool.authenticate(identifier, password.expose()).await {
        Ok(known) => known,
        // The pool unreachable is no answer about the user: the usual refusal, and the log.
        Err(error) => {
            tracing::error!(%error, "the Cognito user pool could not be asked; no migration");
            return Ok(None);
        }
    };
    let Some(known) = known else {
        return Ok(None);
    };
    let hash = app.hasher().hash(password).await?;
    create(app, identifier, known.verified, hash, false).await
}

/// A forgot-password request's identifier that no account holds: the account migrated from
/// the pool, without a password, when the pool knows the user.
pub(crate) async fn on_forgot(
    app: &impl Base,
    identifier: &Identifier,
) -> Result<Option<UserItem>, AuthError> {
    let Some(pool) = app.cognito() else {
        return Ok(None);
    };
    let Some(known) = pool.find(identifier).await? else {
        return Ok(None);
    };
    create(
        app,
        identifier,
        known.verified,
        crypto::password::unusable_hash()?,
        true,
    )
    .await
}

async fn create(
    app: &impl Base,
    identifier: &Identifier,
    verified: bool,
    password_hash: String,
    no_password: bool,
) -> Result<Option<UserItem>, AuthError> {
    let now = app.now();
    let user_id = uuid::Uuid::new_v4().to_string();
    let user = UserItem {
        verified,
        no_password,
        ..UserItem::new(
            &user_id,
            identifier,
            password_hash,
            now,
            app.config().awaiting(),
        )
    };
    let claims = [keys::identifier(identifier.kind(), identifier.normalized())];
    match app
        .store()
        .create_imported_account(&user, &claims, now, true)
        .await?
    {
        crate::store::Imported::Created => {
            tracing::info!(user_id = %user.user_id, "account migrated from the Cognito user pool");
            Ok(Some(user))
        }
        // Someone registered the identifier meanwhile, or a twin request migrated it: the
        // usual path decides on what is there now.
        _ => Ok(None),
    }
}
