//! An authenticator app (RFC 6238 TOTP: 6 digits, 30-second steps, one step either side):
//! `POST /me/totp` starts a pending enrolment, `POST /me/totp/confirm` turns it on with a
//! current code and answers 10 single-use recovery codes once, `DELETE /me/totp` turns it
//! off with the password and a current code, `POST /me/totp/recovery-codes` replaces the
//! recovery codes. A code's time step is accepted once; tries are counted before any
//! comparison. The secret is stored sealed (`crypto::sealed`), the recovery codes as keyed
//! digests.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::crypto::{self, sealed};
use crate::domain::Password;
use crate::notify::Notice;
use crate::ops::bearer::Caller;
use crate::ops::budgets::Origin;
use crate::ops::{Base, Delivers, Hashes, Keyed, audit, login, notices};
use crate::store::{Audit, EnrolmentTry, TotpItem, UserItem, keys};

/// Tries at a pending enrolment, and at a sign-in's second-factor challenge.
pub const MAX_TRIES: u32 = 5;
/// How long a pending enrolment waits for its first code.
const ENROLMENT_TTL_SECS: i64 = 600;
/// How recent a sign-in must be for a sensitive change without the password.
pub const STEP_UP_SECS: i64 = 600;
const RECOVERY_CODES: usize = 10;
/// What the secret is sealed for (the key derivation's purpose).
const SEALED_FOR: &str = "totp-secret";

/// A sensitive route's body (`POST /me/totp`, a passkey's registration or removal, new
/// recovery codes): the password, needed unless the session signed in within 10 minutes.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub password: Option<String>,
}

redacted_debug!(StepUpRequest { ; password });

/// A pending enrolment: the secret (base32, for typing in) and the `otpauth://` URI (for a QR
/// code). Shown once; the service keeps only the sealed secret.
#[derive(Serialize, Deserialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

redacted_debug!(Enrolment { ; secret, otpauth_uri });

/// `POST /me/totp/confirm`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub totp: String,
}

redacted_debug!(CodeRequest { ; totp });

/// `DELETE /me/totp`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    pub password: String,
    pub totp: String,
}

redacted_debug!(DisableRequest { ; password, totp });

/// Recovery codes, shown once.
#[derive(Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

redacted_debug!(RecoveryCodes { ; recovery_codes });

/// Step-up for a sensitive change: the password in the body (checked and counted toward the
/// login lock, as at sign-in), or a session that signed in within the last 10 minutes.
pub async fn step_up(
    app: &impl Hashes,
    caller: &Caller,
    password: Option<String>,
) -> Result<(), AuthError> {
    if let Some(password) = password {
        return login::check_password(app, &caller.user, &Password::for_login(password)).await;
    }
    match caller.auth_time {
        Some(at) if app.now() - at <= STEP_UP_SECS => Ok(()),
        _ => Err(AuthError::ReauthenticationRequired),
    }
}

/// The label authenticator apps show: the issuer's host and the account's address.
fn totp_of(app: &impl Base, user: &UserItem, secret: Vec<u8>) -> Result<totp_rs::Totp, AuthError> {
    let issuer = app.config().issuer.as_str();
    let host = issuer
        .split_once("://")
        .map_or(issuer, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_issuer(Some(host))
        .with_account_name(user.address.replace(':', ""))
        .build()
        .map_err(|e| AuthError::internal(format!("TOTP parameters refused: {e}")))
}

async fn secret_of(app: &impl Keyed, item: &TotpItem) -> Result<Vec<u8>, AuthError> {
    sealed::open(
        &app.hmac_key().await?,
        SEALED_FOR,
        &item.user_id,
        &item.secret,
    )
}

/// The time step `code` is right for at `now` (one step either side), if any.
fn matching_step(
    app: &impl Base,
    user: &UserItem,
    secret: Vec<u8>,
    code: &str,
    now: i64,
) -> Result<Option<i64>, AuthError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp_of(app, user, secret)?;
    let now = u64::try_from(now).map_err(|_| AuthError::internal("a clock before 1970"))?;
    Ok(totp
        .check(code, now)
        .and_then(|step| i64::try_from(step).ok()))
}

