//! Password hashes brought from another system by an import: argon2id and argon2i, bcrypt
//! (`$2a$`, `$2b$`, `$2y$`), scrypt and PBKDF2-SHA-256 in their PHC form. Each is read and
//! verified by its own maintained crate, whose comparisons run in constant time; nothing
//! here derives a key itself.
//!
//! The cost a hash carries is bounded: a line out of bounds is refused when it is imported,
//! and a stored hash out of bounds is refused again before it is verified, so no account can
//! make a sign-in take seconds of CPU or gigabytes of memory. Nothing here prints a hash.

use std::fmt;
use std::ops::RangeInclusive;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{Error as PhcError, PasswordVerifier as _};

/// bcrypt costs accepted: 2^4 to 2^15 rounds (cost 15 takes a few seconds on one core).
pub const BCRYPT_COSTS: RangeInclusive<u32> = 4..=15;
/// The largest scrypt `ln` (N = 2^20).
pub const SCRYPT_MAX_LOG_N: u8 = 20;
/// The largest scrypt `r * p`.
pub const SCRYPT_MAX_R_TIMES_P: u64 = 32;
/// The most memory an scrypt hash may take (128 · r · N bytes): 1 GiB.
pub const SCRYPT_MAX_MEMORY: u64 = 1 << 30;
/// The most work an scrypt hash may take (N · r · p): twice N = 2^20, r = 8, p = 1.
pub const SCRYPT_MAX_WORK: u64 = 1 << 24;
/// PBKDF2 iterations accepted.
pub const PBKDF2_ROUNDS: RangeInclusive<u32> = 1_000..=10_000_000;
/// The most memory an argon2 hash may take, in KiB: 1 GiB.
pub const ARGON2_MAX_M_KIB: u32 = 1 << 20;
/// The most passes over its memory an argon2 hash may make, and the most memory times
/// passes (KiB · passes: 4 GiB, e.g. 1 GiB × 4 or 256 MiB × 16).
pub const ARGON2_MAX_T: u32 = 16;
pub const ARGON2_MAX_WORK: u64 = 1 << 22;
/// The most lanes an argon2 hash may have (they run one after another here).
pub const ARGON2_MAX_P: u32 = 16;

/// The schemes an imported hash may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Argon2id,
    Argon2i,
    Bcrypt,
    Scrypt,
    Pbkdf2Sha256,
}

/// Why a hash is refused: a short reason that never quotes the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

/// A hash read far enough to verify: bcrypt in its own format, the others as PHC strings.
enum Parsed {
    Bcrypt,
    Phc(Scheme, Box<PasswordHash>),
}

/// The scheme of `hash` if the service can verify it at a bounded cost; what it reads is
/// all it checks (no password is hashed).
pub fn check(hash: &str) -> Result<Scheme, Refused> {
    Ok(match parse(hash)? {
        Parsed::Bcrypt => Scheme::Bcrypt,
        Parsed::Phc(scheme, _) => scheme,
    })
}

/// Whether `password` matches `hash`, a hash [`check`] accepts. Blocking: call it off the
/// async runtime. `Err` when the hash is refused (it is checked again here: what is stored
/// may not have come through an import).
pub fn verify(password: &[u8], hash: &str) -> Result<bool, Refused> {
    let outcome = match parse(hash)? {
        Parsed::Bcrypt => {
            // bcrypt reads at most 72 bytes of a password, as the system that made the hash
            // did; the truncating verify is the one that agrees with it.
            return bcrypt::verify(password, hash).map_err(|_| Refused("unreadable bcrypt hash"));
        }
        Parsed::Phc(Scheme::Argon2id | Scheme::Argon2i, phc) => {
            // The algorithm, version and parameters are the hash's own.
            argon2::Argon2::default().verify_password(password, &*phc)
        }
        Parsed::Phc(Scheme::Scrypt, phc) => scrypt::Scrypt::new().verify_password(password, &*phc),
        Parsed::Phc(Scheme::Pbkdf2Sha256, phc) => {
            pbkdf2::Pbkdf2::SHA256.verify_password(password, &*phc)
        }
        Parsed::Phc(Scheme::Bcrypt, _) => return Err(Refused("unsupported password hash")),
    };
    match outcome {
        Ok(()) => Ok(true),
        Err(PhcError::PasswordInvalid) => Ok(false),
        Err(_) => Err(Refused("the hash could not be verified")),
    }
}

