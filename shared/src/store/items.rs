//! Item shapes, mapped with `serde_dynamo`. Every expiring item carries `expires_at` (epoch
//! seconds), the table's TTL attribute; conditions compare it with now because TTL lags.

use serde::{Deserialize, Serialize};

/// Partition and sort keys of every item kind.
pub mod keys {
    pub const PROFILE: &str = "PROFILE";
    pub const CLAIM: &str = "CLAIM";
    pub const CODE: &str = "CODE";
    /// A password-reset code, beside the confirmation codes under the same keys.
    pub const RESET: &str = "RESET";
    /// A code that confirms a new email or phone for an existing account.
    pub const CHANGE: &str = "CHANGE";
    pub const LIMIT: &str = "LIMIT";

    pub fn user(user_id: &str) -> String {
        format!("USER#{user_id}")
    }

    /// The claim that makes an email or phone unique: `EMAIL#<lowercased>` / `PHONE#<e164>`.
    pub fn identifier(kind: crate::domain::IdentifierKind, normalized: &str) -> String {
        match kind {
            crate::domain::IdentifierKind::Email => format!("EMAIL#{normalized}"),
            crate::domain::IdentifierKind::Phone => format!("PHONE#{normalized}"),
        }
    }

    pub fn username(key: &str) -> String {
        format!("USERNAME#{key}")
    }

    /// Email link codes are found by their digest: the confirming request carries only the code.
    pub fn link_code(digest: &str) -> String {
        format!("CODE#{digest}")
    }

    /// SMS codes are found by the phone they went to; one live code per phone.
    pub fn sms_code(phone: &str) -> String {
        format!("SMSCODE#{phone}")
    }

    /// A code that confirms a phone as an account's new one: found by the phone and the
    /// account, since several accounts may ask for the same number at once and one's
    /// request must never replace or burn another's code.
    pub fn account_sms_code(phone: &str, user_id: &str) -> String {
        format!("SMSCODE#{phone}#{user_id}")
    }

    /// The send counter of an identifier, keyed like its claim.
    pub fn send_limit(identifier_key: &str) -> String {
        format!("SENDS#{identifier_key}")
    }

    pub const LOCK: &str = "LOCK";
    pub const TOKEN: &str = "TOKEN";
    pub const FAMILY: &str = "FAMILY";
    pub const OTP: &str = "OTP";

    /// Failed sign-ins of an identifier, whether or not an account holds it.
    pub fn login_gate(identifier_key: &str) -> String {
        format!("LOGIN#{identifier_key}")
    }

    /// A refresh token, by the SHA-256 of its value.
    pub fn refresh_token(digest: &str) -> String {
        format!("REFRESH#{digest}")
    }

    /// A refresh-token family: every token rotated from one sign-in.
    pub fn family(family_id: &str) -> String {
        format!("FAMILY#{family_id}")
    }

    pub const EVENT: &str = "EVENT";

    /// An outbox item: one event to publish.
    pub fn outbox(event_id: &str) -> String {
        format!("OUTBOX#{event_id}")
    }

    pub const BUDGET: &str = "BUDGET";

    /// Codes sent on behalf of one source address in one hour (`hour` = epoch hours); the
    /// address is keyed by a hash (see `ops::budgets`).
    pub fn ip_budget(address_mac: &str, hour: i64) -> String {
        format!("BUDGET#IP#{address_mac}#{hour}")
    }

    /// The tries of 6-digit codes one identifier (keyed like its claim) had in its window.
    pub fn code_guesses(identifier_key: &str) -> String {
        format!("GUESSES#{identifier_key}")
    }

    /// Failed sign-ins and wrong codes on behalf of one source address (an IPv4 address or
    /// an IPv6 /64, keyed by a hash) in one hour.
    pub fn failure_budget(address_mac: &str, hour: i64) -> String {
        format!("BUDGET#FAIL#{address_mac}#{hour}")
    }

    /// One shard of the SMS sent in one hour, all identifiers together.
    pub fn sms_budget(hour: i64, shard: u32) -> String {
        format!("BUDGET#SMS#{hour}#{shard}")
    }

