//! Counters that bound guessing beyond one code or one identifier: the tries of 6-digit codes
//! an identifier gets in a day across all its codes, and the failed attempts (wrong passwords,
//! wrong codes) one source address gets in an hour. Each try is taken with a condition before
//! the thing it limits is tried, so a burst of concurrent guesses cannot overrun either.

use serde::{Deserialize, Serialize};

use super::{Expr, Store, keys};
use crate::AuthError;

/// The tries of 6-digit codes one identifier has had in its current window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GuessWindowItem {
    pub pk: String,
    pub sk: String,
    pub taken: u32,
    /// The window started with its first try and ends here; TTL removes the item after.
    pub window_ends: i64,
    pub expires_at: i64,
}

impl GuessWindowItem {
    /// When the window's tries are all taken: the seconds until it ends, else `None`.
    pub fn exhausted(&self, max: u32, now: i64) -> Option<i64> {
        (self.taken >= max && self.window_ends > now).then(|| self.window_ends - now)
    }
}

/// How many times a lost race on a window is decided again.
const WINDOW_ROUNDS: usize = 4;

impl Store {
    /// Takes one try from the window `pk` (`max` tries per `window_secs`, the window starting
    /// with its first try): `Ok(None)` when taken, `Ok(Some(seconds))` when the window's tries
    /// are spent, with the seconds until it ends.
    pub async fn take_window_try(
        &self,
        pk: &str,
        max: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<Option<i64>, AuthError> {
        for _ in 0..WINDOW_ROUNDS {
            let counted = self
                .update_if(
                    pk,
                    keys::BUDGET,
                    Expr::new("SET #taken = #taken + :one").n(":one", 1),
                    Expr::new("#window_ends > :now AND #taken < :max")
                        .n(":now", now)
                        .n(":max", max),
                )
                .await?;
            if counted {
                return Ok(None);
            }
            // No window, or a lapsed one (TTL lags): this try starts a new one.
            let started = self
                .update_if(
                    pk,
                    keys::BUDGET,
                    Expr::new("SET #taken = :one, #window_ends = :end, #expires_at = :end")
                        .n(":one", 1)
                        .n(":end", now + window_secs),
                    Expr::new("attribute_not_exists(pk) OR #window_ends <= :now").n(":now", now),
                )
                .await?;
            if started {
                return Ok(None);
            }
            // A live window: spent, unless another try started it just now.
            let window: Option<GuessWindowItem> = self.get(pk, keys::BUDGET).await?;
            if let Some(wait) = window.and_then(|w| w.exhausted(max, now)) {
                return Ok(Some(wait));
            }
        }
        Err(AuthError::internal("a guess window kept conflicting"))
    }

    /// Gives back a try taken from the hourly budget `pk` (the attempt succeeded, so it was
    /// not a failure), if any is taken.
    pub async fn give_back_budget(&self, pk: &str) -> Result<(), AuthError> {
        self.update_if(
            pk,
            keys::BUDGET,
            Expr::new("SET #taken = #taken - :one").n(":one", 1),
            Expr::new("#taken > :zero").n(":zero", 0),
        )
        .await
        .map(drop)
    }

    /// [`Store::give_back_budget`] as a transaction item without a condition, to commit with
    /// what the success did (a sign-in's session). The try was taken this hour, so the item is
    /// there; were it gone, a count of -1 would only give the address one try more.
    pub fn budget_given_back(&self, pk: &str) -> Result<super::Write, AuthError> {
        self.update(
            pk,
            keys::BUDGET,
            Expr::new("ADD #taken :minus_one").n(":minus_one", -1),
            None,
        )
    }
}
