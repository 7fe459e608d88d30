//! Passkeys (WebAuthn): a signed-in user registers them (`POST /me/passkeys/options`, then
//! `POST /me/passkeys`), lists, renames and removes them; anyone signs in with one without
//! typing an identifier (`POST /login/passkey/options`, then `POST /login/passkey`); and an
//! account's passkey is a second factor after its password (`POST /login/mfa`).
//!
//! The ceremonies are `webauthn-rs`'s: this module parses nothing of WebAuthn itself. Between
//! a ceremony's two requests, which may reach different Lambda instances, its state waits in
//! the table (single use, 5 minutes). User verification is required throughout, so a passkey
//! alone counts as two factors. A credential id belongs to one account (a claim condition),
//! and a use is recorded only when its signature counter moved forward (a condition too).

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};

use crate::AuthError;
use crate::config::PASSKEY_CEREMONY_SECS;
use crate::crypto::{self, SignedIn};
use crate::events::rfc3339;
use crate::notify::Notice;
use crate::ops::bearer::Caller;
use crate::ops::budgets::{self, Origin};
use crate::ops::session::{self, TokenPair};
use crate::ops::totp::{StepUpRequest, step_up};
use crate::ops::{Base, Delivers, Hashes, Issues, audit, notices};
use crate::store::{
    CeremonyItem, ClaimItem, PasskeyAdded, PasskeyItem, UserItem, UserStatus, keys,
};

/// Passkeys one account may have.
pub const MAX_PASSKEYS: u32 = 10;
/// The longest name a passkey may be given, in characters.
const MAX_NAME_CHARS: usize = 64;
/// The name of a passkey registered without one.
const DEFAULT_NAME: &str = "Passkey";

/// A ceremony's first answer: its id, to send back with the response, and the WebAuthn
/// Level 3 JSON options (`PublicKeyCredentialCreationOptionsJSON` or
/// `PublicKeyCredentialRequestOptionsJSON`), what `PublicKeyCredential.parse…FromJSON` takes.
#[derive(Debug, Serialize, Deserialize)]
pub struct CeremonyOptions {
    pub challenge_id: String,
    pub options: serde_json::Value,
}

/// `POST /me/passkeys`: the authenticator's response (`RegistrationResponseJSON`, what
/// `PublicKeyCredential.toJSON()` gives) to the options of `challenge_id`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    pub challenge_id: String,
    pub credential: serde_json::Value,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub name: Option<String>,
}

redacted_debug!(AddRequest { challenge_id, name; credential });

/// A body that may be absent or `{}`, and nothing else (`POST /login/passkey/options`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// `PATCH /me/passkeys/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    pub name: String,
}

/// `POST /login/passkey`: the assertion (`AuthenticationResponseJSON`) to the options of
/// `challenge_id`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub challenge_id: String,
    pub credential: serde_json::Value,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: Origin,
}

redacted_debug!(SignInRequest { challenge_id; credential });

/// A passkey as its owner sees it.
#[derive(Debug, Serialize, Deserialize)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

impl From<&PasskeyItem> for PasskeyView {
    fn from(item: &PasskeyItem) -> Self {
        Self {
            id: item.passkey_id.clone(),
            name: item.name.clone(),
            created_at: rfc3339(item.created_at),
            last_used_at: item.last_used_at.map(rfc3339),
        }
    }
}

/// `GET /me/passkeys`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

/// A passkey's id in the API and the table: 128 bits of the credential id's SHA-256,
/// base64url (credential ids run to 1023 bytes; this fits a path).
pub fn passkey_id(credential_id: &[u8]) -> String {
    let digest = crypto::sha256(credential_id);
    crypto::base64url(&digest[..16])
}

/// The WebAuthn user handle of an account: its id, a random UUID (nothing personal).
fn user_handle(user: &UserItem) -> Result<Uuid, AuthError> {
    Uuid::parse_str(&user.user_id).map_err(|_| AuthError::internal("a user id is not a UUID"))
}

/// A library error on a response the client sent: logged (it says what did not verify, no
/// secret), answered `invalid_credential`.
fn refused(error: impl std::fmt::Display) -> AuthError {
    tracing::info!(%error, "WebAuthn response refused");
    AuthError::InvalidCredential
}

