//! Sending limits per identifier: at most one code a minute and `sends_per_hour` an hour,
//! and none while the identifier's daily window of 6-digit code tries is spent (a new code
//! would give a guesser nothing, and sending it would only cost). The counter is its own
//! item, written in the same transaction as the code, and a rollback of a failed
//! registration leaves it in place.

use crate::store::{GuessWindowItem, RateItem, Snapshot, Store, keys};
use crate::{AuthError, Config};

const HOUR: i64 = 3600;

/// The counter as read, and what it becomes if one more code is sent now.
pub struct SendSlot {
    current: Option<RateItem>,
    next: RateItem,
}

impl SendSlot {
    /// Reads the counters and takes a slot, or answers `rate_limited` with the wait.
    pub async fn take(
        store: &Store,
        config: &Config,
        identifier_key: &str,
        now: i64,
    ) -> Result<Self, AuthError> {
        let (sends, guesses) = Self::keys(identifier_key);
        let mut read = store
            .get_together(&[(&sends, keys::LIMIT), (&guesses, keys::BUDGET)])
            .await?;
        let guesses = read.pop().unwrap_or_default();
        let sends = read.pop().unwrap_or_default();
        Self::decide(sends, guesses, identifier_key, config, now)
    }

    /// The counters of `identifier_key` that [`SendSlot::decide`] reads: its sends (sort
    /// key [`keys::LIMIT`]) and its window of code tries (sort key [`keys::BUDGET`]).
    pub fn keys(identifier_key: &str) -> (String, String) {
        (
            keys::send_limit(identifier_key),
            keys::code_guesses(identifier_key),
        )
    }

    /// Takes a slot from the counters as read (see [`SendSlot::keys`]), or answers
    /// `rate_limited` with the wait.
    pub fn decide(
        sends: Snapshot,
        guesses: Snapshot,
        identifier_key: &str,
        config: &Config,
        now: i64,
    ) -> Result<Self, AuthError> {
        let current: Option<RateItem> = sends.decode()?;
        let guesses: Option<GuessWindowItem> = guesses.decode()?;
        if let Some(wait) =
            guesses.and_then(|g| g.exhausted(config.code_tries_per_identifier_per_day, now))
        {
            return Err(AuthError::RateLimited {
                retry_after: wait as u64,
            });
        }
        let pk = keys::send_limit(identifier_key);
        let sends = current
            .as_ref()
            .map(|r| r.sends.as_slice())
            .unwrap_or_default();
        let wait = retry_after(sends, now, config);
        if wait > 0 {
            return Err(AuthError::RateLimited {
                retry_after: wait as u64,
            });
        }
        let mut recent: Vec<i64> = sends.iter().copied().filter(|t| *t > now - HOUR).collect();
        recent.push(now);
        let next = RateItem {
            pk,
            sk: keys::LIMIT.to_owned(),
            sends: recent,
            version: current.as_ref().map_or(0, |r| r.version) + 1,
            expires_at: now + HOUR,
        };
        Ok(Self { current, next })
    }

    /// The transaction item that records the send; it fails if another send got in first.
    pub fn write(&self, store: &Store) -> Result<crate::store::Write, AuthError> {
        store.put_replacing(&self.next, self.current.as_ref().map(|c| c.version))
    }
}

/// Seconds until the next send is allowed; 0 when it is allowed now.
fn retry_after(sends: &[i64], now: i64, config: &Config) -> i64 {
    let mut wait = 0;
    if let Some(last) = sends.iter().max() {
        wait = wait.max(last + config.send_cooldown_secs - now);
    }
    let mut recent: Vec<i64> = sends.iter().copied().filter(|t| *t > now - HOUR).collect();
    if recent.len() >= config.sends_per_hour {
        recent.sort_unstable();
        // The send that must leave the window before another fits in it.
        let leaving = recent[recent.len() - config.sends_per_hour];
        wait = wait.max(leaving + HOUR - now);
    }
    wait.max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_lookup(|k| {
            Some(
                match k {
                    "TABLE_NAME" => "t",
                    "SENDER_EMAIL" => "a@example.com",
                    "CONFIRM_URL" => "https://x.example/#code={code}",
                    "RESET_URL" => "https://x.example/reset#code={code}",
                    "IDENTIFIER_CHANGE_URL" => "https://x.example/change#code={code}",
                    "ISSUER" => "https://auth.example.com",
                    "JWT_AUDIENCE" => "app",
                    "JWT_SIGNING_KID" => "k1",
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .unwrap()
    }

    #[test]
    fn one_send_a_minute() {
        let c = config();
        assert_eq!(retry_after(&[], 1000, &c), 0);
        assert_eq!(retry_after(&[1000], 1000, &c), 60);
        assert_eq!(retry_after(&[1000], 1059, &c), 1);
        assert_eq!(retry_after(&[1000], 1060, &c), 0);
    }

    #[test]
    fn five_sends_an_hour() {
        let c = config();
        let sends = [0, 100, 200, 300, 400];
        assert_eq!(retry_after(&sends, 500, &c), 3100);
        assert_eq!(retry_after(&sends, 3600, &c), 0);
        assert_eq!(retry_after(&sends[..4], 500, &c), 0);
    }
}
