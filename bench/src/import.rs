//! `auth-bench import USERS`: that many users imported into the table `TABLE_NAME` (DynamoDB
//! Local, as `make bench` starts it) through `ops::import::import_batch`, in batches as the
//! `admin` function receives them from `authctl import`, then the same file again (every line
//! `exists`: what resuming a stopped import costs). Prints a Markdown section.

use std::sync::Arc;
use std::time::Instant;

use argon2::password_hash::{CustomizedPasswordHasher as _, PasswordHasher as _};
use auth_shared::ops::import::{LineStatus, import_batch};
use auth_shared::{App, Config, SystemClock};

use crate::Error;

/// Lines per call of `import_batch`, as one invocation of the `admin` function carries them.
const BATCH: usize = 500;

/// One hash per scheme an import takes, made here by each scheme's crate at ordinary costs.
/// An import only parses a hash, so a handful serves every line.
fn hashes() -> Result<Vec<String>, Error> {
    let salt = b"bench salt, 16 b";
    let password = b"the password from the old system";
    let argon2 = |algorithm| -> Result<String, Error> {
        let params = argon2::Params::new(19_456, 2, 1, None).map_err(|e| e.to_string())?;
        Ok(
            argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
                .hash_password_with_salt(password, salt)
                .map_err(|e| e.to_string())?
                .to_string(),
        )
    };
    let scrypt = scrypt::Scrypt::new_with_params(scrypt::Params::new(15, 8, 1)?)
        .hash_password_with_salt(password, salt)
        .map_err(|e| e.to_string())?
        .to_string();
    let pbkdf2 = pbkdf2::Pbkdf2::SHA256
        .hash_password_customized(
            password,
            salt,
            None,
            None,
            pbkdf2::Params::new(100_000).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?
        .to_string();
    Ok(vec![
        argon2(argon2::Algorithm::Argon2id)?,
        argon2(argon2::Algorithm::Argon2i)?,
        bcrypt::hash(password, 10)?,
        scrypt,
        pbkdf2,
    ])
}

/// The file: `users` lines of new addresses, one in two with a username, one in ten
/// unverified, the hashes in turn.
fn lines(users: usize, hashes: &[String]) -> Vec<(usize, String)> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run = &run[..8];
    (0..users)
        .map(|i| {
            let mut line = serde_json::json!({
                "email": format!("import-{run}-{i}@bench.example"),
                "verified": i % 10 != 0,
                "created_at": "2021-03-04T05:06:07Z",
                "password_hash": hashes[i % hashes.len()],
            });
            if i % 2 == 0 {
                line["username"] = format!("i{run}{i}").into();
            }
            (i + 1, line.to_string())
        })
        .collect()
}

/// One pass over the file; (seconds, count per status).
async fn run(app: &impl auth_shared::ops::Base, file: &[(usize, String)]) -> (f64, [usize; 4]) {
    let started = Instant::now();
    let mut counts = [0; 4];
    for batch in file.chunks(BATCH) {
        for report in import_batch(app, batch).await {
            counts[match report.status {
                LineStatus::Created => 0,
                LineStatus::Exists => 1,
                LineStatus::Invalid => 2,
                LineStatus::Failed => 3,
            }] += 1;
        }
    }
    (started.elapsed().as_secs_f64(), counts)
}

pub async fn import_report(users: usize) -> Result<(), Error> {
    let config = Config::from_env()?;
    let table = config.table_name.clone();
    let sdk = auth_shared::aws::load_sdk_config().await;
    let app = App::new(config, &sdk, Arc::new(SystemClock));
    let file = lines(users, &hashes()?);

    let first = run(&app, &file).await;
    if first.1[0] != users {
        return Err(format!(
            "the import created {} of {users} users: {:?}",
            first.1[0], first.1
        )
        .into());
    }
    let again = run(&app, &file).await;
    if again.1[1] != users {
        return Err(format!(
            "the second run found {} of {users} users: {:?}",
            again.1[1], again.1
        )
        .into());
    }

    println!();
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "## Import: {users} users against DynamoDB Local ({} {build})",
        std::env::consts::ARCH
    );
    println!();
    println!(
        "`auth-bench import`: `ops::import::import_batch` on batches of {BATCH} lines, as the `admin`"
    );
    println!(
        "function receives them from `authctl import`, {} lines at a time, into the table `{table}`",
        auth_shared::ops::import::CONCURRENCY
    );
    println!(
        "of DynamoDB Local (Java) on the same 2 cores. Each line is one transaction: the profile,"
    );
    println!(
        "its email's claim, its username's for one line in two, and `user.created`. The hashes"
    );
    println!(
        "are five made once (argon2id, argon2i, bcrypt, scrypt, pbkdf2-sha256): an import parses"
    );
    println!(
        "and bounds a hash, it does not verify it. Then the same file again, every line `exists`."
    );
    println!();
    println!("| run | users | total | users/s | created | exists | invalid | failed | ≤ 10 min |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, (secs, counts)) in [("the file", first), ("the same file again", again)] {
        println!(
            "| {name} | {users} | {:.1} s | {:.0} | {} | {} | {} | {} | {} |",
            secs,
            users as f64 / secs,
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            crate::verdict(secs <= 600.0)
        );
    }
    Ok(())
}
