//! Abuse budgets beyond one identifier, against SMS pumping (toll fraud) and mail bombing:
//! codes sent on behalf of one source IP per hour, and SMS sent per hour by the whole
//! service (a circuit breaker: past it SMS sends answer 429 while email goes on). Both are
//! DynamoDB counters taken with a condition before anything is sent.
//!
//! The global SMS counter is split into [`SMS_SHARDS`] items, each allowed its share of the
//! hourly budget, so no single key takes every SMS send's write: even at the stage's
//! throttle raised twentyfold (1,000 requests a second) each shard stays far below the
//! 1,000 writes a second one DynamoDB partition takes, including the failed conditional
//! writes an attack causes once the breaker has tripped.

use crate::domain::Channel;
use crate::ops::Base;
use crate::store::Write;
use crate::{AuthError, crypto};

pub const SMS_SHARDS: u32 = 10;
const HOUR: i64 = 3600;

/// The caller as API Gateway saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `requestContext.http.sourceIp`; `None` only for callers that are not HTTP requests.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Takes one send from the caller's budgets, or answers `rate_limited` with the seconds
/// until the hour's budget renews. Counted before the code is sent.
pub async fn take_send(
    app: &impl Base,
    origin: &Origin,
    channel: Channel,
    now: i64,
) -> Result<(), AuthError> {
    take_ip_send(app, origin, now).await?;
    if channel == Channel::Sms {
        take_sms(app, now).await?;
    }
    Ok(())
}

/// An answer that tells whether an account exists (`user_exists`, `user_not_found`,
/// `already_verified`) costs the caller one send from its source-IP budget, as a send
/// would: past the budget the caller gets `rate_limited` instead, so the budget bounds how
/// many identifiers one address can probe, not only how many codes it can send.
pub async fn revealing(app: &impl Base, origin: &Origin, answer: AuthError) -> AuthError {
    match take_ip_send(app, origin, app.now()).await {
        Ok(()) => answer,
        Err(limited) => limited,
    }
}

/// A try taken from the caller's hourly budget of failures (wrong passwords, wrong 6-digit
/// codes), before the password or code is checked, so a burst of guesses from one address
/// cannot overrun it; given back once the password or code proves right.
#[must_use = "a right password or code gives its try back with `succeeded`"]
pub struct FailureTry(Option<String>);

/// Takes one try from the failure budget of the caller's source address (an IPv6 address
/// by its /64, which one host usually holds whole), or answers `rate_limited` until the
/// hour turns. Guesses sprayed over many identifiers from one address meet this budget,
/// where each identifier's own limits would not.
pub async fn take_failure_try(
    app: &impl Base,
    origin: &Origin,
    now: i64,
) -> Result<FailureTry, AuthError> {
    let network = origin.ip.as_deref().map(network_of);
    let budget = AddressBudget {
        name: "failures_per_ip",
        key: crate::store::keys::failure_budget,
        max: app.config().failures_per_ip_per_hour,
    };
    budget
        .take(app, network.as_deref(), now)
        .await
        .map(FailureTry)
}

/// An hourly budget per source address: its name (in the logs and the key), where its
/// counters live, and how many it allows.
struct AddressBudget {
    name: &'static str,
    key: fn(&str, i64) -> String,
    max: u64,
}

impl AddressBudget {
    /// Takes one from `address`'s budget this hour: the counter's key, or `rate_limited`
    /// until the hour turns. Nothing for a caller that is not an HTTP request.
    async fn take(
        &self,
        app: &impl Base,
        address: Option<&str>,
        now: i64,
    ) -> Result<Option<String>, AuthError> {
        let Some(address) = address else {
            return Ok(None);
        };
        let (hour, renews_in, expires_at) = hour_of(now);
        let pk = (self.key)(&address_key(app, self.name, address), hour);
        if !app.store().take_budget(&pk, self.max, expires_at).await? {
            tracing::warn!(budget = self.name, "abuse budget exhausted");
            return Err(AuthError::RateLimited {
                retry_after: renews_in,
            });
        }
        Ok(Some(pk))
    }
}