    /// A forgot-password request, recorded by the request and served from the stream.
    pub fn forgot_request(request_id: &str) -> String {
        format!("FORGOT#{request_id}")
    }

    pub const REQUEST: &str = "REQUEST";

    /// A sign-in OTP challenge.
    pub fn challenge(challenge_id: &str) -> String {
        format!("CHALLENGE#{challenge_id}")
    }

    /// A sign-in's second-factor challenge (under [`challenge`]).
    pub const MFA: &str = "MFA";
    /// An account's authenticator app (under its [`user`] key).
    pub const TOTP: &str = "TOTP";

    /// The sort keys of an account's passkeys (under its [`user`] key) begin with this.
    pub const PASSKEY_PREFIX: &str = "PASSKEY#";

    /// One passkey of an account, by its id (see `ops::passkeys::passkey_id`).
    pub fn passkey(passkey_id: &str) -> String {
        format!("{PASSKEY_PREFIX}{passkey_id}")
    }

    /// The claim that makes a WebAuthn credential id (base64url) belong to one account.
    pub fn credential(credential_id: &str) -> String {
        format!("CREDENTIAL#{credential_id}")
    }

    /// A sign-in at another provider between its start and its callback, by the SHA-256 of
    /// its `state`.
    pub fn oauth_state(state_digest: &str) -> String {
        format!("OAUTH#{state_digest}")
    }

    pub const STATE: &str = "STATE";

    /// The claim that makes a provider's identity (issuer and subject) belong to one account.
    pub fn identity(issuer: &str, subject: &str) -> String {
        format!("IDENTITY#{issuer}#{subject}")
    }

    /// A one-time sign-in code a provider's callback hands the frontend, by its SHA-256.
    pub fn provider_code(digest: &str) -> String {
        format!("SIGNIN#{digest}")
    }

    /// A WebAuthn ceremony's state, between its options and its response.
    pub fn ceremony(ceremony_id: &str) -> String {
        format!("CEREMONY#{ceremony_id}")
    }

    /// A passkey's registration by a signed-in user (under [`ceremony`]).
    pub const PASSKEY_REGISTRATION: &str = "REGISTRATION";
    /// A sign-in with a passkey, no identifier typed (under [`ceremony`]).
    pub const PASSKEY_SIGN_IN: &str = "SIGN_IN";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Written, code not yet delivered: rolled back on a failed send, expires if a crash
    /// leaves it here.
    Pending,
    /// The code was delivered.
    Active,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    pub user_id: String,
    /// `"email"` or `"phone"`.
    pub identifier_type: String,
    /// The normalised identifier (lowercased email, E.164 phone).
    pub identifier: String,
    /// The address codes go to, as the user typed it (trimmed).
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub password_hash: String,
    pub status: UserStatus,
    pub verified: bool,
    pub created_at: i64,
    /// Absent once verified: a verified account never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Key of the only code that may verify this account; a resend moves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_pk: Option<String>,
    /// Key of the only password-reset code that works (sort key [`keys::RESET`]); each
    /// forgot-password request moves it, a reset removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_code_pk: Option<String>,
    /// Sessions started in an earlier generation have ended: signing out everywhere, a
    /// password reset or change moves it on by one, and every refresh checks it.
    #[serde(default)]
    pub session_generation: u64,
    /// An authenticator app is turned on: a password sign-in needs its code as well.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub totp: bool,
    /// How many passkeys the account has: with one, a password sign-in needs a second
    /// factor too, and a passkey alone signs in.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub passkeys: u32,
    /// The other providers this account signs in with: name → the key of its identity's
    /// claim.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub providers: std::collections::BTreeMap<String, String>,
    /// Created by a provider's sign-in: its password hash is of random bytes nobody knows,
    /// until a password reset sets one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_password: bool,
    /// Disabled by an operator (when, and the reason they gave): no sign-in, refresh or
    /// bearer route works until they enable it. Every session-continuing condition holds
    /// its absence (see `generation_is`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Key of the [`UNVERIFIED_INDEX`]: set when a registration commits, removed when the
    /// account is verified, so the sweeper finds expired unverified accounts without a scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
    /// A requested change of identifier, until its code confirms it: the code's key (sort
    /// key [`keys::CHANGE`]) and the new identifier (type, normalised form, address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_code_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_identifier_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_address: Option<String>,
    /// What each subscribing service acknowledged of its `user.created`: service →
    /// `created` or `failed` (absent: pending). See `provisioning`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub provisioning: std::collections::BTreeMap<String, String>,
    /// Key of the timeline index ([`crate::provisioning::AWAITING`]) from the account's
    /// creation until every configured service has acknowledged it, so the sweeper counts the
    /// unacknowledged without a scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<String>,
}

