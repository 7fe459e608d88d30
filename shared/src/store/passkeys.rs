//! Passkeys in the table: a WebAuthn ceremony's state (single use, 5 minutes), an account's
//! passkeys with the claim that makes each credential id belong to one account, the count on
//! the account that makes a password sign-in ask for a second factor, and the signature
//! counter that never goes back. Every rule is a condition.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{CeremonyItem, ClaimItem, Expr, PasskeyItem, Store, TxOutcome, UserItem, Write, keys};
use crate::AuthError;
use crate::error::Step;

/// The outcome of adding a passkey.
#[derive(Debug, PartialEq, Eq)]
pub enum PasskeyAdded {
    Added,
    /// Its credential id belongs to an account already (this one or another).
    Claimed,
    /// The account has as many passkeys as it may, or is gone.
    Full,
}

impl Store {
    /// Takes a ceremony's state, once (see [`Store::take_single_use`]).
    pub async fn take_ceremony(
        &self,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<CeremonyItem>, AuthError> {
        self.take_single_use(pk, sk, now).await
    }

    /// Every passkey of an account (one query of its partition, strongly consistent).
    pub async fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyItem>, AuthError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(keys::user(user_id)))
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(keys::PASSKEY_PREFIX.to_owned()),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
                .step("querying an account's passkeys")?;
            for item in out.items.unwrap_or_default() {
                items.push(serde_dynamo::from_item(item).map_err(AuthError::internal)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Adds a passkey to a live account with fewer than `max`: its credential id claimed,
    /// the passkey written and the account's count raised, in one transaction.
    pub async fn add_passkey(
        &self,
        user: &UserItem,
        passkey: &PasskeyItem,
        max: u32,
        also: Vec<Write>,
    ) -> Result<PasskeyAdded, AuthError> {
        let claim = ClaimItem {
            pk: keys::credential(&passkey.credential_id),
            sk: keys::CLAIM.to_owned(),
            user_id: user.user_id.clone(),
            expires_at: None,
        };
        let mut items = vec![
            self.put_new(&claim)?,
            self.put_new(passkey)?,
            self.update(
                &user.pk,
                keys::PROFILE,
                Expr::new("ADD #passkeys :one").n(":one", 1),
                Some(
                    Expr::new(
                        "attribute_exists(pk) AND (attribute_not_exists(#passkeys) OR #passkeys < :max)",
                    )
                    .n(":max", max),
                ),
            )?,
        ];
        items.extend(also);
        let outcome = self.transact(items).await?;
        Ok(match outcome {
            TxOutcome::Committed => PasskeyAdded::Added,
            _ if outcome.condition_failed(0) || outcome.condition_failed(1) => {
                PasskeyAdded::Claimed
            }
            _ => PasskeyAdded::Full,
        })
    }

    /// Renames a passkey of the account; `Ok(false)` when it has none of that id.
    pub async fn rename_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        name: &str,
    ) -> Result<bool, AuthError> {
        self.update_if(
            &keys::user(user_id),
            &keys::passkey(passkey_id),
            Expr::new("SET #name = :name").s(":name", name),
            Expr::new("attribute_exists(pk)"),
        )
        .await
    }

    /// Removes a passkey: the passkey, its credential id's claim and one from the account's
    /// count, together; `Ok(false)` when it was removed meanwhile.
    pub async fn remove_passkey(
        &self,
        user: &UserItem,
        passkey: &PasskeyItem,
        also: Vec<Write>,
    ) -> Result<bool, AuthError> {
        let mut items = self.passkey_removed(user, passkey)?;
        items.extend(also);
        items.push(self.update(
            &user.pk,
            keys::PROFILE,
            Expr::new("ADD #passkeys :minus").n(":minus", -1),
            Some(Expr::new("#passkeys > :zero").n(":zero", 0)),
        )?);
        Ok(matches!(self.transact(items).await?, TxOutcome::Committed))
    }

    /// The writes that remove a passkey and release its credential id (the account's count
    /// is the caller's: a deleted account has none to keep).
    pub fn passkey_removed(
        &self,
        user: &UserItem,
        passkey: &PasskeyItem,
    ) -> Result<Vec<Write>, AuthError> {
        Ok(vec![
            self.delete(
                &user.pk,
                &passkey.sk,
                Some(Expr::new("attribute_exists(pk)")),
            )?,
            self.delete(
                &keys::credential(&passkey.credential_id),
                keys::CLAIM,
                Some(Expr::new("#user_id = :uid").s(":uid", user.user_id.as_str())),
            )?,
        ])
    }

    /// Records a verified use of a passkey: its credential as updated (counter, backup
    /// state), its counter and the time, on the condition that the counter moved forward
    /// from every use recorded before (or stays 0 for an authenticator that keeps none), so
    /// two uses with the same counter (a cloned key, a replay) cannot both count.
    pub async fn passkey_used(
        &self,
        passkey: &PasskeyItem,
        credential: &str,
        sign_count: u32,
        now: i64,
    ) -> Result<bool, AuthError> {
        let condition = if sign_count == 0 {
            Expr::new("attribute_exists(pk) AND #sign_count = :count")
        } else {
            Expr::new("attribute_exists(pk) AND #sign_count < :count")
        };
        self.update_if(
            &passkey.pk,
            &passkey.sk,
            Expr::new("SET #credential = :credential, #sign_count = :count, #last_used_at = :now")
                .s(":credential", credential)
                .n(":now", now),
            condition.n(":count", sign_count),
        )
        .await
    }
}