fn parse(hash: &str) -> Result<Parsed, Refused> {
    if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
        let parts: bcrypt::HashParts =
            hash.parse().map_err(|_| Refused("malformed bcrypt hash"))?;
        if !BCRYPT_COSTS.contains(&parts.get_cost()) {
            return Err(Refused("bcrypt cost out of bounds (4 to 15)"));
        }
        return Ok(Parsed::Bcrypt);
    }
    if !hash.starts_with('$') {
        return Err(Refused(
            "unsupported password hash (not a PHC string or bcrypt)",
        ));
    }
    let phc = PasswordHash::new(hash).map_err(|_| Refused("malformed PHC hash string"))?;
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err(Refused("the hash has no salt or no hash"));
    }
    let scheme = match phc.algorithm.as_str() {
        "argon2id" => Scheme::Argon2id,
        "argon2i" => Scheme::Argon2i,
        "scrypt" => Scheme::Scrypt,
        "pbkdf2-sha256" => Scheme::Pbkdf2Sha256,
        _ => return Err(Refused("unsupported password hash algorithm")),
    };
    match scheme {
        Scheme::Argon2id | Scheme::Argon2i => argon2_in_bounds(&phc)?,
        Scheme::Scrypt => scrypt_in_bounds(&phc)?,
        Scheme::Pbkdf2Sha256 => pbkdf2_in_bounds(&phc)?,
        Scheme::Bcrypt => return Err(Refused("unsupported password hash")),
    }
    Ok(Parsed::Phc(scheme, Box::new(phc)))
}

fn argon2_in_bounds(phc: &PasswordHash) -> Result<(), Refused> {
    // Without `v=` the reference implementation means version 1.0 and the library 1.3: a
    // hash that does not say is refused rather than verified as something it may not be.
    match phc.version {
        Some(0x10 | 0x13) => {}
        Some(_) => return Err(Refused("unknown argon2 version")),
        None => return Err(Refused("argon2 hash without a version (v=19 or v=16)")),
    }
    let params =
        argon2::Params::try_from(phc).map_err(|_| Refused("malformed argon2 parameters"))?;
    if !params.keyid().is_empty() || !params.data().is_empty() {
        return Err(Refused("argon2 hash with a key id or associated data"));
    }
    let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
    if m > ARGON2_MAX_M_KIB
        || t > ARGON2_MAX_T
        || p > ARGON2_MAX_P
        || u64::from(m) * u64::from(t) > ARGON2_MAX_WORK
    {
        return Err(Refused(
            "argon2 cost out of bounds (m at most 1 GiB, t at most 16, p at most 16, m·t at most 4 GiB)",
        ));
    }
    Ok(())
}

fn scrypt_in_bounds(phc: &PasswordHash) -> Result<(), Refused> {
    let params =
        scrypt::Params::try_from(phc).map_err(|_| Refused("malformed scrypt parameters"))?;
    let (log_n, r, p) = (params.log_n(), u64::from(params.r()), u64::from(params.p()));
    let in_bounds = log_n <= SCRYPT_MAX_LOG_N && r * p <= SCRYPT_MAX_R_TIMES_P && {
        let n = 1u64 << log_n;
        128 * r * n <= SCRYPT_MAX_MEMORY && n * r * p <= SCRYPT_MAX_WORK
    };
    if !in_bounds {
        return Err(Refused(
            "scrypt cost out of bounds (ln at most 20, r·p at most 32, at most 1 GiB)",
        ));
    }
    Ok(())
}

