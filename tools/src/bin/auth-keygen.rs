//! Makes and rotates the key document, and prints the two secrets stored from it.
//!
//!   auth-keygen new --kid 2026-11            > keys.json     # HMAC key + one RSA-2048 key
//!   auth-keygen add --kid 2027-02 < keys.json > next.json    # one more signing key
//!   auth-keygen public < keys.json                           # the JWK set to publish
//!   auth-keygen hmac-secret < keys.json                      # the HMAC secret's value
//!   auth-keygen signing-secret < keys.json                   # the signing secret's value
//!
//! Rotation: add a key, publish the new JWK set (the `JwtPublicJwks` parameter), deploy;
//! once caches have it, switch `JwtSigningKid` to the new kid; later drop the old key.

use std::io::Read;

use auth_shared::secrets::SecretDocument;
use auth_tools::keys::{self, Error};

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kid = || -> Result<&str, Error> {
        match args.iter().position(|a| a == "--kid") {
            Some(i) => args
                .get(i + 1)
                .map(String::as_str)
                .ok_or_else(|| "--kid needs a value".into()),
            None => Err("--kid KID is required".into()),
        }
    };
    let stdin_secret = || -> Result<SecretDocument, Error> {
        let mut json = String::new();
        std::io::stdin().read_to_string(&mut json)?;
        Ok(auth_shared::secrets::Secrets::document_from_json(&json)?)
    };
    let out = match args.first().map(String::as_str) {
        Some("new") => serde_json::to_string_pretty(&keys::new_secret(kid()?)?)?,
        Some("add") => {
            let mut doc = stdin_secret()?;
            let kid = kid()?;
            if doc.signing_keys.contains_key(kid) {
                return Err(format!("the secret already has a key {kid}").into());
            }
            doc.signing_keys
                .insert(kid.to_owned(), keys::rsa_private_pem()?);
            serde_json::to_string_pretty(&doc)?
        }
        Some("public") => serde_json::to_string(&keys::public_jwks(&stdin_secret()?)?)?,
        Some("hmac-secret") => serde_json::to_string(&stdin_secret()?.hmac_part())?,
        Some("signing-secret") => serde_json::to_string(&stdin_secret()?.signing_part())?,
        _ => return Err(
            "usage: auth-keygen new --kid KID | add --kid KID | public | hmac-secret | signing-secret"
                .into(),
        ),
    };
    println!("{out}");
    Ok(())
}
