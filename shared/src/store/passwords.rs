//! Password writes: a reset by code and a change by the signed-in user. Both move the
//! account to its next session generation, which ends every earlier session.

use super::{Expr, ForgotItem, Store, UserItem, Write, generation_is, keys};
use crate::AuthError;

impl Store {
    /// The new hash set by the reset code `reset_code_pk`, on the condition that it is still
    /// the account's newest reset code, the account is active and unexpired, and still in
    /// the generation it was read in. It also verifies the identifier (the code reached it)
    /// and forgets the reset code.
    pub fn password_reset(
        &self,
        user: &UserItem,
        reset_code_pk: &str,
        hash: &str,
        now: i64,
    ) -> Result<Write, AuthError> {
        self.update(
            &user.pk,
            keys::PROFILE,
            Expr::new(
                "SET #password_hash = :hash, #verified = :yes, #session_generation = :next \
                 REMOVE #expires_at, #unverified, #reset_code_pk, #no_password",
            )
            .s(":hash", hash)
            .bool(":yes", true)
            .n(":next", user.session_generation + 1),
            Some(
                Expr::new(
                    "#reset_code_pk = :code AND #status = :active \
                     AND (attribute_not_exists(#expires_at) OR #expires_at > :now)",
                )
                .s(":code", reset_code_pk)
                .s(":active", "active")
                .n(":now", now)
                .and(generation_is(user.session_generation)),
            ),
        )
    }

    /// The new hash set by the signed-in user, on the condition that the hash it replaces is
    /// the one just checked and the caller's session generation has not ended meanwhile.
    pub fn password_changed(&self, user: &UserItem, hash: &str) -> Result<Write, AuthError> {
        self.update(
            &user.pk,
            keys::PROFILE,
            Expr::new("SET #password_hash = :hash, #session_generation = :next")
                .s(":hash", hash)
                .n(":next", user.session_generation + 1),
            Some(
                Expr::new("#password_hash = :old")
                    .s(":old", user.password_hash.as_str())
                    .and(generation_is(user.session_generation)),
            ),
        )
    }

    /// The account's newest reset code is `code_pk` (the only one that works), if the
    /// account is still active and still holds the identifier the code is sent to (a change
    /// of identifier committed since the account was read makes this fail, so no code goes
    /// to an address the account has left).
    pub fn reset_code_issued(&self, user: &UserItem, code_pk: &str) -> Result<Write, AuthError> {
        self.update(
            &user.pk,
            keys::PROFILE,
            Expr::new("SET #reset_code_pk = :code").s(":code", code_pk),
            Some(
                Expr::new(
                    "#status = :active AND #user_id = :uid \
                     AND #identifier_type = :kind AND #identifier = :identifier",
                )
                .s(":active", "active")
                .s(":uid", user.user_id.as_str())
                .s(":kind", user.identifier_type.as_str())
                .s(":identifier", user.identifier.as_str()),
            ),
        )
    }

    /// A forgot-password request served, once: `false` if it was already (a stream record
    /// delivered again).
    pub fn forgot_request_handled(
        &self,
        request: &ForgotItem,
        now: i64,
    ) -> Result<Write, AuthError> {
        self.update(
            &request.pk,
            keys::REQUEST,
            Expr::new("SET #handled_at = :now").n(":now", now),
            Some(Expr::new("attribute_not_exists(#handled_at)")),
        )
    }
}