/// The sparse index of accounts that may expire unverified (`unverified`, by `expires_at`).
pub const UNVERIFIED_INDEX: &str = "unverified-accounts";
/// The one value of `unverified`, the index's partition key.
pub const UNVERIFIED: &str = "UNVERIFIED";

impl UserItem {
    /// A new account's profile: `user_id` signing in with `identifier` and `password_hash`,
    /// active, unverified, never expiring, with nothing else on it yet; `timeline` is
    /// [`crate::Config::awaiting`]. Each way of making an account sets what differs.
    pub fn new(
        user_id: &str,
        identifier: &crate::domain::Identifier,
        password_hash: String,
        created_at: i64,
        timeline: Option<String>,
    ) -> Self {
        Self {
            pk: super::keys::user(user_id),
            sk: super::keys::PROFILE.to_owned(),
            user_id: user_id.to_owned(),
            identifier_type: identifier.kind().as_str().to_owned(),
            identifier: identifier.normalized().to_owned(),
            address: identifier.address().to_owned(),
            username: None,
            password_hash,
            status: UserStatus::Active,
            verified: false,
            created_at,
            expires_at: None,
            code_pk: None,
            reset_code_pk: None,
            session_generation: 0,
            totp: false,
            passkeys: 0,
            providers: Default::default(),
            no_password: false,
            disabled_at: None,
            disabled_reason: None,
            unverified: None,
            change_code_pk: None,
            new_identifier_type: None,
            new_identifier: None,
            new_address: None,
            provisioning: Default::default(),
            timeline,
        }
    }

    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// Whether a password (or an OTP) alone is not enough to sign in.
    pub fn has_second_factor(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Owns an identifier or username for one user. Its `expires_at` follows the user's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimItem {
    pub pk: String,
    pub sk: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl ClaimItem {
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A single-use code: a registration code (`CODE#…`, `SMSCODE#…`) or a sign-in OTP
/// (`CHALLENGE#…`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeItem {
    pub pk: String,
    pub sk: String,
    pub user_id: String,
    /// SHA-256 of a link code, or the keyed MAC of a 6-digit code.
    pub digest: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: u32,
    pub used: bool,
    /// The ids of the tries taken (a string set), at most the allowed number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tries: Vec<String>,
    /// For a 6-digit code: the identifier it went to (keyed like its claim), whose daily
    /// window of code tries each try also takes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_key: Option<String>,
    /// For a second-factor challenge: how the first factor was proved (`amr` values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// For a second-factor challenge of an account with passkeys: the WebAuthn assertion's
    /// state (JSON), which its `passkey_options` were made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<String>,
}

/// A passkey of an account. The credential id is claimed (a [`ClaimItem`] under
/// [`keys::credential`]) in the same transaction that writes it, so it belongs to one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyItem {
    pub pk: String,
    pub sk: String,
    pub passkey_id: String,
    pub user_id: String,
    /// The WebAuthn credential id, base64url.
    pub credential_id: String,
    pub name: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// The verified credential as the WebAuthn library keeps it (public key, signature
    /// counter, backup flags), JSON.
    pub credential: String,
    /// Its signature counter, beside it for the condition that refuses a regression.
    #[serde(default)]
    pub sign_count: u32,
}

/// A sign-in at another provider between its start and its callback: single use, 10
/// minutes. `link_user_id` when a signed-in user links the provider to their account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthStateItem {
    pub pk: String,
    pub sk: String,
    pub provider: String,
    /// The frontend page the flow returns to (one of the configured ones).
    pub redirect_uri: String,
    pub pkce_verifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_user_id: Option<String>,
    /// The SHA-256 of the secret the starting browser holds in a cookie (a sign-in's): the
    /// callback is taken only from that browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_digest: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used: bool,
}

