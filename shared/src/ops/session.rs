//! Sessions: a sign-in starts a refresh-token family; `POST /token` rotates its newest token;
//! `POST /logout` revokes it. Refresh tokens are 256 random bits, stored only as SHA-256
//! digests. A child token is the keyed HMAC of its parent, so a duplicate refresh within the
//! grace window gets the very same child and the family stays one chain.

use serde::{Deserialize, Serialize};

use crate::AuthError;
use crate::crypto;
use crate::ops::{App, MAX_ROUNDS};
use crate::store::{Expr, FamilyItem, RefreshItem, TxOutcome, keys};

const TOKEN_CHARS: usize = 43;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: String,
    /// Seconds left of the family's absolute lifetime.
    pub refresh_expires_in: i64,
}

redacted_debug!(TokenPair { token_type, expires_in, refresh_expires_in; access_token, refresh_token });

/// The body of `POST /token`: JSON `{"refresh_token"}` or the OAuth 2.0 form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[serde(default)]
    pub grant_type: Option<String>,
    pub refresh_token: String,
    /// Accepted and ignored (RFC 6749 §6): the service has one client per audience.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

redacted_debug!(RefreshRequest { grant_type, client_id, scope; refresh_token });

/// The body of `POST /logout`: JSON `{"refresh_token"}`, or RFC 7009's revocation form
/// (`token=...&token_type_hint=refresh_token`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    /// Only refresh tokens can be revoked; a hint is accepted and needs no answer
    /// (RFC 7009 §2.1: a token the server cannot find is not an error).
    #[serde(default)]
    pub token_type_hint: Option<String>,
    /// Accepted and ignored, as at the token endpoint.
    #[serde(default)]
    pub client_id: Option<String>,
}

redacted_debug!(LogoutRequest { token_type_hint, client_id; refresh_token, token });

impl LogoutRequest {
    /// The JSON form, `{"refresh_token": ...}`.
    pub fn for_refresh_token(token: impl Into<String>) -> Self {
        Self {
            refresh_token: Some(token.into()),
            token: None,
            token_type_hint: None,
            client_id: None,
        }
    }

    /// The token to revoke: exactly one of `refresh_token` (JSON) or `token` (RFC 7009).
    pub fn token(&self) -> Result<&str, AuthError> {
        match (&self.refresh_token, &self.token) {
            (Some(token), None) | (None, Some(token)) => Ok(token),
            _ => Err(AuthError::InvalidRequest(
                "exactly one of refresh_token or token is required".to_owned(),
            )),
        }
    }
}

fn digest(token: &str) -> String {
    crypto::sha256_hex(token.as_bytes())
}

fn child_of(app: &App, parent: &str) -> String {
    crypto::base64url(&crypto::hmac_sha256(
        &app.secrets.hmac_key,
        &[b"refresh-child\0", parent.as_bytes()],
    ))
}

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn token_item(token: &str, family: &FamilyItem, now: i64) -> RefreshItem {
    RefreshItem {
        pk: keys::refresh_token(&digest(token)),
        sk: keys::TOKEN.to_owned(),
        family_id: family.family_id.clone(),
        user_id: family.user_id.clone(),
        created_at: now,
        rotated_at: None,
        expires_at: family.expires_at,
    }
}

fn pair(
    app: &App,
    user_id: &str,
    refresh_token: String,
    family_expires_at: i64,
    now: i64,
) -> Result<TokenPair, AuthError> {
    Ok(TokenPair {
        access_token: app.signer.sign(user_id, now)?,
        token_type: "Bearer".to_owned(),
        expires_in: app.signer.ttl_secs(),
        refresh_token,
        refresh_expires_in: family_expires_at - now,
    })
}

/// Starts a new family for a user who just proved who they are.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn start(app: &App, user_id: &str) -> Result<TokenPair, AuthError> {
    let now = app.now();
    let family_id = uuid::Uuid::new_v4().to_string();
    let family = FamilyItem {
        pk: keys::family(&family_id),
        sk: keys::FAMILY.to_owned(),
        family_id,
        user_id: user_id.to_owned(),
        created_at: now,
        expires_at: now + app.config.refresh_lifetime_secs,
        revoked: false,
    };
    let token = crypto::base64url(&crypto::random_array::<32>()?);
    let fresh = || Some(Expr::new("attribute_not_exists(pk)"));
    let items = vec![
        app.store.put(&family, fresh())?,
        app.store.put(&token_item(&token, &family, now), fresh())?,
    ];
    match app.store.transact(items).await? {
        TxOutcome::Committed => pair(app, user_id, token, family.expires_at, now),
        TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
            "new session collided: {reasons:?}"
        ))),
    }
}

