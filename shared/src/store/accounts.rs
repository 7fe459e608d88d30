//! The account's own lifecycle in the table: a change of identifier requested and
//! confirmed, and the account deleted, by its owner or by expiry.

use super::{
    ClaimItem, CodeItem, Expr, Store, TxOutcome, UNVERIFIED, UserItem, Write, generation_is, keys,
};
use crate::AuthError;
use crate::events::{self, DeletionReason};

/// Who deletes an account, and so what must still hold of it.
#[derive(Debug, Clone, Copy)]
pub enum DeletedBy<'a> {
    /// Its owner, signed in: the account still in the session generation they are in, with
    /// the number of passkeys read (each is deleted with it; one added meanwhile fails it).
    Owner { generation: u64, passkeys: u32 },
    /// The sweeper: the account still unverified and expired at `now`.
    Expiry { now: i64 },
    /// Whoever holds its confirmation code `code_pk` and declines it: the account still
    /// unverified, pointing at that code, active and unexpired at `now`.
    Declined { code_pk: &'a str, now: i64 },
    /// An operator: the account as read, with the number of passkeys read (each is deleted
    /// with it; one added meanwhile fails it).
    Operator { passkeys: u32 },
}

/// How a deletion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// The account no longer is what the deletion required (verified, signed out
    /// everywhere, or gone): it stays as it is.
    AccountChanged,
    /// A claim changed hands meanwhile: read them again.
    Raced,
}

/// How requesting a change of identifier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeRequest {
    Recorded,
    /// Signed out everywhere (or deleted) meanwhile: the caller's session is over.
    SessionEnded,
    /// Another code went to the new identifier since its counter was read: decide again.
    Raced,
}

/// How confirming a change of identifier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierChange {
    Changed,
    /// A live account holds the new identifier.
    Taken,
    /// The code was spent or replaced, or the account changed: look again.
    Raced,
}

impl Store {
    /// Records a pending change to the identifier `(kind, normalized key, address)` with
    /// its code, in one transaction with the send (`send`, the counter's write): the newest
    /// request is the only one a code can confirm, and it counts only if the caller's
    /// session generation still holds.
    pub async fn request_identifier_change(
        &self,
        send: Write,
        user: &UserItem,
        code: &CodeItem,
        (kind, normalized, address): (&str, &str, &str),
    ) -> Result<ChangeRequest, AuthError> {
        let pending = self.update(
            &user.pk,
            keys::PROFILE,
            Expr::new(
                "SET #change_code_pk = :code, #new_identifier_type = :kind, \
                 #new_identifier = :identifier, #new_address = :address",
            )
            .s(":code", code.pk.as_str())
            .s(":kind", kind)
            .s(":identifier", normalized)
            .s(":address", address),
            Some(generation_is(user.session_generation)),
        )?;
        let outcome = self
            .transact(vec![send, pending, self.put(code, None)?])
            .await?;
        Ok(match outcome {
            TxOutcome::Committed => ChangeRequest::Recorded,
            _ if outcome.condition_failed(1) => ChangeRequest::SessionEnded,
            TxOutcome::Cancelled(_) => ChangeRequest::Raced,
        })
    }