/// A WebAuthn ceremony between its options and its response: single use, 5 minutes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeremonyItem {
    pub pk: String,
    pub sk: String,
    /// The account a registration is for; a sign-in's is not known until its response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The library's ceremony state (the challenge, the policy it was asked with), JSON.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used: bool,
}

/// An account's authenticator app (RFC 6238 TOTP): pending from `POST /me/totp` until a
/// code confirms it, then enabled. Its secret is sealed (see `crypto::sealed`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpItem {
    pub pk: String,
    pub sk: String,
    pub user_id: String,
    pub secret: String,
    pub enabled: bool,
    pub created_at: i64,
    /// A pending enrolment lapses (TTL); an enabled one has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Confirmation tries of a pending enrolment, counted before comparing.
    #[serde(default)]
    pub attempts: u32,
    /// The last time step a code was accepted for: a code of that step or an earlier one
    /// is refused (RFC 6238 §5.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<i64>,
    /// Keyed digests of the unused recovery codes (a string set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<String>,
}

/// A forgot-password request: recorded in the request's own transaction (the same writes
/// whether or not an account holds the identifier), and served from the table's stream,
/// where the account is looked up and a code sent if one holds it. `handled_at` is set
/// with the code, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForgotItem {
    pub pk: String,
    pub sk: String,
    /// `"email"` or `"phone"`, and the normalised identifier (the claim's key).
    pub identifier_type: String,
    pub identifier: String,
    pub created_at: i64,
    /// Not served after this (TTL removes it).
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_at: Option<i64>,
}

/// Recent sends to one identifier, with a version for optimistic concurrency.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RateItem {
    pub pk: String,
    pub sk: String,
    pub sends: Vec<i64>,
    pub version: u64,
    pub expires_at: i64,
}

/// Consecutive failed sign-ins of one identifier and the lock they caused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginGateItem {
    pub pk: String,
    pub sk: String,
    pub failures: u32,
    /// Epoch milliseconds: a lock lasts its full length whenever in a second it began.
    #[serde(default)]
    pub locked_until_ms: i64,
    pub version: u64,
    pub expires_at: i64,
}

/// One refresh token, stored by its digest. `rotated_at_ms` is set once, when it is
/// exchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshItem {
    pub pk: String,
    pub sk: String,
    pub family_id: String,
    pub user_id: String,
    pub created_at: i64,
    /// When a token rotated before milliseconds were kept was exchanged, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<i64>,
    /// When the request that rotated it arrived, in milliseconds: the grace window for a
    /// duplicate is measured from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at_ms: Option<i64>,
    /// The family's end: tokens never outlive the sign-in they descend from.
    pub expires_at: i64,
    /// The family's session generation, copied so that a refresh need not read the family
    /// (tokens written before it was copied have none; their refresh reads the family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// The sign-in's `amr` and `auth_time`, copied for the same reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl RefreshItem {
    /// When it was rotated, in milliseconds (a token rotated before milliseconds were kept:
    /// the start of its second), or `None` while it has not been.
    pub fn rotated_ms(&self) -> Option<i64> {
        self.rotated_at_ms
            .or_else(|| self.rotated_at.map(|secs| secs * 1000))
    }
}

/// A session: the refresh-token family of one sign-in. Its id is the `sid` of the access
/// tokens issued in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FamilyItem {
    pub pk: String,
    pub sk: String,
    pub family_id: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
    /// The account's session generation at sign-in; the session lives while they agree.
    #[serde(default)]
    pub generation: u64,
    /// Key of the [`SESSIONS_INDEX`] (the user id); revoking a session removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_user: Option<String>,
    /// When the session was last refreshed (set by the refresh's own transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// As recorded at sign-in, shown back in the session list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// How and when the sign-in proved who the user is (RFC 8176 `amr`, `auth_time`);
    /// sessions started before they were kept have neither.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// The index of sessions by user (`session_user`, newest `created_at` first), so the list
/// of a user's sessions is a query, never a scan. Sparse: only live families carry its key.
pub const SESSIONS_INDEX: &str = "user-sessions";