/// A library error on the service's own inputs.
fn failed(error: impl std::fmt::Display) -> AuthError {
    AuthError::internal(format!("WebAuthn: {error}"))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, AuthError> {
    serde_json::to_string(value).map_err(AuthError::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, AuthError> {
    serde_json::from_str(text).map_err(AuthError::internal)
}

/// A passkey's name as given: trimmed, 1 to 64 characters, no control characters.
fn valid_name(name: Option<String>) -> Result<String, AuthError> {
    let Some(name) = name else {
        return Ok(DEFAULT_NAME.to_owned());
    };
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AuthError::InvalidRequest(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Stores a new ceremony's state under a fresh id.
async fn start_ceremony(
    app: &impl Base,
    kind: &str,
    user_id: Option<&str>,
    state: String,
) -> Result<String, AuthError> {
    let now = app.now();
    let ceremony_id = uuid::Uuid::new_v4().to_string();
    let item = CeremonyItem {
        pk: keys::ceremony(&ceremony_id),
        sk: kind.to_owned(),
        user_id: user_id.map(str::to_owned),
        state,
        created_at: now,
        expires_at: now + PASSKEY_CEREMONY_SECS as i64,
        used: false,
    };
    if !app.store().insert(&item).await? {
        return Err(AuthError::internal("a new ceremony id was taken"));
    }
    Ok(ceremony_id)
}

/// Takes a ceremony's state, once; `invalid_challenge` when it is unknown, used or expired.
async fn take_ceremony(
    app: &impl Base,
    kind: &str,
    ceremony_id: &str,
) -> Result<CeremonyItem, AuthError> {
    let Ok(ceremony_id) = uuid::Uuid::parse_str(ceremony_id) else {
        return Err(AuthError::InvalidChallenge);
    };
    app.store()
        .take_ceremony(&keys::ceremony(&ceremony_id.to_string()), kind, app.now())
        .await?
        .ok_or(AuthError::InvalidChallenge)
}

/// The options a registration answers: the library's, asking for a discoverable credential
/// (a passkey signs in without an identifier typed first, so the authenticator must keep it).
fn creation_options(
    options: &webauthn_rs::prelude::CreationChallengeResponse,
) -> Result<serde_json::Value, AuthError> {
    let mut options = serde_json::to_value(&options.public_key).map_err(AuthError::internal)?;
    let selection = options
        .get_mut("authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| AuthError::internal("creation options without authenticatorSelection"))?;
    selection.insert("residentKey".into(), "required".into());
    selection.insert("requireResidentKey".into(), true.into());
    Ok(options)
}

/// `POST /me/passkeys/options` (step-up): creation options for a new passkey of the caller,
/// excluding the ones it has.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn registration_options(
    app: &impl Hashes,
    caller: &Caller,
    request: StepUpRequest,
) -> Result<CeremonyOptions, AuthError> {
    step_up(app, caller, request.password).await?;
    let user = &caller.user;
    if user.passkeys >= MAX_PASSKEYS {
        return Err(AuthError::TooManyPasskeys);
    }
    let held: Vec<Passkey> = passkeys_of(app, user).await?;
    let exclude = held.iter().map(|p| p.cred_id().clone()).collect();
    let (options, state) = app
        .config()
        .relying_party
        .start_passkey_registration(
            user_handle(user)?,
            &user.address,
            &user.address,
            Some(exclude),
        )
        .map_err(failed)?;
    let challenge_id = start_ceremony(
        app,
        keys::PASSKEY_REGISTRATION,
        Some(&user.user_id),
        to_json(&state)?,
    )
    .await?;
    Ok(CeremonyOptions {
        challenge_id,
        options: creation_options(&options)?,
    })
}

/// `POST /me/passkeys`: verifies the authenticator's response to the caller's registration
/// ceremony and adds the passkey (its credential id claimed for this account only).
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn add(
    app: &impl Delivers,
    caller: &Caller,
    request: AddRequest,
) -> Result<PasskeyView, AuthError> {
    let name = valid_name(request.name)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(request.credential).map_err(refused)?;
    let user = &caller.user;
    let ceremony = take_ceremony(app, keys::PASSKEY_REGISTRATION, &request.challenge_id).await?;
    if ceremony.user_id.as_deref() != Some(user.user_id.as_str()) {
        return Err(AuthError::InvalidChallenge);
    }
    let state: PasskeyRegistration = from_json(&ceremony.state)?;
    let passkey = app
        .config()
        .relying_party
        .finish_passkey_registration(&credential, &state)
        .map_err(refused)?;
    let now = app.now();
    let id = passkey_id(passkey.cred_id());
    let item = PasskeyItem {
        pk: user.pk.clone(),
        sk: keys::passkey(&id),
        passkey_id: id,
        user_id: user.user_id.clone(),
        credential_id: crypto::base64url(passkey.cred_id()),
        name,
        created_at: now,
        last_used_at: None,
        credential: to_json(&passkey)?,
        sign_count: 0,
    };
    let audit = audit::by_caller(app, caller, audit::PASSKEY_ADDED, Some(&item.name))?;
    match app
        .store()
        .add_passkey(user, &item, MAX_PASSKEYS, audit)
        .await?
    {
        PasskeyAdded::Added => {}
        PasskeyAdded::Claimed => {
            tracing::info!("passkey refused: its credential id belongs to an account");
            return Err(AuthError::InvalidCredential);
        }
        PasskeyAdded::Full => return Err(AuthError::TooManyPasskeys),
    }
    tracing::info!(passkey_id = %item.passkey_id, "passkey added");
    notices::tell(app, user, Notice::PasskeyAdded).await;
    Ok(PasskeyView::from(&item))
}

/// `GET /me/passkeys`: the caller's passkeys, oldest first.
pub async fn list(app: &impl Base, caller: &Caller) -> Result<PasskeyList, AuthError> {
    let mut items = app.store().passkeys_of(&caller.user.user_id).await?;
    items.sort_by_key(|p| p.created_at);
    Ok(PasskeyList {
        passkeys: items.iter().map(PasskeyView::from).collect(),
    })
}

/// `PATCH /me/passkeys/{id}`: a new name.
pub async fn rename(
    app: &impl Base,
    caller: &Caller,
    passkey_id: &str,
    request: RenameRequest,
) -> Result<PasskeyView, AuthError> {
    let name = valid_name(Some(request.name))?;
    let user_id = &caller.user.user_id;
    if !app
        .store()
        .rename_passkey(user_id, passkey_id, &name)
        .await?
    {
        return Err(AuthError::PasskeyNotFound);
    }
    let item = passkey_of(app, &caller.user, passkey_id)
        .await?
        .ok_or(AuthError::PasskeyNotFound)?;
    Ok(PasskeyView::from(&item))
}

/// `DELETE /me/passkeys/{id}` (step-up): the passkey no longer signs in, and its credential
/// id is free.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id))]
pub async fn remove(
    app: &(impl Hashes + Delivers),
    caller: &Caller,
    passkey_id: &str,
    request: StepUpRequest,
) -> Result<(), AuthError> {
    step_up(app, caller, request.password).await?;
    let user = &caller.user;
    let item = passkey_of(app, user, passkey_id)
        .await?
        .ok_or(AuthError::PasskeyNotFound)?;
    let audit = audit::by_caller(app, caller, audit::PASSKEY_REMOVED, Some(&item.name))?;
    if !app.store().remove_passkey(user, &item, audit).await? {
        return Err(AuthError::PasskeyNotFound);
    }
    tracing::info!(passkey_id, "passkey removed");
    notices::tell(app, user, Notice::PasskeyRemoved).await;
    Ok(())
}

/// `POST /login/passkey/options`: request options for a discoverable credential (no
/// identifier: the authenticator offers the passkeys it holds for this relying party).
pub async fn sign_in_options(app: &impl Base) -> Result<CeremonyOptions, AuthError> {
    let (options, state) = app
        .config()
        .relying_party
        .start_discoverable_authentication()
        .map_err(failed)?;
    let challenge_id = start_ceremony(app, keys::PASSKEY_SIGN_IN, None, to_json(&state)?).await?;
    Ok(CeremonyOptions {
        challenge_id,
        options: serde_json::to_value(&options.public_key).map_err(AuthError::internal)?,
    })
}

/// `POST /login/passkey`: a discoverable credential's assertion signs in the account its
/// user handle and credential id both name. The caller's address takes a failure try first,
/// given back on success, as at every sign-in.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn sign_in(app: &impl Issues, request: SignInRequest) -> Result<TokenPair, AuthError> {
    let credential: PublicKeyCredential =
        serde_json::from_value(request.credential).map_err(refused)?;
    let now = app.now();
    let failure = budgets::take_failure_try(app, &request.origin, now).await?;
    let ceremony = take_ceremony(app, keys::PASSKEY_SIGN_IN, &request.challenge_id).await?;
    let state: DiscoverableAuthentication = from_json(&ceremony.state)?;
    let relying_party = &app.config().relying_party;
    let (handle, credential_id) = relying_party
        .identify_discoverable_authentication(&credential)
        .map_err(refused)?;
    let (user, item) = owner_of(app, credential_id, &handle.to_string(), now)
        .await?
        .ok_or(AuthError::InvalidCredential)?;
    tracing::Span::current().record("user_id", user.user_id.as_str());
    let mut passkey: Passkey = from_json(&item.credential)?;
    let result = relying_party
        .finish_discoverable_authentication_v2(&credential, state, &passkey)
        .map_err(refused)?;
    record_use(app, &item, &mut passkey, &result, now).await?;
    if user.is_disabled() {
        failure.succeeded(app).await?;
        return Err(crate::ops::disabled(&user));
    }
    let signed_in = SignedIn::passkey(result.backup_eligible(), now);
    let also: Vec<_> = failure.succeeded_with(app)?.into_iter().collect();
    session::start_checked(app, &user, &request.origin, signed_in, &also).await
}

/// The live, verified account that holds `credential_id`, and the passkey, when the user
/// handle names the same account.
async fn owner_of(
    app: &impl Base,
    credential_id: &[u8],
    handle: &str,
    now: i64,
) -> Result<Option<(UserItem, PasskeyItem)>, AuthError> {
    let claim: Option<ClaimItem> = app
        .store()
        .get(
            &keys::credential(&crypto::base64url(credential_id)),
            keys::CLAIM,
        )
        .await?;
    let Some(claim) = claim.filter(|c| c.user_id == handle) else {
        return Ok(None);
    };
    let user: Option<UserItem> = app
        .store()
        .get(&keys::user(&claim.user_id), keys::PROFILE)
        .await?;
    let Some(user) =
        user.filter(|u| u.is_live(now) && u.verified && u.status == UserStatus::Active)
    else {
        return Ok(None);
    };
    let item = passkey_of(app, &user, &passkey_id(credential_id)).await?;
    Ok(item.map(|item| (user, item)))
}

/// One passkey of an account, by its id.
async fn passkey_of(
    app: &impl Base,
    user: &UserItem,
    passkey_id: &str,
) -> Result<Option<PasskeyItem>, AuthError> {
    app.store().get(&user.pk, &keys::passkey(passkey_id)).await
}

/// Every passkey of an account, as the library takes them.
async fn passkeys_of(app: &impl Base, user: &UserItem) -> Result<Vec<Passkey>, AuthError> {
    app.store()
        .passkeys_of(&user.user_id)
        .await?
        .iter()
        .map(|item| from_json(&item.credential))
        .collect()
}

/// Records a verified use: the counter and backup state the library updated, on the
/// condition that the counter moved forward from the last recorded use (a twin or cloned
/// assertion racing this one loses).
async fn record_use(
    app: &impl Base,
    item: &PasskeyItem,
    passkey: &mut Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
    now: i64,
) -> Result<(), AuthError> {
    passkey.update_credential(result);
    let recorded = app
        .store()
        .passkey_used(item, &to_json(passkey)?, result.counter(), now)
        .await?;
    if !recorded {
        tracing::warn!(passkey_id = %item.passkey_id, "passkey use refused: its counter did not move forward");
        return Err(AuthError::InvalidCredential);
    }
    Ok(())
}

/// The request options of a second-factor challenge for an account with passkeys, and
/// the state to keep with the challenge.
pub(crate) async fn second_factor_options(
    app: &impl Base,
    user: &UserItem,
) -> Result<(serde_json::Value, String), AuthError> {
    let held = passkeys_of(app, user).await?;
    let (options, state) = app
        .config()
        .relying_party
        .start_passkey_authentication(&held)
        .map_err(failed)?;
    let options = serde_json::to_value(&options.public_key).map_err(AuthError::internal)?;
    Ok((options, to_json(&state)?))
}

/// Verifies a second-factor assertion against the challenge's `state`: one of the
/// account's passkeys, its counter moved forward. Answers the `amr` values it adds, or
/// `None` when it does not verify.
pub(crate) async fn second_factor(
    app: &impl Base,
    user: &UserItem,
    state: &str,
    credential: serde_json::Value,
    now: i64,
) -> Result<Option<Vec<String>>, AuthError> {
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential) else {
        return Ok(None);
    };
    let state: PasskeyAuthentication = from_json(state)?;
    let id = passkey_id(credential.get_credential_id());
    let Some(item) = passkey_of(app, user, &id).await? else {
        return Ok(None);
    };
    let mut passkey: Passkey = from_json(&item.credential)?;
    let result = match app
        .config()
        .relying_party
        .finish_passkey_authentication(&credential, &state)
    {
        Ok(result) => result,
        Err(error) => {
            tracing::info!(%error, "second-factor assertion refused");
            return Ok(None);
        }
    };
    match record_use(app, &item, &mut passkey, &result, now).await {
        Ok(()) => {}
        Err(AuthError::InvalidCredential) => return Ok(None),
        Err(other) => return Err(other),
    }
    let kind = crypto::jwt::passkey_amr(result.backup_eligible());
    Ok(Some(vec![kind.to_owned(), "user".to_owned()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(valid_name(None).unwrap(), "Passkey");
        assert_eq!(valid_name(Some("  Laptop ".into())).unwrap(), "Laptop");
        assert!(valid_name(Some("   ".into())).is_err());
        assert!(valid_name(Some("a\u{0}b".into())).is_err());
        assert!(valid_name(Some("é".repeat(64))).is_ok());
        assert!(valid_name(Some("é".repeat(65))).is_err());
    }

    #[test]
    fn a_passkey_id_is_short_and_fixed_by_its_credential() {
        let id = passkey_id(&[7u8; 1023]);
        assert_eq!(id.len(), 22);
        assert_eq!(id, passkey_id(&[7u8; 1023]));
        assert_ne!(id, passkey_id(&[8u8; 1023]));
    }
}
