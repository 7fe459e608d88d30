//! `POST /registration/resend_code`: a new code replaces the last one and is sent.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::domain::{Channel, Identifier};
use crate::ops::codes;
use crate::ops::limits::SendSlot;
use crate::ops::{App, MAX_ROUNDS, find_account};
use crate::store::{Expr, TxOutcome, keys};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resent {
    pub channel: Channel,
}

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn resend_code(app: &App, request: ResendRequest) -> Result<Resent, AuthError> {
    let identifier = Identifier::from_pair(request.email.as_deref(), request.phone.as_deref())?;
    let claim_pk = keys::identifier(identifier.kind(), identifier.normalized());

    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let user = find_account(app, &claim_pk, now)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if user.verified {
            return Err(AuthError::AlreadyVerified);
        }
        let slot = SendSlot::take(&app.store, &app.config, &claim_pk, now).await?;
        let issued = codes::issue(app, &identifier, &user.user_id, now)?;
        let items = vec![
            slot.write(&app.store)?,
            app.store.update(
                &user.pk,
                keys::PROFILE,
                Expr::new("SET #code_pk = :code").s(":code", issued.item.pk.as_str()),
                Some(
                    Expr::new("#verified = :no AND #status = :active AND #expires_at > :now")
                        .bool(":no", false)
                        .s(":active", "active")
                        .n(":now", now),
                ),
            )?,
            app.store.put(&issued.item, None)?,
        ];
        match app.store.transact(items).await? {
            TxOutcome::Committed => {
                tracing::Span::current().record("user_id", user.user_id.as_str());
                // The previous code no longer verifies; a failed send leaves the new one
                // stored but unknown to the user, who may ask again after the cooldown.
                app.notifier
                    .send(&issued.message)
                    .await
                    .map_err(AuthError::DeliveryFailed)?;
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
