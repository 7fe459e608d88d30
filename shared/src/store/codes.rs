//! Codes and verification in the table: spending a code, and the writes that make an account
//! verified. Taking a try at a code is [`Store::take_code_try`].

use super::{CodeItem, Expr, Store, TxOutcome, UserItem, Write, generation_is, keys};
use crate::AuthError;

/// What must still hold of an account for its verification to count.
#[derive(Debug, Clone, Copy)]
pub enum VerifiedBy<'a> {
    /// Its registration code `code_pk`: the account still unverified, pointing at that code,
    /// active, unexpired, and in session generation `generation` (its first session starts
    /// in the same transaction).
    Code { code_pk: &'a str, generation: u64 },
    /// A sign-in OTP: still unverified, unexpired, and in session generation `generation`
    /// (the session it signs in to starts in the same transaction).
    Otp { generation: u64 },
}

/// Spending a code: the update, and the condition that it is still that code.
fn spending(code: &CodeItem, now: i64) -> (Expr, Expr) {
    (
        Expr::new("SET #used = :yes").bool(":yes", true),
        Expr::new("#used = :no AND #digest = :digest AND #expires_at > :now")
            .bool(":no", false)
            .s(":digest", code.digest.as_str())
            .n(":now", now),
    )
}

impl Store {
    /// Spends a code whose try was taken, on the condition that it is still that code:
    /// unused, unexpired, and its digest unchanged (a resend replaces it). The try was
    /// counted when it was taken, so the one that took the last try may still spend it.
    pub fn code_spent(&self, code: &CodeItem, now: i64) -> Result<Write, AuthError> {
        let (update, condition) = spending(code, now);
        self.update(&code.pk, &code.sk, update, Some(condition))
    }

    /// [`Store::code_spent`] alone, for a code whose spending goes with no other write;
    /// `Ok(false)` when it was spent, replaced or expired meanwhile.
    pub async fn spend_code(&self, code: &CodeItem, now: i64) -> Result<bool, AuthError> {
        let (update, condition) = spending(code, now);
        self.update_if(&code.pk, &code.sk, update, condition).await
    }

    /// The account verified: it stops expiring and leaves the unverified index.
    pub fn account_verified(
        &self,
        user: &UserItem,
        by: VerifiedBy<'_>,
        now: i64,
    ) -> Result<Write, AuthError> {
        let condition = match by {
            VerifiedBy::Code {
                code_pk,
                generation,
            } => Expr::new(
                "#verified = :no AND #code_pk = :code AND #status = :active AND #expires_at > :now",
            )
            .bool(":no", false)
            .s(":code", code_pk)
            .s(":active", "active")
            .n(":now", now)
            .and(generation_is(generation)),
            VerifiedBy::Otp { generation } => Expr::new(
                "#verified = :no AND (attribute_not_exists(#expires_at) OR #expires_at > :now)",
            )
            .bool(":no", false)
            .n(":now", now)
            .and(generation_is(generation)),
        };
        self.update(
            &user.pk,
            keys::PROFILE,
            Expr::new("SET #verified = :verified REMOVE #expires_at, #unverified")
                .bool(":verified", true),
            Some(condition),
        )
    }

    /// A claim (identifier or username) of `user_id` that stops expiring: a verified
    /// account keeps it for good.
    pub fn claim_kept(&self, claim_pk: &str, user_id: &str) -> Result<Write, AuthError> {
        self.update(
            claim_pk,
            keys::CLAIM,
            Expr::new("REMOVE #expires_at"),
            Some(Expr::new("#user_id = :uid").s(":uid", user_id)),
        )
    }

    /// The account's registration code is now `code_pk` (a resend), if the account is still
    /// unverified, active and unexpired.
    pub fn confirmation_code_issued(
        &self,
        user: &UserItem,
        code_pk: &str,
        now: i64,
    ) -> Result<Write, AuthError> {
        self.update(
            &user.pk,
            keys::PROFILE,
            Expr::new("SET #code_pk = :code").s(":code", code_pk),
            Some(
                Expr::new("#verified = :no AND #status = :active AND #expires_at > :now")
                    .bool(":no", false)
                    .s(":active", "active")
                    .n(":now", now),
            ),
        )
    }

    /// Undoes a resend whose code `issued` could not be delivered: the account points at its
    /// previous code again and the code item is what it was (`replaced`, or none), unless
    /// something newer was written meanwhile.
    pub async fn resend_undone(
        &self,
        user: &UserItem,
        issued: &CodeItem,
        replaced: Option<CodeItem>,
    ) -> Result<(), AuthError> {
        let mut items = vec![];
        if let Some(previous_pk) = &user.code_pk {
            items.push(self.update(
                &user.pk,
                keys::PROFILE,
                Expr::new("SET #code_pk = :previous").s(":previous", previous_pk.as_str()),
                Some(Expr::new("#code_pk = :issued").s(":issued", issued.pk.as_str())),
            )?);
        }
        let still_issued = Expr::new("#digest = :issued").s(":issued", issued.digest.as_str());
        match replaced {
            Some(previous) => items.push(self.put(&previous, Some(still_issued))?),
            None => items.push(self.delete(&issued.pk, keys::CODE, Some(still_issued))?),
        }
        match self.transact(items).await? {
            TxOutcome::Committed => Ok(()),
            TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
                "restore cancelled: {reasons:?}"
            ))),
        }
    }
}
