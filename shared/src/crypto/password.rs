//! argon2id at the contract's parameters, always off the async runtime.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// The start of every hash made at the parameters above; what follows is the salt and the
/// hash, each unpadded base64 (the PHC string format).
const PHC_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;

/// A hash no password verifies against, for an account that has none yet (made by another
/// provider's sign-in): a random salt and 32 random bytes where the hash goes, in the PHC
/// format at the parameters above. Checking a password against it costs a full hash, like
/// any other, and finding one that matches would mean inverting argon2id. Nothing is hashed.
pub fn unusable_hash() -> Result<String, AuthError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let salt = crate::crypto::random_array::<SALT_BYTES>()?;
    let hash = crate::crypto::random_array::<HASH_BYTES>()?;
    Ok(format!(
        "{PHC_PREFIX}{}${}",
        b64.encode(salt),
        b64.encode(hash)
    ))
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
}

impl PasswordHasher {
    pub fn new() -> Result<Self, AuthError> {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(HASH_BYTES))
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
    /// Besides the service's own, a hash imported from another system verifies (see
    /// [`crate::crypto::imported`]); [`needs_rehash`] tells which hashes are not the service's.
    pub async fn verify(&self, password: &Password, hash: Option<&str>) -> Result<bool, AuthError> {
        let argon2 = Arc::clone(&self.argon2);
        let password = password.clone();
        let hash = hash.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let known = hash.is_some();
            let phc = hash.as_deref().unwrap_or(DUMMY_HASH);
            let ok = verify_blocking(&argon2, password.expose(), phc)?;
            Ok(ok && known)
        })
        .await
        .map_err(AuthError::internal)?
    }
}

thread_local! {
    /// The 19 MiB of argon2 blocks, kept by each blocking thread between hashes: allocating
    /// them afresh per hash costs about 4,900 page faults and the zeroing of every page,
    /// a sizeable share of a hash on a small core. argon2 overwrites every block before
    /// reading it, so what a previous hash left there does not change the result.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The raw argon2id hash of `password` and `salt` at the contract's parameters.
fn raw_hash(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
) -> Result<[u8; HASH_BYTES], AuthError> {
    let mut out = [0u8; HASH_BYTES];
    let blocks = argon2.params().block_count();
    BLOCKS
        .with(|cell| {
            let mut memory = cell.borrow_mut();
            if memory.len() != blocks {
                *memory = vec![Block::default(); blocks];
            }
            argon2.hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        })
        .map_err(|e| AuthError::internal(format!("argon2: {e}")))?;
    Ok(out)
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD_NO_PAD
}

fn hash_blocking(argon2: &Argon2<'_>, password: &str) -> Result<String, AuthError> {
    use base64::Engine;
    let salt: [u8; SALT_BYTES] = crate::crypto::random_array()?;
    let hash = raw_hash(argon2, password.as_bytes(), &salt)?;
    Ok(format!(
        "{PHC_PREFIX}{}${}",
        b64().encode(salt),
        b64().encode(hash)
    ))
}

/// The salt and hash of a hash made by the service at its current parameters.
fn current_parts(phc: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    use base64::Engine;
    let rest = phc.strip_prefix(PHC_PREFIX)?;
    let (salt, hash) = rest.split_once('$')?;
    let salt = b64().decode(salt).ok()?;
    let hash = b64().decode(hash).ok()?;
    (hash.len() == HASH_BYTES).then_some((salt, hash))
}

/// Whether a stored hash is to be replaced, once its password is known (at a sign-in): any
/// hash but the service's argon2id at its current parameters (an imported one, or one made
/// at earlier parameters).
pub fn needs_rehash(phc: &str) -> bool {
    current_parts(phc).is_none()
}

fn verify_blocking(argon2: &Argon2<'_>, password: &str, phc: &str) -> Result<bool, AuthError> {
    // Hashes at this service's parameters take the kept-memory path; any other (argon2 at
    // other parameters, or a hash imported from another system) is verified by its own
    // library, within the bounds an import allows.
    if let Some((salt, expected)) = current_parts(phc) {
        let actual = raw_hash(argon2, password.as_bytes(), &salt)?;
        return Ok(bool::from(subtle::ConstantTimeEq::ct_eq(
            &actual[..],
            &expected[..],
        )));
    }
    crate::crypto::imported::verify(password.as_bytes(), phc)
        .map_err(|e| AuthError::internal(format!("stored hash unusable: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a test may fail loudly
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;
    use argon2::password_hash::phc::PasswordHash;

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
        // A hash for an account without a password parses, and nothing verifies against it.
        let unusable = unusable_hash()?;
        assert!(PasswordHash::new(&unusable).is_ok(), "{unusable}");
        assert!(!hasher.verify(&pw, Some(&unusable)).await?);
        assert!(
            !hasher
                .verify(&Password::for_login(String::new()), Some(&unusable))
                .await?
        );
        Ok(())
    }

    #[test]
    fn kept_memory_hashes_agree_with_the_library() -> Result<(), AuthError> {
        use argon2::password_hash::PasswordHasher as _;
        let hasher = PasswordHasher::new()?;
        let ours = hash_blocking(&hasher.argon2, "tr0ub4dor&3")?;
        // The library reads our PHC string and accepts it; ours reads the library's.
        let parsed = PasswordHash::new(&ours).map_err(|e| AuthError::internal(e.to_string()))?;
        assert!(
            hasher
                .argon2
                .verify_password(b"tr0ub4dor&3", &parsed)
                .is_ok()
        );
        let theirs = hasher
            .argon2
            .hash_password(b"tr0ub4dor&3")
            .map_err(|e| AuthError::internal(e.to_string()))?
            .to_string();
        assert!(theirs.starts_with(PHC_PREFIX), "{theirs}");
        assert!(verify_blocking(&hasher.argon2, "tr0ub4dor&3", &theirs)?);
        assert!(!verify_blocking(&hasher.argon2, "tr0ub4dor&4", &theirs)?);
        // A hash at other parameters still verifies, through the library.
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let other = cheap.hash_password(b"pw").unwrap().to_string();
        assert!(verify_blocking(&hasher.argon2, "pw", &other)?);
        assert!(!verify_blocking(&hasher.argon2, "pv", &other)?);
        // Only the service's own hashes at its current parameters are kept at a sign-in.
        assert!(needs_rehash(&other));
        assert!(!needs_rehash(&ours) && !needs_rehash(&theirs));
        assert!(!needs_rehash(&unusable_hash()?));
        Ok(())
    }

    #[tokio::test]
    async fn imported_hashes_verify_and_are_to_be_replaced() -> Result<(), AuthError> {
        let hasher = PasswordHasher::new()?;
        let pw = Password::for_login("correct horse battery staple".into());
        let wrong = Password::for_login("correct horse battery stable".into());
        let bcrypt = bcrypt::hash(pw.expose(), 4).unwrap();
        assert!(hasher.verify(&pw, Some(&bcrypt)).await?);
        assert!(!hasher.verify(&wrong, Some(&bcrypt)).await?);
        assert!(needs_rehash(&bcrypt));
        // A stored hash out of bounds, or of no known scheme, is an error, not a match.
        let costly = bcrypt.replacen("$04$", "$20$", 1);
        assert!(hasher.verify(&pw, Some(&costly)).await.is_err());
        assert!(hasher.verify(&pw, Some("plain text")).await.is_err());
        Ok(())
    }
}
