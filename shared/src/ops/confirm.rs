//! `PATCH /registration/{code}`: a code verifies its account once; wrong SMS codes are
//! counted and the 5th burns the code.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::domain::{IdentifierKind, PhoneNumber};
use crate::ops::budgets::{self, Origin};
use crate::ops::codes::{PresentedCode, Purpose};
use crate::ops::session::{NewSession, TokenPair};
use crate::ops::{Issues, Keyed};
use crate::ops::{MAX_ROUNDS, verify};
use crate::store::{CodeItem, TxOutcome, UserItem, UserStatus, VerifiedBy, keys};

/// The body that goes with a 6-digit SMS code; a link code comes without a body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    pub phone: String,
}

#[derive(Serialize, Deserialize)]
pub struct Confirmed {
    pub user_id: String,
    /// What was verified: `"email"` or `"phone"`.
    pub verified: IdentifierKind,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

redacted_debug!(Confirmed { user_id, verified; tokens });

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn confirm(
    app: &(impl Keyed + Issues),
    raw_code: &str,
    body: Option<ConfirmBody>,
    origin: &Origin,
) -> Result<Confirmed, AuthError> {
    let phone = body.map(|b| PhoneNumber::parse(&b.phone)).transpose()?;
    let presented = PresentedCode::new(app, raw_code, phone.as_ref())?;

    // One try per request: a retry below re-reads the code, it does not take another try.
    let mut code = presented.try_once(app, Purpose::Confirm).await?;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();

        let user_pk = keys::user(&code.user_id);
        let Some(user) = app.store().get::<UserItem>(&user_pk, keys::PROFILE).await? else {
            return Err(AuthError::InvalidCode);
        };
        if user.verified {
            // Verified by this very code in a concurrent request: that is a lost race.
            let again = app
                .store()
                .get::<CodeItem>(&presented.pk, keys::CODE)
                .await?;
            if again.is_none_or(|c| c.used) {
                return Err(AuthError::InvalidCode);
            }
            return Err(budgets::revealing(app, origin, AuthError::AlreadyVerified).await);
        }
        let current = user.code_pk.as_deref() == Some(presented.pk.as_str());
        if !current || user.status != UserStatus::Active || !user.is_live(now) {
            return Err(AuthError::InvalidCode);
        }
        let kind = verify::kind_of(&user)?;

        // Verified, so signed in (seed 002): the first session starts in the same
        // transaction, in the account's current session generation.
        let session = NewSession::new(app, &user.user_id, user.session_generation, origin, now)?;
        let mut items = vec![app.store().code_spent(&code, now)?];
        items.extend(verify::verify_account(
            app,
            &user,
            VerifiedBy::Code {
                code_pk: &presented.pk,
                generation: user.session_generation,
            },
            now,
        )?);
        items.extend(session.writes(app, now)?);

        match app.store().transact(items).await? {
            TxOutcome::Committed => {
                tracing::Span::current().record("user_id", user.user_id.as_str());
                tracing::info!(verified = kind.as_str(), "identifier verified");
                return Ok(Confirmed {
                    user_id: user.user_id,
                    verified: kind,
                    tokens: session.pair(app, now)?,
                });
            }
            // Someone else used or replaced the code, or changed the account, meanwhile (or
            // concurrent writes kept conflicting): look again at what is stored now.
            TxOutcome::Cancelled(_) => code = verify::still_unspent(app, &code, now).await?,
        }
    }
    Err(AuthError::InvalidCode)
}