/// Starts an enrolment (replacing a pending one): a new 160-bit secret, sealed.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn enrol(
    app: &(impl Keyed + Hashes),
    caller: &Caller,
    request: StepUpRequest,
) -> Result<Enrolment, AuthError> {
    step_up(app, caller, request.password).await?;
    let user = &caller.user;
    if user.totp {
        return Err(AuthError::TotpAlreadyEnabled);
    }
    let now = app.now();
    let secret = crypto::random_array::<20>()?.to_vec();
    let item = TotpItem {
        pk: user.pk.clone(),
        sk: keys::TOTP.to_owned(),
        user_id: user.user_id.clone(),
        secret: sealed::seal(&app.hmac_key().await?, SEALED_FOR, &user.user_id, &secret)?,
        enabled: false,
        created_at: now,
        expires_at: Some(now + ENROLMENT_TTL_SECS),
        attempts: 0,
        last_step: None,
        recovery: Vec::new(),
    };
    if !app.store().start_enrolment(&item).await? {
        return Err(AuthError::TotpAlreadyEnabled);
    }
    let totp = totp_of(app, user, secret)?;
    tracing::info!("authenticator app enrolment started");
    Ok(Enrolment {
        secret: totp.secret().to_base32(),
        otpauth_uri: totp
            .to_url()
            .map_err(|e| AuthError::internal(format!("otpauth URI: {e}")))?,
    })
}

