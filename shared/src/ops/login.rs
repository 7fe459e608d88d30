//! `POST /login` and `POST /login/otp`. Unknown users and wrong passwords get the same answer
//! after the same work. Failures are counted per identifier, whether or not an account holds
//! it; the n-th consecutive failure (n ≥ 5) locks for min(2^(n−5), 900) seconds. An unverified
//! identifier with the right password gets an OTP, and the OTP verifies it.

use serde::Deserialize;

use crate::AuthError;
use crate::crypto;
use crate::domain::{Identifier, Password, SmsCode};
use crate::notify::{Notice, Outgoing};
use crate::ops::budgets::{self, Origin};
use crate::ops::limits::SendSlot;
use crate::ops::session::{self, NewSession, SignedIn, TokenPair};
use crate::ops::{Base, Delivers, Hashes, Issues, Keyed};
use crate::ops::{MAX_ROUNDS, audit, find_account, notices, passkeys, totp, verify};
use crate::store::{
    Audit, CodeItem, CodeTry, GatePolicy, LoginGateItem, TxOutcome, UserItem, VerifiedBy, keys,
};

/// Failures before the first lock.
const FREE_FAILURES: u32 = 5;
/// The longest lock.
const MAX_LOCK_SECS: i64 = 900;
/// How long failures are remembered without a new attempt.
const GATE_MEMORY_SECS: i64 = 24 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub phone: Option<String>,
    pub password: String,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    pub challenge_id: String,
    pub otp: String,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: Origin,
}

redacted_debug!(OtpRequest { challenge_id; otp });

/// How long the n-th consecutive failure locks the identifier.
pub fn lock_secs(failures: u32) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let exponent = (failures - FREE_FAILURES).min(10);
    (1i64 << exponent).min(MAX_LOCK_SECS)
}

const GATE: GatePolicy = GatePolicy {
    free_failures: FREE_FAILURES,
    lock_secs,
    memory_secs: GATE_MEMORY_SECS,
};

/// Takes one attempt for an identifier, counting it as a failure until it succeeds, so that
/// concurrent attempts cannot get more tries than the lock allows.
async fn take_attempt(app: &impl Base, gate_pk: &str) -> Result<LoginGateItem, AuthError> {
    app.store()
        .take_login_attempt(gate_pk, app.now_ms(), &GATE)
        .await
}

/// The login gate of the identifier an account holds.
pub(crate) fn gate_of(user: &UserItem) -> Result<String, AuthError> {
    let kind = verify::kind_of(user)?;
    Ok(keys::login_gate(&keys::identifier(kind, &user.identifier)))
}

