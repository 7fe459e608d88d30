//! Other providers' identities in the table: an identity (issuer and subject) is claimed like
//! an identifier, by one account; an account made by a provider's sign-in is written with
//! its email's claim and its identity's in one transaction; a signed-in user links and
//! unlinks providers with conditions that keep the claim and the account's list together.

use super::{ClaimItem, Expr, Store, TxOutcome, UserItem, Write, keys};
use crate::AuthError;
use crate::events;

/// How creating an account for a new identity ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCreated {
    Created,
    /// A live account holds the email (verified or not): no account is made for the
    /// identity, and none is merged.
    EmailTaken,
    /// Another callback claimed the identity meanwhile.
    IdentityTaken,
}

/// How linking an identity to a signed-in user's account ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityLinked {
    Linked,
    /// Another account holds the identity.
    Taken,
    /// The account already has an identity of this provider, or is gone.
    AccountChanged,
}

impl Store {
    /// Writes an account made by a provider's sign-in, verified: the profile, its email's
    /// claim (free, or held only by an expired registration), its identity's claim (free),
    /// and `user.created` and `user.verified`, together.
    pub async fn create_federated_account(
        &self,
        user: &UserItem,
        email_claim: &str,
        identity_claim: &str,
        now: i64,
    ) -> Result<IdentityCreated, AuthError> {
        let claim = |pk: &str| ClaimItem {
            pk: pk.to_owned(),
            sk: keys::CLAIM.to_owned(),
            user_id: user.user_id.clone(),
            expires_at: None,
        };
        let free = Expr::new("attribute_not_exists(pk) OR #expires_at <= :now").n(":now", now);
        let items = vec![
            self.put(&claim(email_claim), Some(free))?,
            self.put_new(&claim(identity_claim))?,
            self.put_new(user)?,
            events::outbox_put(self, events::USER_CREATED, user, now)?,
            events::outbox_put(self, events::USER_VERIFIED, user, now)?,
        ];
        let outcome = self.transact(items).await?;
        Ok(match outcome {
            TxOutcome::Committed => IdentityCreated::Created,
            _ if outcome.condition_failed(1) => IdentityCreated::IdentityTaken,
            _ if outcome.condition_failed(0) => IdentityCreated::EmailTaken,
            TxOutcome::Cancelled(reasons) => {
                return Err(AuthError::internal(format!(
                    "a provider's account could not be written: {reasons:?}"
                )));
            }
        })
    }

    /// Links `provider`'s identity (its claim `identity_claim`) to a live account that has
    /// none of that provider yet: the claim, and the account's list, together.
    pub async fn link_identity(
        &self,
        user: &UserItem,
        provider: &str,
        identity_claim: &str,
        also: Vec<Write>,
    ) -> Result<IdentityLinked, AuthError> {
        let claim = ClaimItem {
            pk: identity_claim.to_owned(),
            sk: keys::CLAIM.to_owned(),
            user_id: user.user_id.clone(),
            expires_at: None,
        };
        let name = format!("#p_{}", provider.replace('-', "_"));
        // The account's first provider makes the map; a later one adds its key (one SET may
        // not both make a map and write into it).
        let (update, condition) = if user.providers.is_empty() {
            (
                Expr::new("SET #providers = :providers").one_entry_map(
                    ":providers",
                    provider,
                    identity_claim,
                ),
                Expr::new(
                    "attribute_exists(pk) AND (attribute_not_exists(#providers) OR size(#providers) = :zero)",
                )
                .n(":zero", 0),
            )
        } else {
            (
                Expr::new(format!("SET #providers.{name} = :claim"))
                    .s(":claim", identity_claim)
                    .name(&name, provider),
                Expr::new(format!(
                    "attribute_exists(pk) AND attribute_not_exists(#providers.{name})"
                ))
                .name(&name, provider),
            )
        };
        let mut items = vec![
            self.put_new(&claim)?,
            self.update(&user.pk, keys::PROFILE, update, Some(condition))?,
        ];
        items.extend(also);
        let outcome = self.transact(items).await?;
        Ok(match outcome {
            TxOutcome::Committed => IdentityLinked::Linked,
            _ if outcome.condition_failed(0) => IdentityLinked::Taken,
            _ => IdentityLinked::AccountChanged,
        })
    }

    /// Unlinks `provider` from the account: its identity's claim released and the list
    /// shortened, on the conditions that the list is as read and the account keeps a way to
    /// sign in (a password it knows, another provider, or a passkey). `Ok(false)` when one
    /// fails.
    pub async fn unlink_identity(
        &self,
        user: &UserItem,
        provider: &str,
        identity_claim: &str,
        also: Vec<Write>,
    ) -> Result<bool, AuthError> {
        let name = format!("#p_{}", provider.replace('-', "_"));
        let mut items = vec![
            self.delete(
                identity_claim,
                keys::CLAIM,
                Some(Expr::new("#user_id = :uid").s(":uid", user.user_id.as_str())),
            )?,
            self.update(
                &user.pk,
                keys::PROFILE,
                // The last one takes the map with it (no empty map is left behind).
                if user.providers.len() == 1 {
                    Expr::new("REMOVE #providers")
                } else {
                    Expr::new(format!("REMOVE #providers.{name}")).name(&name, provider)
                },
                Some(
                    Expr::new(format!(
                        "attribute_exists(#providers.{name}) AND size(#providers) = :count \
                         AND (attribute_not_exists(#no_password) OR #no_password = :no \
                         OR size(#providers) > :one OR #passkeys > :zero)"
                    ))
                    .name(&name, provider)
                    .n(":count", user.providers.len())
                    .bool(":no", false)
                    .n(":one", 1)
                    .n(":zero", 0),
                ),
            )?,
        ];
        items.extend(also);
        Ok(matches!(self.transact(items).await?, TxOutcome::Committed))
    }
}
