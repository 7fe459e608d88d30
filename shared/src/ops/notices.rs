//! Telling a user of a change to how their account signs in (a new password, an authenticator
//! app turned on or off, a recovery code used), by email or SMS to its identifier, with no
//! code or secret in it. The change has committed by then: a notice that cannot be delivered
//! is logged, never answered as the request's failure.

use crate::notify::{Notice, Outgoing};
use crate::ops::{Delivers, verify};
use crate::store::UserItem;

pub(crate) async fn tell(app: &impl Delivers, user: &UserItem, notice: Notice) {
    let sent = match verify::stored_identifier(user) {
        Ok(to) => app
            .notifier()
            .send(&Outgoing::Notice { to, notice })
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = sent {
        tracing::warn!(%error, ?notice, "security notice not delivered");
    }
}