/// Checks a signed-in user's password before a sensitive change, counted toward the
/// identifier's login lock exactly as a sign-in is: `rate_limited` while locked,
/// `invalid_credentials` when wrong, and a success ends the run of failures.
pub(crate) async fn check_password(
    app: &impl Hashes,
    user: &UserItem,
    password: &Password,
) -> Result<(), AuthError> {
    let gate = take_attempt(app, &gate_of(user)?).await?;
    if !app
        .hasher()
        .verify(password, Some(&user.password_hash))
        .await?
    {
        tracing::info!(
            failures = gate.failures,
            "wrong password for a signed-in user"
        );
        return Err(AuthError::InvalidCredentials);
    }
    app.store().clear_login_failures(&gate).await
}

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn login(
    app: &(impl Keyed + Delivers + Hashes + Issues),
    request: LoginRequest,
) -> Result<TokenPair, AuthError> {
    let identifier = Identifier::from_pair(request.email.as_deref(), request.phone.as_deref())?;
    let password = Password::for_login(request.password);
    let claim_pk = keys::identifier(identifier.kind(), identifier.normalized());

    // Counted against the caller's address first: a spray over many identifiers meets it.
    let failure = budgets::take_failure_try(app, &request.origin, app.now()).await?;
    let gate = take_attempt(app, &keys::login_gate(&claim_pk)).await?;
    let account = match find_account(app, &claim_pk, app.now()).await? {
        // No account here: the Cognito pool being migrated from may know the user.
        None => crate::ops::migrate::on_sign_in(app, &identifier, &password).await?,
        found => found,
    };
    let hash = account.as_ref().map(|u| u.password_hash.as_str());
    if !app.hasher().verify(&password, hash).await? {
        tracing::info!(failures = gate.failures, "sign-in failed");
        let failed = Audit::event(audit::SIGN_IN_FAILED)
            .from(&request.origin)
            .amr(&["pwd".to_owned()]);
        // The same write whether or not an account holds the identifier (no answer's time
        // tells which): for none, a record nobody reads that lapses within the hour.
        match &account {
            Some(user) => {
                app.store()
                    .audit_alone(&user.user_id, &failed, app.now_ms())
                    .await
            }
            None => app.store().audit_nobody(&failed, app.now_ms()).await,
        }
        return Err(AuthError::InvalidCredentials);
    }
    let Some(user) = account else {
        return Err(AuthError::InvalidCredentials);
    };
    tracing::Span::current().record("user_id", user.user_id.as_str());
    if user.is_disabled() {
        failure.succeeded(app).await?;
        app.store().clear_login_failures(&gate).await?;
        return Err(crate::ops::disabled(&user));
    }
    // An imported hash (or one made at earlier parameters) is replaced by the service's hash
    // of the password just checked: in the session's own transaction below, or on a write of
    // its own now when the sign-in goes on to a code or a second factor.
    let mut rehash = if crypto::password::needs_rehash(&user.password_hash) {
        Some(app.hasher().hash(&password).await?)
    } else {
        None
    };
    let user = match rehash.take_if(|_| !user.verified || user.has_second_factor()) {
        Some(new) => rehashed_alone(app, user, new).await?,
        None => user,
    };
    if !user.verified {
        failure.succeeded(app).await?;
        app.store().clear_login_failures(&gate).await?;
        // The OTP goes where the account's codes go: the address as registered.
        let stored = verify::stored_identifier(&user)?;
        return Err(challenge(app, &user, &stored, &request.origin).await?);
    }
    if user.has_second_factor() {
        // The address gets its try back; the identifier's run of failures goes on until
        // the second factor is right, so guesses at it meet the lock.
        failure.succeeded(app).await?;
        return Err(second_factor(app, &user, SignedIn::password(app.now())).await?);
    }
    // The success ends the run of failures, and gives the address its try back, in the
    // session's own transaction.
    let mut also = vec![
        app.store()
            .login_failures_cleared(&gate, app.now(), &GATE)?,
    ];
    also.extend(failure.succeeded_with(app)?);
    let signed_in = SignedIn::password(app.now());
    session::start_rehashing(app, &user, &request.origin, signed_in, &also, rehash).await
}

/// `user` with its hash replaced by `new`, the service's hash of the password just checked,
/// on a write of its own: for a sign-in that goes on to a code or a second factor, and so
/// starts no session on the password. It holds what the session's transaction would (the
/// checked hash still the account's, the generation unchanged): a change or reset that
/// commits first refuses the sign-in.
async fn rehashed_alone(
    app: &impl Base,
    user: UserItem,
    new: String,
) -> Result<UserItem, AuthError> {
    let write = app.store().password_rehashed(
        &user.user_id,
        user.session_generation,
        &user.password_hash,
        &new,
    )?;
    if app.store().transact(vec![write]).await? == TxOutcome::Committed {
        return Ok(UserItem {
            password_hash: new,
            ..user
        });
    }
    match app.store().get::<UserItem>(&user.pk, keys::PROFILE).await? {
        Some(current) if current.is_disabled() => Err(crate::ops::disabled(&current)),
        // Re-hashed first by a twin sign-in, with the same password (the generation held).
        Some(current) if current.session_generation == user.session_generation => Ok(current),
        _ => {
            tracing::info!("password changed while signing in; sign-in refused");
            Err(AuthError::InvalidCredentials)
        }
    }
}

