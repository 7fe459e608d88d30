//! What confirming a registration code and signing in with an OTP share: counting wrong
//! codes, and the writes that make an account verified.

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::AuthError;
use crate::domain::IdentifierKind;
use crate::events;
use crate::ops::App;
use subtle::ConstantTimeEq;

use crate::store::{CodeItem, Expr, UserItem, keys};

/// What a presented code turned out to be.
pub enum Checked {
    /// The right code, live and not burned: spend it with [`spend_code`].
    Valid(CodeItem),
    /// Another request changed the code while this one looked at it: look again.
    Changed,
}

/// Finds the code item `pk`/`sk` and checks `presented` (its digest) against it. Unknown,
/// used or expired codes are `invalid_code`; a burned one is `too_many_attempts`; a wrong
/// one is counted against the live code and answers `invalid_code`.
pub async fn check_code(
    app: &App,
    pk: &str,
    sk: &str,
    presented: &str,
    now: i64,
) -> Result<Checked, AuthError> {
    let Some(code) = app.store.get::<CodeItem>(pk, sk).await? else {
        return Err(AuthError::InvalidCode);
    };
    if code.used || code.expires_at <= now {
        return Err(AuthError::InvalidCode);
    }
    if code.attempts >= app.config.max_code_attempts {
        return Err(AuthError::TooManyAttempts);
    }
    if bool::from(code.digest.as_bytes().ct_eq(presented.as_bytes())) {
        return Ok(Checked::Valid(code));
    }
    let counted = app
        .store
        .update_if(
            pk,
            sk,
            Expr::new("SET #attempts = #attempts + :one").n(":one", 1),
            Expr::new("#digest = :digest AND #attempts = :seen AND #used = :no")
                .s(":digest", code.digest.as_str())
                .n(":seen", code.attempts)
                .bool(":no", false),
        )
        .await?;
    if counted {
        Err(AuthError::InvalidCode)
    } else {
        Ok(Checked::Changed)
    }
}

/// The transaction item that spends a checked code, on the condition that it is still what
/// was checked: unused, unexpired, not burned.
pub fn spend_code(app: &App, code: &CodeItem, now: i64) -> Result<TransactWriteItem, AuthError> {
    app.store.update(
        &code.pk,
        &code.sk,
        Expr::new("SET #used = :yes").bool(":yes", true),
        Some(
            Expr::new(
                "#used = :no AND #digest = :digest AND #attempts < :max AND #expires_at > :now",
            )
            .bool(":no", false)
            .s(":digest", code.digest.as_str())
            .n(":max", app.config.max_code_attempts)
            .n(":now", now),
        ),
    )
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
