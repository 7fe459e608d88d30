//! A registration in the table: reserved (the claims, the pending account and its code, in
//! one transaction with the send), then committed once the code is delivered, or rolled
//! back if it is not, so that a failed send leaves nothing behind.

use super::{ClaimItem, CodeItem, Expr, Store, TxOutcome, UNVERIFIED, UserItem, Write, keys};
use crate::AuthError;
use crate::events;

/// How reserving a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    Reserved,
    /// A live account (or a pending registration) holds one of the claims.
    Taken,
    /// Another code went to the identifier since its send counter was read, or a concurrent
    /// write got in: decide again.
    Raced,
}

impl Store {
    /// Reserves a registration in one transaction: the send (`send`, the counter's write),
    /// every claim (each free, or held only by an expired registration), the pending account
    /// and its code.
    pub async fn reserve_registration(
        &self,
        send: Write,
        claims: &[ClaimItem],
        user: &UserItem,
        code: &CodeItem,
        now: i64,
    ) -> Result<Reserved, AuthError> {
        let mut items = vec![send];
        for claim in claims {
            let free = Expr::new("attribute_not_exists(pk) OR #expires_at <= :now").n(":now", now);
            items.push(self.put(claim, Some(free))?);
        }
        items.push(self.put_new(user)?);
        items.push(self.put(code, None)?);
        let outcome = self.transact(items).await?;
        Ok(match outcome {
            TxOutcome::Committed => Reserved::Reserved,
            // Someone claimed it meanwhile (the usual loser of a burst of one identifier's
            // registrations, whose send counter changed in the same commit).
            _ if (1..=claims.len()).any(|i| outcome.condition_failed(i)) => Reserved::Taken,
            TxOutcome::Cancelled(_) => Reserved::Raced,
        })
    }

    /// Commits a delivered registration: the account active and listed as unverified until
    /// `expires_at` (the sweeper deletes it then if it is still unverified), its claims
    /// expiring with it, and `user.created` announced in the same write.
    pub async fn commit_registration(
        &self,
        user: &UserItem,
        claims: &[String],
        expires_at: i64,
        now: i64,
    ) -> Result<(), AuthError> {
        let owned = || Expr::new("#user_id = :uid").s(":uid", user.user_id.as_str());
        let mut items = vec![
            self.update(
                &user.pk,
                &user.sk,
                Expr::new("SET #status = :active, #expires_at = :exp, #unverified = :unverified")
                    .s(":active", "active")
                    .n(":exp", expires_at)
                    .s(":unverified", UNVERIFIED),
                Some(Expr::new("#status = :pending").s(":pending", "pending")),
            )?,
        ];
        for claim in claims {
            items.push(self.update(
                claim,
                keys::CLAIM,
                Expr::new("SET #expires_at = :exp").n(":exp", expires_at),
                Some(owned()),
            )?);
        }
        // Announced in the commit itself: a rolled-back registration announces nothing.
        items.push(events::outbox_put(self, events::USER_CREATED, user, now)?);
        match self.transact(items).await? {
            TxOutcome::Committed => Ok(()),
            TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
                "commit of a delivered registration failed: {reasons:?}"
            ))),
        }
    }

    /// Rolls back a registration whose code could not be delivered: the pending account, its
    /// claims and its code, each only if still its own. The send stays counted.
    pub async fn roll_back_registration(
        &self,
        user: &UserItem,
        claims: &[String],
        code_pk: &str,
    ) -> Result<(), AuthError> {
        let owned = || Expr::new("#user_id = :uid").s(":uid", user.user_id.as_str());
        let mut items = vec![self.delete(
            &user.pk,
            &user.sk,
            Some(Expr::new("#status = :pending").s(":pending", "pending")),
        )?];
        for claim in claims {
            items.push(self.delete(claim, keys::CLAIM, Some(owned()))?);
        }
        items.push(self.delete(code_pk, keys::CODE, Some(owned()))?);
        match self.transact(items).await? {
            TxOutcome::Committed => Ok(()),
            TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
                "rollback cancelled: {reasons:?}"
            ))),
        }
    }
}
