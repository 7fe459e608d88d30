//! Sessions in the table: one refresh-token family per sign-in, its tokens, and the account's
//! session generation, which ends every earlier session in one write. The conditions that
//! keep a session's rules live here; `crate::ops::session` decides on their outcomes.

use super::{Expr, FamilyItem, RefreshItem, SESSIONS_INDEX, Store, TxOutcome, Write, keys};
use crate::AuthError;

/// The condition that an account's session generation is still `generation` and it is not
/// disabled: its sessions of that generation live. Accounts written before generations
/// existed have none (0). A disable moves the generation on and sets `disabled_at` in one
/// write, so every transaction that starts or continues a session on this condition fails
/// once the disable has committed.
pub fn generation_is(generation: u64) -> Expr {
    let text = if generation == 0 {
        "attribute_exists(pk) AND (attribute_not_exists(#session_generation) OR #session_generation = :generation) AND attribute_not_exists(#disabled_at)"
    } else {
        "#session_generation = :generation AND attribute_not_exists(#disabled_at)"
    };
    Expr::new(text).n(":generation", generation)
}

/// How starting a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Started,
    /// The account moved to another session generation meanwhile (every session ended), or
    /// its password changed, or it is gone: read it again to tell which.
    AccountMoved,
}

/// How rotating a refresh token ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotated {
    /// The token is spent and its child stored; the session was touched.
    Rotated,
    /// The session is revoked or expired, or its generation has ended: no retry helps.
    SessionEnded,
    /// The token was rotated by another request meanwhile: decide again on what is stored.
    Raced,
}

impl Store {
    /// The writes that start a session: its family and first token, both new.
    pub fn session_writes(
        &self,
        family: &FamilyItem,
        first: &RefreshItem,
    ) -> Result<Vec<Write>, AuthError> {
        Ok(vec![self.put_new(family)?, self.put_new(first)?])
    }

    /// The account `user_id` is still in session generation `generation` (a condition only).
    pub fn generation_held(&self, user_id: &str, generation: u64) -> Result<Write, AuthError> {
        self.check(
            &keys::user(user_id),
            keys::PROFILE,
            generation_is(generation),
        )
    }