/// Exchanges a refresh token for a new pair, rotating it.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn refresh(app: &App, request: RefreshRequest) -> Result<TokenPair, AuthError> {
    if request
        .grant_type
        .as_deref()
        .is_some_and(|g| g != "refresh_token")
    {
        return Err(AuthError::UnsupportedGrantType);
    }
    let token = request.refresh_token;
    if !well_formed(&token) {
        return Err(AuthError::InvalidGrant);
    }
    let pk = keys::refresh_token(&digest(&token));
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let Some(item) = app.store.get::<RefreshItem>(&pk, keys::TOKEN).await? else {
            return Err(AuthError::InvalidGrant);
        };
        let family_pk = keys::family(&item.family_id);
        let Some(family) = app
            .store
            .get::<FamilyItem>(&family_pk, keys::FAMILY)
            .await?
        else {
            return Err(AuthError::InvalidGrant);
        };
        if family.revoked || family.expires_at <= now {
            return Err(AuthError::InvalidGrant);
        }
        tracing::Span::current().record("user_id", family.user_id.as_str());
        let child = child_of(app, &token);

        match item.rotated_at {
            None => {
                let items = vec![
                    app.store.update(
                        &pk,
                        keys::TOKEN,
                        Expr::new("SET #rotated_at = :now").n(":now", now),
                        Some(Expr::new("attribute_not_exists(#rotated_at)")),
                    )?,
                    app.store.put(
                        &token_item(&child, &family, now),
                        Some(Expr::new("attribute_not_exists(pk)")),
                    )?,
                    app.store.check(
                        &family_pk,
                        keys::FAMILY,
                        Expr::new("#revoked = :no AND #expires_at > :now")
                            .bool(":no", false)
                            .n(":now", now),
                    )?,
                ];
                match app.store.transact(items).await? {
                    TxOutcome::Committed => {
                        return pair(app, &family.user_id, child, family.expires_at, now);
                    }
                    // Rotated or revoked meanwhile: decide again on what is stored now.
                    TxOutcome::Cancelled(_) => continue,
                }
            }
            // The same refresh again, moments later (two tabs): the same child, no harm done,
            // unless the family was revoked since it was read.
            Some(rotated_at) if now - rotated_at <= app.config.refresh_grace_secs => {
                let alive = app.store.check(
                    &family_pk,
                    keys::FAMILY,
                    Expr::new("#revoked = :no AND #expires_at > :now")
                        .bool(":no", false)
                        .n(":now", now),
                )?;
                return match app.store.transact(vec![alive]).await? {
                    TxOutcome::Committed => {
                        pair(app, &family.user_id, child, family.expires_at, now)
                    }
                    TxOutcome::Cancelled(_) => Err(AuthError::InvalidGrant),
                };
            }
            // A rotated token used again: it may have been stolen. End the whole family.
            Some(_) => {
                revoke(app, &family_pk).await?;
                tracing::warn!(family_id = %family.family_id, "refresh token reused; family revoked");
                return Err(AuthError::InvalidGrant);
            }
        }
    }
    Err(AuthError::InvalidGrant)
}

/// Revokes the family of a refresh token; an unknown token is not an error (RFC 7009).
#[tracing::instrument(skip_all)]
pub async fn logout(app: &App, request: LogoutRequest) -> Result<(), AuthError> {
    let token = request.token()?;
    if !well_formed(token) {
        return Ok(());
    }
    let pk = keys::refresh_token(&digest(token));
    if let Some(item) = app.store.get::<RefreshItem>(&pk, keys::TOKEN).await? {
        revoke(app, &keys::family(&item.family_id)).await?;
        tracing::info!(user_id = %item.user_id, "signed out");
    }
    Ok(())
}

async fn revoke(app: &App, family_pk: &str) -> Result<(), AuthError> {
    app.store
        .update_if(
            family_pk,
            keys::FAMILY,
            Expr::new("SET #revoked = :yes").bool(":yes", true),
            Expr::new("attribute_exists(pk)"),
        )
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::login::OtpRequest;

    #[test]
    fn debug_output_never_shows_a_token_or_code() {
        let pair = TokenPair {
            access_token: "eyJ.access.secret".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            refresh_token: "refresh-secret-value".into(),
            refresh_expires_in: 100,
        };
        let refresh = RefreshRequest {
            grant_type: Some("refresh_token".into()),
            refresh_token: "refresh-secret-value".into(),
            client_id: None,
            scope: None,
        };
        let logout = LogoutRequest::for_refresh_token("refresh-secret-value");
        let otp = OtpRequest {
            challenge_id: "c-1".into(),
            otp: "123456".into(),
        };
        let printed = format!("{pair:?} {refresh:?} {logout:?} {otp:?}");
        for secret in ["access.secret", "refresh-secret-value", "123456"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("[redacted]") && printed.contains("Bearer"));
    }
}
