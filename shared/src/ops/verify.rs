//! What confirming a registration code and signing in with an OTP share: counting wrong
//! codes, and the writes that make an account verified.

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::AuthError;
use crate::domain::IdentifierKind;
use crate::events;
use crate::ops::App;
use crate::store::{Expr, UserItem, keys};

/// Counts a wrong code against the live code item `pk`/`sk`, unless another request changed
/// it since it was read (`false`: read it again).
pub async fn count_wrong_attempt(
    app: &App,
    pk: &str,
    sk: &str,
    digest: &str,
    seen: u32,
) -> Result<bool, AuthError> {
    app.store
        .update_if(
            pk,
            sk,
            Expr::new("SET #attempts = #attempts + :one").n(":one", 1),
            Expr::new("#digest = :digest AND #attempts = :seen AND #used = :no")
                .s(":digest", digest)
                .n(":seen", seen)
                .bool(":no", false),
        )
        .await
}

/// The identifier kind an account was registered with.
pub fn kind_of(user: &UserItem) -> Result<IdentifierKind, AuthError> {
    IdentifierKind::parse(&user.identifier_type)
        .ok_or_else(|| AuthError::internal("user item with an unknown identifier type"))
}

/// The identifier an account was registered with, as registered (codes go there).
pub fn stored_identifier(user: &UserItem) -> Result<crate::domain::Identifier, AuthError> {
    let address = Some(user.address.as_str());
    match kind_of(user)? {
        IdentifierKind::Email => crate::domain::Identifier::from_pair(address, None),
        IdentifierKind::Phone => crate::domain::Identifier::from_pair(None, address),
    }
}

/// The writes that verify `user`: the account and its claims stop expiring, and a
/// `user.verified` event is recorded. `condition` is what must still hold of the account for
/// the verification to count.
pub fn verify_account(
    app: &App,
    user: &UserItem,
    condition: Expr,
    now: i64,
) -> Result<Vec<TransactWriteItem>, AuthError> {
    let kind = kind_of(user)?;
    let mut items = vec![app.store.update(
        &user.pk,
        keys::PROFILE,
        Expr::new("SET #verified = :verified REMOVE #expires_at").bool(":verified", true),
        Some(condition),
    )?];
    // Verified accounts keep their identifier and username for good.
    let mut claims = vec![keys::identifier(kind, &user.identifier)];
    claims.extend(
        user.username
            .as_deref()
            .map(|u| keys::username(&u.to_ascii_lowercase())),
    );
    for claim in &claims {
        items.push(app.store.update(
            claim,
            keys::CLAIM,
            Expr::new("REMOVE #expires_at"),
            Some(Expr::new("#user_id = :uid").s(":uid", user.user_id.as_str())),
        )?);
    }
    items.push(events::outbox_put(
        &app.store,
        events::USER_VERIFIED,
        user,
        now,
    )?);
    Ok(items)
}
