//! The login gate: one item per identifier that counts sign-in attempts and holds the lock.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{Expr, LoginGateItem, Store, TxOutcome, keys};
use crate::AuthError;

/// How the gate counts: the failures allowed before a lock, the lock the n-th failure
/// earns, and how long failures are remembered.
pub struct GatePolicy {
    pub free_failures: u32,
    pub lock_secs: fn(u32) -> i64,
    pub memory_secs: i64,
}

/// How many times a lost race on the gate is decided again.
const GATE_ROUNDS: usize = 24;

impl Store {
    /// Takes one attempt at the gate `gate_pk`, counted as a failure until
    /// [`Store::clear_login_failures`] says it succeeded, or answers `rate_limited` while
    /// the gate is locked. However many attempts arrive at once, each is counted, and the
    /// one that earns a lock is the last to pass before it.
    ///
    /// One conditional increment while no lock is near (the usual case); only an attempt
    /// that could earn a lock, or a gate whose memory has lapsed, writes the whole gate on
    /// the version the failed increment returned, so no attempt reads before it writes.
    pub async fn take_login_attempt(
        &self,
        gate_pk: &str,
        now_ms: i64,
        policy: &GatePolicy,
    ) -> Result<LoginGateItem, AuthError> {
        let now = now_ms.div_euclid(1000);
        for _ in 0..GATE_ROUNDS {
            let update = Expr::new(
                "SET #failures = if_not_exists(#failures, :zero) + :one, \
                 #locked_until_ms = if_not_exists(#locked_until_ms, :zero), \
                 #version = if_not_exists(#version, :zero) + :one, #expires_at = :exp",
            )
            .n(":zero", 0)
            .n(":one", 1)
            .n(":exp", now + policy.memory_secs);
            // Below the last free failure, one more cannot lock.
            let condition = Expr::new(
                "attribute_not_exists(pk) OR (#expires_at > :now \
                 AND (attribute_not_exists(#locked_until_ms) OR #locked_until_ms <= :now_ms) \
                 AND #failures < :quiet)",
            )
            .n(":now", now)
            .n(":now_ms", now_ms)
            .n(":quiet", policy.free_failures.saturating_sub(1));
            let result = self
                .conditional_update(gate_pk, keys::LOCK, &update, &condition)
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let stored: LoginGateItem = match result {
                Ok(out) => return super::table::updated_item(out),
                Err(SdkError::ServiceError(service)) => match service.into_err() {
                    UpdateItemError::ConditionalCheckFailedException(failed) => {
                        match failed.item {
                            Some(item) => {
                                serde_dynamo::from_item(item).map_err(AuthError::internal)?
                            }
                            // Deleted since (TTL): the next round creates it.
                            None => continue,
                        }
                    }
                    other => return Err(AuthError::internal(aws_sdk_dynamodb::Error::from(other))),
                },
                Err(e) => return Err(AuthError::internal(aws_sdk_dynamodb::Error::from(e))),
            };
            if let Some(gate) = self.write_gate(gate_pk, stored, now_ms, policy).await? {
                return Ok(gate);
            }
        }
        Err(AuthError::internal("login gate kept conflicting"))
    }

    /// The slow path: the gate as it is (`stored`) becomes the gate after one more attempt,
    /// written only if nobody moved it meanwhile (`None`: decide again).
    async fn write_gate(
        &self,
        gate_pk: &str,
        mut stored: LoginGateItem,
        now_ms: i64,
        policy: &GatePolicy,
    ) -> Result<Option<LoginGateItem>, AuthError> {
        let now = now_ms.div_euclid(1000);
        // A gate past its memory (TTL deletion lags) remembers nothing, but keeps its
        // version for the condition below.
        if stored.expires_at <= now {
            stored.failures = 0;
            stored.locked_until_ms = 0;
        }
        if stored.locked_until_ms > now_ms {
            // Whole seconds, rounded up: a client that waits that long finds the lock gone.
            let wait_ms = stored.locked_until_ms - now_ms;
            return Err(AuthError::RateLimited {
                retry_after: (wait_ms as u64).div_ceil(1000),
            });
        }
        let failures = stored.failures + 1;
        let locked_until_ms = match (policy.lock_secs)(failures) {
            0 => 0,
            secs => now_ms + secs * 1000,
        };
        let next = LoginGateItem {
            pk: gate_pk.to_owned(),
            sk: keys::LOCK.to_owned(),
            failures,
            locked_until_ms,
            version: stored.version + 1,
            expires_at: now.max(locked_until_ms / 1000 + 1) + policy.memory_secs,
        };
        let write = self.put_replacing(&next, Some(stored.version))?;
        Ok(match self.transact(vec![write]).await? {
            TxOutcome::Committed => Some(next),
            TxOutcome::Cancelled(_) => None,
        })
    }

    /// A success ends the run of failures.
    pub async fn clear_login_failures(&self, gate: &LoginGateItem) -> Result<(), AuthError> {
        self.update_if(
            &gate.pk,
            keys::LOCK,
            Expr::new(
                "SET #failures = :zero, #locked_until_ms = :zero, #version = #version + :one",
            )
            .n(":zero", 0)
            .n(":one", 1),
            Expr::new("attribute_exists(pk)"),
        )
        .await
        .map(drop)
    }

    /// [`Store::clear_login_failures`] as a transaction item without a condition (the gate
    /// it writes is a fresh, empty one if the item has gone), to commit with a new session.
    pub fn login_failures_cleared(
        &self,
        gate: &LoginGateItem,
        now: i64,
        policy: &GatePolicy,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, AuthError> {
        self.update(
            &gate.pk,
            keys::LOCK,
            Expr::new(
                "SET #failures = :zero, #locked_until_ms = :zero, \
                 #version = if_not_exists(#version, :zero) + :one, #expires_at = :exp",
            )
            .n(":zero", 0)
            .n(":one", 1)
            .n(":exp", now + policy.memory_secs),
            None,
        )
    }

    /// The gate `gate_pk` forgotten, as a transaction item (a reset proves the identifier:
    /// whoever was locked out by failures is not).
    pub fn login_gate_forgotten(&self, gate_pk: &str) -> Result<super::Write, AuthError> {
        self.delete(gate_pk, keys::LOCK, None)
    }
}
