//! `POST /registration/resend_code`: a new code replaces the last one and is sent.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::domain::{Channel, Identifier};
use crate::ops::budgets;
use crate::ops::codes;
use crate::ops::limits::SendSlot;
use crate::ops::{Delivers, Keyed};
use crate::ops::{MAX_ROUNDS, find_account, verify};
use crate::store::{CodeItem, TxOutcome, keys};

/// The body: the identifier whose code to resend.
pub use crate::ops::IdentifierRequest as ResendRequest;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resent {
    pub channel: Channel,
}

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn resend_code(
    app: &(impl Keyed + Delivers),
    request: ResendRequest,
) -> Result<Resent, AuthError> {
    let identifier = Identifier::from_pair(request.email.as_deref(), request.phone.as_deref())?;
    let claim_pk = keys::identifier(identifier.kind(), identifier.normalized());

    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let Some(user) = find_account(app, &claim_pk, now).await? else {
            return Err(budgets::revealing(app, &request.origin, AuthError::UserNotFound).await);
        };
        if user.verified {
            return Err(budgets::revealing(app, &request.origin, AuthError::AlreadyVerified).await);
        }
        let slot = SendSlot::take(app.store(), app.config(), &claim_pk, now).await?;
        budgets::take_send(app, &request.origin, identifier.kind().channel(), now).await?;
        // The code goes where the account's codes go: the address as registered.
        let recipient = verify::stored_identifier(&user)?;
        let issued =
            codes::issue(app, &recipient, &user.user_id, codes::Purpose::Confirm, now).await?;
        // An SMS code replaces the phone's code item in place: keep it to put it back if
        // the new one cannot be delivered.
        let replaced: Option<CodeItem> = match &user.code_pk {
            Some(pk) if *pk == issued.item.pk => app.store().get(pk, keys::CODE).await?,
            _ => None,
        };
        let items = vec![
            slot.write(app.store())?,
            app.store()
                .confirmation_code_issued(&user, &issued.item.pk, now)?,
            app.store().put(&issued.item, None)?,
        ];
        match app.store().transact(items).await? {
            TxOutcome::Committed => {
                tracing::Span::current().record("user_id", user.user_id.as_str());
                if let Err(err) = app.notifier().send(&issued.message).await {
                    // The new code never arrived: the previous one keeps working. The send
                    // still counts against the limit.
                    if let Err(restore) = app
                        .store()
                        .resend_undone(&user, &issued.item, replaced)
                        .await
                    {
                        tracing::error!(error = %restore, "could not restore the previous code");
                    }
                    return Err(AuthError::DeliveryFailed(err));
                }
                tracing::info!("confirmation code resent");
                return Ok(Resent {
                    channel: identifier.kind().channel(),
                });
            }
            TxOutcome::Cancelled(_) => continue,
        }
    }
    Err(AuthError::internal(
        "resend kept conflicting with concurrent writes",
    ))
}