/// Turns a pending enrolment on with a current code, and answers its recovery codes.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn confirm(
    app: &(impl Keyed + Delivers),
    caller: &Caller,
    request: CodeRequest,
) -> Result<RecoveryCodes, AuthError> {
    let user = &caller.user;
    let now = app.now();
    let pending = match app
        .store()
        .take_enrolment_try(&user.user_id, MAX_TRIES, now)
        .await?
    {
        EnrolmentTry::Taken(item) => item,
        EnrolmentTry::Gone if user.totp => return Err(AuthError::TotpAlreadyEnabled),
        EnrolmentTry::Gone => return Err(AuthError::InvalidCode),
    };
    let secret = secret_of(app, &pending).await?;
    let Some(step) = matching_step(app, user, secret, &request.totp, now)? else {
        return Err(AuthError::InvalidCode);
    };
    let (codes, digests) = new_recovery_codes(app, &user.user_id).await?;
    let audit = audit::by_caller(app, caller, audit::TOTP_ENABLED, None)?;
    if !app
        .store()
        .enable_totp(&pending, step, digests, audit)
        .await?
    {
        // Replaced by a new enrolment, or confirmed by a twin request meanwhile.
        return Err(AuthError::InvalidCode);
    }
    tracing::info!("authenticator app turned on");
    notices::tell(app, user, Notice::TotpEnabled).await;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Turns the authenticator app off, after the password and a current code.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn disable(
    app: &(impl Keyed + Hashes + Delivers),
    caller: &Caller,
    request: DisableRequest,
) -> Result<(), AuthError> {
    let user = &caller.user;
    if !user.totp {
        return Err(AuthError::TotpNotEnabled);
    }
    login::check_password(app, user, &Password::for_login(request.password)).await?;
    if !accept_code(app, user, &request.totp, app.now()).await? {
        return Err(AuthError::InvalidCode);
    }
    let audit = audit::by_caller(app, caller, audit::TOTP_DISABLED, None)?;
    if !app.store().disable_totp(user, audit).await? {
        return Err(AuthError::TotpNotEnabled);
    }
    tracing::info!("authenticator app turned off");
    notices::tell(app, user, Notice::TotpDisabled).await;
    Ok(())
}

/// New recovery codes for an enabled authenticator app; the old ones stop working.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn replace_recovery_codes(
    app: &(impl Keyed + Hashes),
    caller: &Caller,
    request: StepUpRequest,
) -> Result<RecoveryCodes, AuthError> {
    step_up(app, caller, request.password).await?;
    let user = &caller.user;
    if !user.totp {
        return Err(AuthError::TotpNotEnabled);
    }
    let (codes, digests) = new_recovery_codes(app, &user.user_id).await?;
    if !app
        .store()
        .replace_recovery_codes(
            &user.user_id,
            digests,
            audit::by_caller(app, caller, audit::RECOVERY_CODES_REPLACED, None)?,
        )
        .await?
    {
        return Err(AuthError::TotpNotEnabled);
    }
    tracing::info!("recovery codes replaced");
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Whether `code` is a current code of the account's enabled authenticator app, accepting
/// its time step once: a code already used (or of an earlier step than one used) is not.
pub(crate) async fn accept_code(
    app: &impl Keyed,
    user: &UserItem,
    code: &str,
    now: i64,
) -> Result<bool, AuthError> {
    let Some(item) = app
        .store()
        .get::<TotpItem>(&user.pk, keys::TOTP)
        .await?
        .filter(|t| t.enabled)
    else {
        return Ok(false);
    };
    let secret = secret_of(app, &item).await?;
    match matching_step(app, user, secret, code, now)? {
        Some(step) => app.store().accept_totp_step(&user.user_id, step).await,
        None => Ok(false),
    }
}

/// Spends a recovery code of the account, once (recorded as used from `origin`).
pub(crate) async fn spend_recovery_code(
    app: &impl Keyed,
    user: &UserItem,
    code: &str,
    origin: &Origin,
) -> Result<bool, AuthError> {
    let Some(normalized) = normalize_recovery_code(code) else {
        return Ok(false);
    };
    let digest = recovery_digest(&app.hmac_key().await?, &user.user_id, &normalized);
    app.store()
        .spend_recovery_code(&user.user_id, &digest, {
            let audit = Audit::event(audit::RECOVERY_CODE_USED).from(origin);
            vec![app.store().audited(&user.user_id, &audit, app.now_ms())?]
        })
        .await
}

/// The alphabet of recovery codes: lowercase letters and digits without 0/o, 1/l/i.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Ten new codes (`xxxxx-xxxxx`, about 49 bits each) and their keyed digests.
async fn new_recovery_codes(
    app: &impl Keyed,
    user_id: &str,
) -> Result<(Vec<String>, Vec<String>), AuthError> {
    let hmac_key = app.hmac_key().await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut digests = Vec::with_capacity(RECOVERY_CODES);
    while codes.len() < RECOVERY_CODES {
        let bytes = crypto::random_array::<10>()?;
        let chars: String = bytes
            .iter()
            // 256 is not a multiple of 31: the slight bias costs under 0.1 bit per code.
            .map(|b| RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()] as char)
            .collect();
        let digest = recovery_digest(&hmac_key, user_id, &chars);
        if digests.contains(&digest) {
            continue;
        }
        codes.push(format!("{}-{}", &chars[..5], &chars[5..]));
        digests.push(digest);
    }
    Ok((codes, digests))
}

/// A recovery code as typed (any case, with or without the dash or spaces), or `None`.
fn normalize_recovery_code(code: &str) -> Option<String> {
    let chars: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (chars.len() == 10 && chars.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(chars)
}

/// A recovery code's keyed digest, bound to its account.
fn recovery_digest(hmac_key: &[u8], user_id: &str, code: &str) -> String {
    crypto::hmac_sha256_hex(
        hmac_key,
        &[
            b"recovery-code\0",
            user_id.as_bytes(),
            b"\0",
            code.as_bytes(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_read_as_typed() {
        assert_eq!(
            normalize_recovery_code("ABCDE-fghjk").as_deref(),
            Some("abcdefghjk")
        );
        assert_eq!(
            normalize_recovery_code(" abcde fghjk ").as_deref(),
            Some("abcdefghjk")
        );
        assert_eq!(normalize_recovery_code("abcde-fghj"), None);
        assert_eq!(normalize_recovery_code("abcde-fghj0"), None, "no zero");
    }
}
