//! Second factors in the table: an authenticator app's enrolment, its codes' time steps, its
//! recovery codes, and the flag on the account that makes a password sign-in ask for them.
//! Every rule is a condition: a step is accepted once, a recovery code spent once, a
//! pending enrolment confirmed once and never over an enabled one.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;

use super::{Expr, Store, TotpItem, TxOutcome, UserItem, Write, keys};
use crate::AuthError;

/// The outcome of counting one try at a pending enrolment.
#[derive(Debug)]
pub enum EnrolmentTry {
    /// Counted; the enrolment as it is now.
    Taken(TotpItem),
    /// No pending enrolment (none, lapsed, already enabled) or its tries are spent.
    Gone,
}

impl Store {
    /// Starts a pending enrolment, replacing a pending one but never an enabled one;
    /// `Ok(false)` when one is enabled.
    pub async fn start_enrolment(&self, item: &TotpItem) -> Result<bool, AuthError> {
        self.put_if(
            item,
            Expr::new("attribute_not_exists(pk) OR #enabled = :no").bool(":no", false),
        )
        .await
    }

    /// Counts one confirmation try at the caller's pending enrolment before any code is
    /// compared: at most `max` tries per enrolment, however many arrive at once.
    pub async fn take_enrolment_try(
        &self,
        user_id: &str,
        max: u32,
        now: i64,
    ) -> Result<EnrolmentTry, AuthError> {
        let update = Expr::new("SET #attempts = #attempts + :one").n(":one", 1);
        let condition = Expr::new("#enabled = :no AND #attempts < :max AND #expires_at > :now")
            .bool(":no", false)
            .n(":max", max)
            .n(":now", now);
        let result = self
            .conditional_update(&keys::user(user_id), keys::TOTP, &update, &condition)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => super::table::updated_item(out).map(EnrolmentTry::Taken),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(EnrolmentTry::Gone)
            }
            Err(e) => Err(AuthError::internal(aws_sdk_dynamodb::Error::from(e))),
        }
    }

    /// Turns the pending enrolment `pending` on, with its first accepted `step` and the
    /// recovery codes' digests, and marks the account: one transaction, on the conditions
    /// that the enrolment is still that one and still pending, and the account live.
    pub async fn enable_totp(
        &self,
        pending: &TotpItem,
        step: i64,
        recovery: Vec<String>,
        also: Vec<Write>,
    ) -> Result<bool, AuthError> {
        let mut items = vec![
            self.update(
                &pending.pk,
                keys::TOTP,
                Expr::new("SET #enabled = :yes, #last_step = :step, #recovery = :codes REMOVE #expires_at")
                    .bool(":yes", true)
                    .n(":step", step)
                    .string_set(":codes", recovery),
                Some(
                    Expr::new("#enabled = :no AND #secret = :secret")
                        .bool(":no", false)
                        .s(":secret", pending.secret.as_str()),
                ),
            )?,
            self.update(
                &pending.pk,
                keys::PROFILE,
                Expr::new("SET #totp = :yes").bool(":yes", true),
                Some(Expr::new("attribute_exists(pk)")),
            )?,
        ];
        items.extend(also);
        Ok(matches!(self.transact(items).await?, TxOutcome::Committed))
    }

    /// Accepts a code of time step `step` once: only if no code of that step or a later one
    /// was accepted before (a replayed code, even within its 90 seconds, is refused).
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool, AuthError> {
        self.update_if(
            &keys::user(user_id),
            keys::TOTP,
            Expr::new("SET #last_step = :step").n(":step", step),
            Expr::new(
                "#enabled = :yes AND (attribute_not_exists(#last_step) OR #last_step < :step)",
            )
            .bool(":yes", true)
            .n(":step", step),
        )
        .await
    }

    /// Spends one recovery code, by its digest: it leaves the set, once (with `also`).
    pub async fn spend_recovery_code(
        &self,
        user_id: &str,
        digest: &str,
        also: Vec<Write>,
    ) -> Result<bool, AuthError> {
        self.update_if_with(
            &keys::user(user_id),
            keys::TOTP,
            Expr::new("DELETE #recovery :spent").one_string_set(":spent", digest),
            Expr::new("#enabled = :yes AND contains(#recovery, :digest)")
                .bool(":yes", true)
                .s(":digest", digest),
            also,
        )
        .await
    }

    /// Replaces every recovery code of an enabled authenticator app.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery: Vec<String>,
        also: Vec<Write>,
    ) -> Result<bool, AuthError> {
        self.update_if_with(
            &keys::user(user_id),
            keys::TOTP,
            Expr::new("SET #recovery = :codes").string_set(":codes", recovery),
            Expr::new("#enabled = :yes").bool(":yes", true),
            also,
        )
        .await
    }

    /// Turns the authenticator app off: its item gone and the account unmarked, together.
    pub async fn disable_totp(&self, user: &UserItem, also: Vec<Write>) -> Result<bool, AuthError> {
        let mut items = vec![
            self.delete(
                &user.pk,
                keys::TOTP,
                Some(Expr::new("#enabled = :yes").bool(":yes", true)),
            )?,
            self.update(
                &user.pk,
                keys::PROFILE,
                Expr::new("REMOVE #totp"),
                Some(Expr::new("attribute_exists(pk)")),
            )?,
        ];
        items.extend(also);
        Ok(matches!(self.transact(items).await?, TxOutcome::Committed))
    }
}
