//! argon2id at the contract's parameters, always off the async runtime.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::AuthError;
use crate::domain::Password;

/// OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// A real argon2id hash, at the parameters above, of a random password nobody kept. It is
/// verified against when the user is unknown, so timing does not tell whether an account
/// exists; being a constant, it costs nothing at cold start.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$SUBTbr91UizEVV/1/vnJPA$V7KAk3rvR27lO7uHkZUQpTYew7vcmhdcuW/a30sKpI4";

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
}

impl PasswordHasher {
    pub fn new() -> Result<Self, AuthError> {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
            .map_err(|e| AuthError::internal(format!("argon2 params: {e}")))?;
        Ok(Self {
            argon2: Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
        })
    }

    /// Hashes on a blocking thread: a hash takes tens of milliseconds of CPU.
    pub async fn hash(&self, password: &Password) -> Result<String, AuthError> {
        let argon2 = Arc::clone(&self.argon2);
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&argon2, password.expose()))
            .await
            .map_err(AuthError::internal)?
    }

    /// Verifies on a blocking thread; `None` stands for an unknown user and costs the same.
    pub async fn verify(&self, password: &Password, hash: Option<&str>) -> Result<bool, AuthError> {
        let argon2 = Arc::clone(&self.argon2);
        let password = password.clone();
        let hash = hash.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let known = hash.is_some();
            let phc = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
            let parsed = PasswordHash::new(&phc)
                .map_err(|e| AuthError::internal(format!("stored hash unreadable: {e}")))?;
            let ok = argon2
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok();
            Ok(ok && known)
        })
        .await
        .map_err(AuthError::internal)?
    }
}

fn hash_blocking(argon2: &Argon2<'_>, password: &str) -> Result<String, AuthError> {
    argon2
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::internal(format!("argon2: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_the_contract_parameters_and_verifies() -> Result<(), AuthError> {
        let hasher = PasswordHasher::new()?;
        let pw = Password::for_login("correct horse battery staple".into());
        let hash = hasher.hash(&pw).await?;
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify(&pw, Some(&hash)).await?);
        let wrong = Password::for_login("correct horse battery stable".into());
        assert!(!hasher.verify(&wrong, Some(&hash)).await?);
        assert!(!hasher.verify(&pw, None).await?);
        // The dummy hash is a real one at the same cost.
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        // Salted: the same password hashes differently each time.
        assert_ne!(hash, hasher.hash(&pw).await?);
        Ok(())
    }
}