/// How long a second-factor challenge lives.
const MFA_CHALLENGE_SECS: i64 = 300;

/// `POST /login/mfa`: the challenge of `mfa_required` and exactly one second factor.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaRequest {
    pub challenge_id: String,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub totp: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub recovery_code: Option<String>,
    /// A WebAuthn assertion (`AuthenticationResponseJSON`).
    #[serde(default)]
    pub credential: Option<serde_json::Value>,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: Origin,
}

redacted_debug!(MfaRequest { challenge_id; totp, recovery_code, credential });

/// The methods an account's second factor can be proved with, as `mfa_required` lists them.
fn methods_of(user: &UserItem) -> Vec<&'static str> {
    let mut methods = Vec::new();
    if user.totp {
        methods.push("totp");
    }
    if user.passkeys > 0 {
        methods.push("passkey");
    }
    if user.totp {
        methods.push("recovery_code");
    }
    methods
}

/// The `mfa_required` answer to a right first factor (`first`) of an account with a second
/// factor: a challenge, single use, 5 minutes, 5 tries, bound to the password as it stands
/// (a change or reset meanwhile makes it invalid).
pub(crate) async fn second_factor(
    app: &impl Base,
    user: &UserItem,
    first: SignedIn,
) -> Result<AuthError, AuthError> {
    let now = app.now();
    let challenge_id = uuid::Uuid::new_v4().to_string();
    let (passkey_options, ceremony) = if user.passkeys > 0 {
        let (options, state) = passkeys::second_factor_options(app, user).await?;
        (Some(options), Some(state))
    } else {
        (None, None)
    };
    let item = CodeItem {
        pk: keys::challenge(&challenge_id),
        sk: keys::MFA.to_owned(),
        user_id: user.user_id.clone(),
        digest: crypto::sha256_hex(user.password_hash.as_bytes()),
        created_at: now,
        expires_at: now + MFA_CHALLENGE_SECS,
        attempts: 0,
        used: false,
        tries: Vec::new(),
        identifier_key: None,
        amr: first.amr,
        ceremony,
    };
    if !app.store().insert(&item).await? {
        return Err(AuthError::internal("a new challenge id was taken"));
    }
    tracing::info!("second factor required");
    Ok(AuthError::MfaRequired {
        challenge_id,
        methods: methods_of(user),
        passkey_options,
    })
}