impl FailureTry {
    /// The password or code was right: the try is not a failure.
    pub async fn succeeded(self, app: &impl Base) -> Result<(), AuthError> {
        match self.0 {
            Some(pk) => app.store().give_back_budget(&pk).await,
            None => Ok(()),
        }
    }

    /// [`FailureTry::succeeded`] as a write to commit with what the success does.
    pub fn succeeded_with(&self, app: &impl Base) -> Result<Option<Write>, AuthError> {
        self.0
            .as_deref()
            .map(|pk| app.store().budget_given_back(pk))
            .transpose()
    }
}

/// The key a budget counts a source address under: a SHA-256 of the budget, the table and the
/// address, so no address stands in a key in clear. It needs no secret, so that a sign-in can
/// count its attempt before its keys have arrived from Secrets Manager (an IPv4 address could be
/// found again by trying them all; sessions record the address they started from in clear
/// anyway, for the session list).
fn address_key(app: &impl Base, budget: &str, address: &str) -> String {
    let table = &app.config().table_name;
    let digest = crypto::sha256_hex(format!("{budget}\0{table}\0{address}").as_bytes());
    digest[..32].to_owned()
}

/// The network a source address is counted by: an IPv4 address itself, an IPv6 address by
/// its /64 (an IPv4-mapped one as the IPv4 address).
pub fn network_of(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// The hour `now` falls in: the seconds until it renews and when its counters expire.
fn hour_of(now: i64) -> (i64, u64, i64) {
    let hour = now.div_euclid(HOUR);
    let renews_in = (hour + 1) * HOUR - now;
    // Kept an hour past its window, then TTL removes it.
    (hour, renews_in as u64, (hour + 2) * HOUR)
}

/// Takes one send from the caller's source-IP budget (nothing for a caller that is not an
/// HTTP request).
pub async fn take_ip_send(app: &impl Base, origin: &Origin, now: i64) -> Result<(), AuthError> {
    let budget = AddressBudget {
        name: "sends_per_ip",
        key: crate::store::keys::ip_budget,
        max: app.config().sends_per_ip_per_hour,
    };
    budget.take(app, origin.ip.as_deref(), now).await.map(drop)
}

/// Takes one SMS from the whole service's hourly budget, just before an SMS is sent.
pub async fn take_sms(app: &impl Base, now: i64) -> Result<(), AuthError> {
    let (hour, renews_in, expires_at) = hour_of(now);
    let share = app.config().sms_per_hour.div_ceil(u64::from(SMS_SHARDS));
    let first = random_shard()?;
    // A full shard is tried once more elsewhere, so the breaker trips when the budget as a
    // whole is nearly spent, not when one shard's share is.
    for shard in [
        first,
        (first + 1 + random_shard()? % (SMS_SHARDS - 1)) % SMS_SHARDS,
    ] {
        let pk = crate::store::keys::sms_budget(hour, shard);
        if app.store().take_budget(&pk, share, expires_at).await? {
            return Ok(());
        }
    }
    tracing::warn!(
        budget = "sms_per_hour",
        "abuse budget exhausted: SMS paused"
    );
    Err(AuthError::RateLimited {
        retry_after: renews_in,
    })
}

fn random_shard() -> Result<u32, AuthError> {
    let bytes: [u8; 4] = crypto::random_array()?;
    Ok(u32::from_le_bytes(bytes) % SMS_SHARDS)
}

#[cfg(test)]
mod tests {
    use super::network_of;

    #[test]
    fn ipv6_addresses_are_counted_by_their_64_and_ipv4_by_the_address() {
        assert_eq!(
            network_of("2001:db8:1:2:aaaa::1"),
            network_of("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(network_of("2001:db8:1:2::1"), network_of("2001:db8:1:3::1"));
        assert_eq!(network_of("198.51.100.7"), "198.51.100.7");
        assert_eq!(network_of("::ffff:198.51.100.7"), "198.51.100.7");
        assert_ne!(network_of("198.51.100.7"), network_of("198.51.100.8"));
    }
}