fn pbkdf2_in_bounds(phc: &PasswordHash) -> Result<(), Refused> {
    let params =
        pbkdf2::Params::try_from(phc).map_err(|_| Refused("malformed pbkdf2 parameters"))?;
    if !PBKDF2_ROUNDS.contains(&params.rounds()) {
        return Err(Refused(
            "pbkdf2 iterations out of bounds (1,000 to 10,000,000)",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a test may fail loudly
mod tests {
    use super::*;
    use argon2::password_hash::{CustomizedPasswordHasher as _, PasswordHasher as _};

    const SALT: &[u8] = b"sixteen byte salt";

    fn argon2(algorithm: argon2::Algorithm, m: u32, t: u32) -> String {
        let params = argon2::Params::new(m, t, 1, None).unwrap();
        argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
            .hash_password_with_salt(b"hunter22", SALT)
            .unwrap()
            .to_string()
    }

    fn scrypt(log_n: u8, r: u32, p: u32) -> String {
        scrypt::Scrypt::new_with_params(scrypt::Params::new(log_n, r, p).unwrap())
            .hash_password_with_salt(b"hunter22", SALT)
            .unwrap()
            .to_string()
    }

    fn pbkdf2(rounds: u32) -> String {
        pbkdf2::Pbkdf2::SHA256
            .hash_password_customized(
                b"hunter22",
                SALT,
                None,
                None,
                pbkdf2::Params::new(rounds).unwrap(),
            )
            .unwrap()
            .to_string()
    }

    #[test]
    fn each_scheme_verifies_its_password_and_no_other() {
        let hashes = [
            (argon2(argon2::Algorithm::Argon2id, 64, 1), Scheme::Argon2id),
            (argon2(argon2::Algorithm::Argon2i, 64, 1), Scheme::Argon2i),
            (bcrypt::hash("hunter22", 4).unwrap(), Scheme::Bcrypt),
            (
                bcrypt::hash("hunter22", 4)
                    .unwrap()
                    .replacen("$2b$", "$2y$", 1),
                Scheme::Bcrypt,
            ),
            (scrypt(4, 8, 1), Scheme::Scrypt),
            (pbkdf2(1_000), Scheme::Pbkdf2Sha256),
        ];
        for (hash, scheme) in hashes {
            assert_eq!(check(&hash), Ok(scheme), "{hash}");
            assert_eq!(verify(b"hunter22", &hash), Ok(true), "{hash}");
            assert_eq!(verify(b"hunter23", &hash), Ok(false), "{hash}");
        }
        assert!(pbkdf2(1_000).starts_with("$pbkdf2-sha256$i=1000,l=32$"));
    }

    #[test]
    fn known_vectors_verify() {
        // passlib's documented scrypt example and the bcrypt example of its 2a tests.
        let scrypt = "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
        assert_eq!(verify(b"password", scrypt), Ok(true));
        let bcrypt = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert_eq!(verify(b"U*U", bcrypt), Ok(true));
        assert_eq!(verify(b"U*V", bcrypt), Ok(false));
    }

    #[test]
    fn costs_out_of_bounds_are_refused_before_any_hashing() {
        let bcrypt16 = bcrypt::hash("hunter22", 4)
            .unwrap()
            .replacen("$04$", "$16$", 1);
        let scrypt_big = scrypt(4, 8, 1).replacen("ln=4", "ln=21", 1);
        let scrypt_wide = scrypt(4, 8, 1).replacen("r=8,p=1", "r=8,p=5", 1);
        let pbkdf2_long = pbkdf2(1_000).replacen("i=1000", "i=10000001", 1);
        let pbkdf2_short = pbkdf2(1_000).replacen("i=1000", "i=999", 1);
        let argon2_big =
            argon2(argon2::Algorithm::Argon2id, 64, 1).replacen("m=64", "m=2097152", 1);
        let argon2_slow = argon2(argon2::Algorithm::Argon2id, 64, 1).replacen("t=1", "t=17", 1);
        let argon2_heavy =
            argon2(argon2::Algorithm::Argon2id, 64, 1).replacen("m=64,t=1", "m=1048576,t=5", 1);
        for hash in [
            bcrypt16,
            scrypt_big,
            scrypt_wide,
            pbkdf2_long,
            pbkdf2_short,
            argon2_big,
            argon2_slow,
            argon2_heavy,
        ] {
            let refused = check(&hash).expect_err(&hash);
            assert!(
                refused.0.contains("out of bounds") || refused.0.contains("malformed"),
                "{refused}"
            );
            assert!(verify(b"hunter22", &hash).is_err(), "{hash}");
            assert!(!refused.0.contains(&hash[hash.len() - 8..]));
        }
    }

    #[test]
    fn other_schemes_and_shapes_are_refused() {
        let argon2d = argon2(argon2::Algorithm::Argon2d, 64, 1);
        let no_version = argon2(argon2::Algorithm::Argon2id, 64, 1).replacen("v=19$", "", 1);
        let sha512 = pbkdf2::Pbkdf2::SHA512
            .hash_password_customized(
                b"hunter22",
                SALT,
                None,
                None,
                pbkdf2::Params::new(1_000).unwrap(),
            )
            .unwrap()
            .to_string();
        for hash in [
            argon2d.as_str(),
            no_version.as_str(),
            sha512.as_str(),
            "$2x$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$04$short",
            "$1$saltsalt$abcdefghijklmnopqrstuv",
            "5f4dcc3b5aa765d61d8327deb882cf99",
            "",
            "$argon2id$v=19$m=64,t=1,p=1",
        ] {
            assert!(check(hash).is_err(), "{hash}");
        }
    }
}