/// Finishes a sign-in that answered `mfa_required`. The challenge's try is counted before
/// anything is compared (5 per challenge), the caller's address takes a failure try, and the
/// identifier's login gate an attempt, so wrong codes meet every limit a password guess
/// does. The session starts in the sign-in's own generation, on the password it checked.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn login_mfa(
    app: &(impl Keyed + Delivers + Issues),
    request: MfaRequest,
) -> Result<TokenPair, AuthError> {
    enum Factor {
        Totp(String),
        Recovery(String),
        Passkey(serde_json::Value),
    }
    let factor = match (request.totp, request.recovery_code, request.credential) {
        (Some(code), None, None) => Factor::Totp(code),
        (None, Some(code), None) => Factor::Recovery(code),
        (None, None, Some(credential)) => Factor::Passkey(credential),
        _ => {
            return Err(AuthError::InvalidRequest(
                "exactly one of totp, recovery_code or credential is required".to_owned(),
            ));
        }
    };
    let Ok(challenge_id) = uuid::Uuid::parse_str(&request.challenge_id) else {
        return Err(AuthError::InvalidChallenge);
    };
    let now = app.now();
    let failure = budgets::take_failure_try(app, &request.origin, now).await?;
    let pk = keys::challenge(&challenge_id.to_string());
    let challenge = match app
        .store()
        .take_code_try(&pk, keys::MFA, totp::MAX_TRIES, now)
        .await?
    {
        CodeTry::Taken(challenge) => *challenge,
        CodeTry::Burned => return Err(AuthError::TooManyAttempts),
        CodeTry::Gone => return Err(AuthError::InvalidChallenge),
    };
    let Some(user) = app
        .store()
        .get::<UserItem>(&keys::user(&challenge.user_id), keys::PROFILE)
        .await?
        .filter(|u| {
            u.is_live(now) && crypto::sha256_hex(u.password_hash.as_bytes()) == challenge.digest
        })
    else {
        return Err(AuthError::InvalidChallenge);
    };
    tracing::Span::current().record("user_id", user.user_id.as_str());
    crate::ops::refuse_disabled(&user)?;
    let gate = take_attempt(app, &gate_of(&user)?).await?;
    let recovery = matches!(factor, Factor::Recovery(_));
    let passkey = matches!(factor, Factor::Passkey(_));
    let proved: Option<Vec<String>> = match factor {
        Factor::Totp(ref code) => totp::accept_code(app, &user, code, now)
            .await?
            .then(|| vec!["otp".to_owned()]),
        Factor::Recovery(ref code) => totp::spend_recovery_code(app, &user, code, &request.origin)
            .await?
            .then(|| vec!["otp".to_owned()]),
        Factor::Passkey(credential) => match challenge.ceremony.as_deref() {
            Some(state) => passkeys::second_factor(app, &user, state, credential, now).await?,
            None => None,
        },
    };
    let Some(proved) = proved else {
        tracing::info!(failures = gate.failures, "wrong second factor");
        return Err(if passkey {
            AuthError::InvalidCredential
        } else {
            AuthError::InvalidCode
        });
    };
    if !app.store().spend_code(&challenge, now).await? {
        // A twin request finished this sign-in first.
        return Err(AuthError::InvalidChallenge);
    }
    if recovery {
        notices::tell(app, &user, Notice::RecoveryCodeUsed).await;
    }
    let mut amr = challenge.amr.clone();
    for method in proved.into_iter().chain(["mfa".to_owned()]) {
        if !amr.contains(&method) {
            amr.push(method);
        }
    }
    let signed_in = SignedIn {
        amr,
        auth_time: Some(now),
    };
    let mut also = vec![app.store().login_failures_cleared(&gate, now, &GATE)?];
    also.extend(failure.succeeded_with(app)?);
    session::start_checked(app, &user, &request.origin, signed_in, &also).await
}

/// Sends a sign-in OTP to an unverified identifier and answers `verification_required`.
async fn challenge(
    app: &(impl Keyed + Delivers),
    user: &UserItem,
    identifier: &Identifier,
    origin: &Origin,
) -> Result<AuthError, AuthError> {
    let claim_pk = keys::identifier(identifier.kind(), identifier.normalized());
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let slot = SendSlot::take(app.store(), app.config(), &claim_pk, now).await?;
        budgets::take_send(app, origin, identifier.kind().channel(), now).await?;
        let challenge_id = uuid::Uuid::new_v4().to_string();
        let otp = SmsCode::generate()?;
        let item = CodeItem {
            pk: keys::challenge(&challenge_id),
            sk: keys::OTP.to_owned(),
            user_id: user.user_id.clone(),
            digest: otp_digest(app, &challenge_id, otp.expose()).await?,
            created_at: now,
            expires_at: now + app.config().login_otp_ttl_secs,
            attempts: 0,
            used: false,
            tries: Vec::new(),
            identifier_key: Some(claim_pk.clone()),
            amr: Vec::new(),
            ceremony: None,
        };
        let items = vec![slot.write(app.store())?, app.store().put_new(&item)?];
        match app.store().transact(items).await? {
            TxOutcome::Committed => {}
            TxOutcome::Cancelled(_) => continue,
        }
        let message = match identifier {
            Identifier::Email(to) => Outgoing::EmailOtp {
                to: to.clone(),
                code: otp,
            },
            Identifier::Phone(to) => Outgoing::SmsOtp {
                to: to.clone(),
                code: otp,
            },
        };
        app.notifier()
            .send(&message)
            .await
            .map_err(AuthError::DeliveryFailed)?;
        tracing::info!("sign-in OTP sent to an unverified identifier");
        return Ok(AuthError::VerificationRequired {
            challenge_id,
            channel: identifier.kind().channel(),
        });
    }
    Err(AuthError::internal("sign-in challenge kept conflicting"))
}

