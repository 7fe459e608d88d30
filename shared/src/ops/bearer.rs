//! The routes marked 🔒 in the contract: an access token in `Authorization: Bearer`, checked
//! here (RS256 with the configured keys, `typ`, `iss`, `aud`, `exp`) and then its session,
//! so that a revoked session stops working on this service's own routes at once, not when
//! its access token expires. Every failure is the same `invalid_token`.

use crate::AuthError;
use crate::ops::Verifies;
use crate::store::{FamilyItem, UserItem, keys};

/// Who is calling: the account, as stored now, and the session the token was issued in.
#[derive(Clone)]
pub struct Caller {
    pub user: UserItem,
    pub session_id: String,
    /// When the session's sign-in happened (none for sessions older than the record).
    pub auth_time: Option<i64>,
    /// Where this request came from (for the audit trail), once the route adds it.
    pub origin: crate::ops::budgets::Origin,
}

impl Caller {
    /// The caller, with the request's address and user agent.
    pub fn from(mut self, origin: crate::ops::budgets::Origin) -> Self {
        self.origin = origin;
        self
    }
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("user_id", &self.user.user_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// The caller of a bearer route, or `invalid_token`: no token, a token that does not
/// verify, or one whose session has ended (revoked, expired, of an earlier session
/// generation, or its account gone). The account and the session are read in one snapshot.
pub async fn authenticate(app: &impl Verifies, token: Option<&str>) -> Result<Caller, AuthError> {
    let now = app.now();
    let verifier = app.verifier();
    let claims = token
        .and_then(|t| verifier.verify(t, now))
        .ok_or(AuthError::InvalidToken)?;
    let session_id = uuid::Uuid::parse_str(&claims.sid)
        .map_err(|_| AuthError::InvalidToken)?
        .to_string();
    let user_pk = keys::user(&claims.sub);
    let family_pk = keys::family(&session_id);
    let mut read = app
        .store()
        .get_together(&[(&user_pk, keys::PROFILE), (&family_pk, keys::FAMILY)])
        .await?
        .into_iter();
    let (Some(user), Some(family)) = (read.next(), read.next()) else {
        return Err(AuthError::internal("TransactGetItems answered fewer items"));
    };
    let user: UserItem = user.decode()?.ok_or(AuthError::InvalidToken)?;
    let family: FamilyItem = family.decode()?.ok_or(AuthError::InvalidToken)?;
    // The disable ended the session too; the answer says why, to the account's own token.
    if family.user_id == user.user_id && user.is_disabled() {
        return Err(AuthError::AccountDisabled);
    }
    let live = family.user_id == user.user_id
        && !family.revoked
        && family.expires_at > now
        && family.generation == user.session_generation
        && user.is_live(now);
    if !live {
        return Err(AuthError::InvalidToken);
    }
    tracing::Span::current().record("user_id", user.user_id.as_str());
    Ok(Caller {
        user,
        session_id,
        auth_time: family.auth_time,
        origin: Default::default(),
    })
}