    /// Starts the session of a sign-in that checked the password `checked_hash`: in the
    /// account's generation `generation`, and only while that is still the account's
    /// password (both checked in the same transaction, so neither a sign-out-everywhere nor
    /// a password change or reset that commits meanwhile can leave it alive), together with
    /// `also`, writes that carry no condition. With `rehash`, the checked hash is replaced by
    /// that one (the service's hash of the same password) on the same condition, in the
    /// same write.
    pub async fn start_session(
        &self,
        family: &FamilyItem,
        first: &RefreshItem,
        generation: u64,
        checked_hash: &str,
        rehash: Option<&str>,
        also: &[Write],
    ) -> Result<Started, AuthError> {
        let mut items = self.session_writes(family, first)?;
        items.push(match rehash {
            Some(new) => self.password_rehashed(&family.user_id, generation, checked_hash, new)?,
            None => self.check(
                &keys::user(&family.user_id),
                keys::PROFILE,
                generation_is(generation)
                    .and(Expr::new("#password_hash = :checked").s(":checked", checked_hash)),
            )?,
        });
        items.extend_from_slice(also);
        match self.transact(items).await? {
            TxOutcome::Committed => Ok(Started::Started),
            outcome if outcome.condition_failed(2) => Ok(Started::AccountMoved),
            TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
                "new session collided: {reasons:?}"
            ))),
        }
    }

    /// Spends the refresh token `token_pk` for its `child`, once: the token not rotated
    /// before, the child new, the session (`child`'s family) neither revoked nor expired,
    /// and the account still in generation `generation`; the session's `last_used_at` moves.
    /// The token records `arrived_ms`, when the rotating request arrived, however late the
    /// write lands, so a duplicate's grace is judged on the two requests' arrivals.
    pub async fn rotate_refresh_token(
        &self,
        token_pk: &str,
        child: &RefreshItem,
        generation: u64,
        arrived_ms: i64,
    ) -> Result<Rotated, AuthError> {
        let now = arrived_ms.div_euclid(1000);
        let items = vec![
            self.update(
                token_pk,
                keys::TOKEN,
                Expr::new("SET #rotated_at_ms = :ms").n(":ms", arrived_ms),
                Some(Expr::new(
                    "attribute_not_exists(#rotated_at_ms) AND attribute_not_exists(#rotated_at)",
                )),
            )?,
            self.put_new(child)?,
            self.session_touch(&child.family_id, now)?,
            self.generation_held(&child.user_id, generation)?,
        ];
        let outcome = self.transact(items).await?;
        Ok(if outcome == TxOutcome::Committed {
            Rotated::Rotated
        } else if outcome.condition_failed(2) || outcome.condition_failed(3) {
            Rotated::SessionEnded
        } else {
            Rotated::Raced
        })
    }

    /// The same refresh again within the grace window: the session is touched, on the same
    /// conditions as a rotation. `false` when the session has ended.
    pub async fn touch_session(
        &self,
        family_id: &str,
        user_id: &str,
        generation: u64,
        now: i64,
    ) -> Result<bool, AuthError> {
        let items = vec![
            self.session_touch(family_id, now)?,
            self.generation_held(user_id, generation)?,
        ];
        Ok(self.transact(items).await? == TxOutcome::Committed)
    }

    /// SET `last_used_at`, on the condition that the session is not revoked or expired.
    fn session_touch(&self, family_id: &str, now: i64) -> Result<Write, AuthError> {
        self.update(
            &keys::family(family_id),
            keys::FAMILY,
            Expr::new("SET #last_used_at = :now").n(":now", now),
            Some(
                Expr::new("#revoked = :no AND #expires_at > :now")
                    .bool(":no", false)
                    .n(":now", now),
            ),
        )
    }

    /// Ends a session, if it exists.
    pub async fn revoke_session(&self, family_id: &str) -> Result<(), AuthError> {
        self.update_if(
            &keys::family(family_id),
            keys::FAMILY,
            revocation(),
            Expr::new("attribute_exists(pk)"),
        )
        .await
        .map(drop)
    }

    /// Ends the session `family_id` only if it is `user_id`'s, live, and of the account's
    /// generation `generation`; `false` for anything else, another user's session included.
    pub async fn revoke_own_session(
        &self,
        family_id: &str,
        user_id: &str,
        generation: u64,
        now: i64,
        also: Vec<Write>,
    ) -> Result<bool, AuthError> {
        let own_and_live = Expr::new(
            "#user_id = :uid AND #revoked = :no AND #expires_at > :now AND #generation = :generation",
        )
        .s(":uid", user_id)
        .bool(":no", false)
        .n(":now", now)
        .n(":generation", generation);
        self.update_if_with(
            &keys::family(family_id),
            keys::FAMILY,
            revocation(),
            own_and_live,
            also,
        )
        .await
    }

    /// Moves the account to its next session generation, which ends every session started
    /// before, in one transaction with `user.sessions_revoked` (from `now`) and `also` (an
    /// audit record). `false` when the account is gone.
    pub async fn end_all_sessions_with(
        &self,
        user_id: &str,
        now: i64,
        also: Vec<Write>,
    ) -> Result<bool, AuthError> {
        let mut items = vec![
            self.update(
                &keys::user(user_id),
                keys::PROFILE,
                Expr::new("ADD #session_generation :one").n(":one", 1),
                Some(Expr::new("attribute_exists(pk)")),
            )?,
            crate::events::outbox_sessions_revoked(self, user_id, now)?,
        ];
        items.extend(also);
        match self.transact(items).await? {
            TxOutcome::Committed => Ok(true),
            outcome if outcome.condition_failed(0) => Ok(false),
            TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
                "ending sessions collided: {reasons:?}"
            ))),
        }
    }

    /// Every session recorded for `user_id`, newest first (the sessions-by-user index).
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<FamilyItem>, AuthError> {
        self.query_index(SESSIONS_INDEX, "session_user", user_id)
            .await
    }
}

/// Revoked: out of the user's index, and no longer holding where it was used from.
fn revocation() -> Expr {
    Expr::new("SET #revoked = :yes REMOVE #session_user, #user_agent, #ip").bool(":yes", true)
}