async fn otp_digest(app: &impl Keyed, challenge_id: &str, otp: &str) -> Result<String, AuthError> {
    Ok(crypto::hmac_sha256_hex(
        &app.hmac_key().await?,
        &[
            b"login-otp\0",
            challenge_id.as_bytes(),
            b"\0",
            otp.as_bytes(),
        ],
    ))
}

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn login_with_otp(
    app: &(impl Keyed + Issues),
    request: OtpRequest,
) -> Result<TokenPair, AuthError> {
    let challenge_id = uuid::Uuid::parse_str(&request.challenge_id)
        .map_err(|_| AuthError::InvalidCode)?
        .to_string();
    let otp = SmsCode::parse(&request.otp)?;
    let pk = keys::challenge(&challenge_id);
    let presented = otp_digest(app, &challenge_id, otp.expose()).await?;

    // One try per request: a retry below re-reads the challenge, it takes no other try.
    let mut challenge = verify::try_code(
        app,
        &pk,
        keys::OTP,
        &presented,
        verify::Guessable::Counted,
        &request.origin,
        app.now(),
    )
    .await?;
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let Some(user) = app
            .store()
            .get::<UserItem>(&keys::user(&challenge.user_id), keys::PROFILE)
            .await?
            .filter(|u| u.is_live(now))
        else {
            return Err(AuthError::InvalidCode);
        };
        tracing::Span::current().record("user_id", user.user_id.as_str());
        crate::ops::refuse_disabled(&user)?;

        // The session it signs in to starts in the same transaction, in the account's
        // current session generation.
        let generation = user.session_generation;
        let signed_in = SignedIn::password_and_code(verify::kind_of(&user)?.channel(), now);
        // With a second factor, the code is spent (and verifies the account) and the
        // second factor is asked for.
        let session = NewSession::unless_second_factor(
            app,
            &user,
            generation,
            &request.origin,
            &signed_in,
            now,
        )?;
        let mut items = vec![app.store().code_spent(&challenge, now)?];
        // Verified some other way meanwhile: the OTP still signs in, and no second
        // `user.verified` is announced. An expired account cannot be verified.
        if user.verified {
            items.push(app.store().generation_held(&user.user_id, generation)?);
        } else {
            let by = VerifiedBy::Otp { generation };
            items.extend(verify::verify_account(app, &user, by, now)?);
        }
        if let Some(session) = &session {
            items.extend(session.writes(app, now)?);
        }
        match app.store().transact(items).await? {
            TxOutcome::Committed => {
                tracing::info!("identifier verified by sign-in OTP");
                return match session {
                    Some(session) => session.pair(app, now).await,
                    None => Err(second_factor(app, &user, signed_in).await?),
                };
            }
            TxOutcome::Cancelled(_) => {
                challenge = verify::still_unspent(app, &challenge, now).await?;
            }
        }
    }
    Err(AuthError::InvalidCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_doubles_from_the_fifth_failure_up_to_15_minutes() {
        let expected = [
            (1, 0),
            (4, 0),
            (5, 1),
            (6, 2),
            (7, 4),
            (10, 32),
            (14, 512),
            (15, 900),
            (40, 900),
        ];
        for (failures, secs) in expected {
            assert_eq!(lock_secs(failures), secs, "failure {failures}");
        }
    }
}
