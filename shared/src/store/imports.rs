//! Accounts an operator imports, and the replacement of an imported (or outdated) password
//! hash by the service's own at the account's first password sign-in.

use super::{ClaimItem, Expr, Store, TxOutcome, UserItem, Write, generation_is, keys};
use crate::AuthError;
use crate::events;

/// How writing an imported account ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created,
    /// A live account holds the identifier: nothing was written.
    IdentifierTaken,
    /// A live account holds the username: nothing was written.
    UsernameTaken,
    /// Lost to concurrent writes only: try again.
    Raced,
}

impl Store {
    /// Writes an imported account in one transaction: its profile (new), its identifier's
    /// claim and its username's (`claims`, in that order; each free, or held only by a
    /// registration that expired unconfirmed), and `user.created` with `"imported": true`.
    /// The claims never expire, and the account is not listed among those that may expire
    /// unverified: an imported account stays until it is deleted.
    pub async fn create_imported_account(
        &self,
        user: &UserItem,
        claims: &[String],
        now: i64,
        migrated: bool,
    ) -> Result<Imported, AuthError> {
        let mut items = Vec::with_capacity(claims.len() + 2);
        for claim in claims {
            let item = ClaimItem {
                pk: claim.clone(),
                sk: keys::CLAIM.to_owned(),
                user_id: user.user_id.clone(),
                expires_at: None,
            };
            let free = Expr::new("attribute_not_exists(pk) OR #expires_at <= :now").n(":now", now);
            items.push(self.put(&item, Some(free))?);
        }
        items.push(self.put_new(user)?);
        items.push(events::outbox_imported(self, user, now, migrated)?);
        let outcome = self.transact(items).await?;
        Ok(match outcome {
            TxOutcome::Committed => Imported::Created,
            _ if outcome.condition_failed(0) => Imported::IdentifierTaken,
            _ if claims.len() > 1 && outcome.condition_failed(1) => Imported::UsernameTaken,
            TxOutcome::Cancelled(reasons)
                if reasons.iter().flatten().all(|r| r == "TransactionConflict") =>
            {
                Imported::Raced
            }
            TxOutcome::Cancelled(reasons) => {
                return Err(AuthError::internal(format!(
                    "an imported account could not be written: {reasons:?}"
                )));
            }
        })
    }

    /// The account `user_id`'s password hash replaced by `new`, a hash of the same password,
    /// on the condition that `checked` (the hash that password was just checked against) is
    /// still its hash and the account is still in session generation `generation`. A
    /// password change or reset that commits first fails it (both move the generation on); one
    /// that commits after it wins, since neither conditions on what this writes. Every other
    /// write of a password hash moves the generation on, so a hash that changed while the
    /// generation held was replaced by this, with the same password.
    pub fn password_rehashed(
        &self,
        user_id: &str,
        generation: u64,
        checked: &str,
        new: &str,
    ) -> Result<Write, AuthError> {
        self.update(
            &keys::user(user_id),
            keys::PROFILE,
            Expr::new("SET #password_hash = :rehashed").s(":rehashed", new),
            Some(
                generation_is(generation)
                    .and(Expr::new("#password_hash = :checked").s(":checked", checked)),
            ),
        )
    }
}