    /// Moves `user` to its pending identifier in one transaction: the code spent, the new
    /// claim taken (free, or held only by an expired registration), the old claim released,
    /// and the profile changed and verified, on the condition that the pending change is
    /// still `code_pk`'s and the identifier and session generation are as read. A reset
    /// code sent to the old identifier stops working with it.
    pub async fn change_identifier(
        &self,
        user: &UserItem,
        code: &CodeItem,
        (new_claim, old_claim_pk): (&ClaimItem, &str),
        (kind, normalized, address): (&str, &str, &str),
        now: i64,
        also: Vec<Write>,
    ) -> Result<IdentifierChange, AuthError> {
        let owned = Expr::new("#user_id = :uid").s(":uid", user.user_id.as_str());
        let mut items = vec![
            self.code_spent(code, now)?,
            self.put(
                new_claim,
                Some(Expr::new("attribute_not_exists(pk) OR #expires_at <= :now").n(":now", now)),
            )?,
            self.delete(old_claim_pk, keys::CLAIM, Some(owned))?,
            self.update(
                &user.pk,
                keys::PROFILE,
                Expr::new(
                    "SET #identifier_type = :kind, #identifier = :identifier, \
                     #address = :address, #verified = :yes \
                     REMOVE #change_code_pk, #new_identifier_type, #new_identifier, \
                     #new_address, #reset_code_pk, #expires_at, #unverified",
                )
                .s(":kind", kind)
                .s(":identifier", normalized)
                .s(":address", address)
                .bool(":yes", true),
                Some(
                    Expr::new("#change_code_pk = :code AND #identifier = :old")
                        .s(":code", code.pk.as_str())
                        .s(":old", user.identifier.as_str())
                        .and(generation_is(user.session_generation)),
                ),
            )?,
        ];
        items.extend(also);
        let outcome = self.transact(items).await?;
        Ok(match outcome {
            TxOutcome::Committed => IdentifierChange::Changed,
            _ if outcome.condition_failed(1) => IdentifierChange::Taken,
            TxOutcome::Cancelled(_) => IdentifierChange::Raced,
        })
    }

    /// Deletes `user` in one transaction: the profile (on what `by` requires), the claims
    /// it still holds (`claims`, each on still being its own), `user.deleted` with
    /// `reason`, and `also` (writes without conditions).
    pub async fn delete_account(
        &self,
        user: &UserItem,
        claims: &[String],
        by: DeletedBy<'_>,
        reason: DeletionReason,
        also: &[Write],
        now: i64,
    ) -> Result<Deletion, AuthError> {
        let condition = match by {
            DeletedBy::Owner {
                generation,
                passkeys,
            } => generation_is(generation).and(passkeys_are(passkeys)),
            DeletedBy::Operator { passkeys } => {
                Expr::new("attribute_exists(pk)").and(passkeys_are(passkeys))
            }
            DeletedBy::Expiry { now } => {
                Expr::new("#verified = :no AND #unverified = :unverified AND #expires_at <= :now")
                    .bool(":no", false)
                    .s(":unverified", UNVERIFIED)
                    .n(":now", now)
            }
            DeletedBy::Declined { code_pk, now } => Expr::new(
                "#verified = :no AND #code_pk = :code AND #status = :active AND #expires_at > :now",
            )
            .bool(":no", false)
            .s(":code", code_pk)
            .s(":active", "active")
            .n(":now", now),
        };
        let mut items = vec![self.delete(&user.pk, keys::PROFILE, Some(condition))?];
        for claim in claims {
            items.push(self.delete(
                claim,
                keys::CLAIM,
                Some(Expr::new("#user_id = :uid").s(":uid", user.user_id.as_str())),
            )?);
        }
        // Its authenticator app, if it has one (deleting nothing is no failure).
        items.push(self.delete(&user.pk, keys::TOTP, None)?);
        items.push(events::outbox_deleted(self, &user.user_id, reason, now)?);
        items.extend_from_slice(also);
        let outcome = self.transact(items).await?;
        Ok(match outcome {
            TxOutcome::Committed => Deletion::Deleted,
            _ if outcome.condition_failed(0) => Deletion::AccountChanged,
            TxOutcome::Cancelled(_) => Deletion::Raced,
        })
    }
}

/// The account still has `passkeys` passkeys (the ones a deletion read and removes).
fn passkeys_are(passkeys: u32) -> Expr {
    if passkeys == 0 {
        Expr::new("attribute_not_exists(#passkeys) OR #passkeys = :passkeys").n(":passkeys", 0)
    } else {
        Expr::new("#passkeys = :passkeys").n(":passkeys", passkeys)
    }
}
