//! Importing users from another system (`ops::import`) against DynamoDB Local: each scheme's
//! hash signs its user in and is replaced by the service's argon2id at that sign-in, an import
//! run again writes nothing, a line never makes a second account for an identifier, and a
//! change or reset racing the first sign-in's re-hash keeps the new password.

use std::sync::Arc;

use argon2::password_hash::{CustomizedPasswordHasher as _, PasswordHasher as _};
use auth_shared::AuthError;
use auth_shared::crypto::SignedIn;
use auth_shared::events::{OutboxItem, USER_CREATED, UserEvent};
use auth_shared::ops::Base as _;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::import::{LineReport, LineStatus, import_batch};
use auth_shared::ops::login::{LoginRequest, OtpRequest, login, login_with_otp};
use auth_shared::ops::password::{ChangeRequest, ResetRequest, change, reset};
use auth_shared::ops::session::{TokenPair, refresh, start_checked};
use auth_shared::store::{ClaimItem, UserItem, keys};
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{TestApp, unique_email};
use serde_json::json;

use crate::code;
use crate::recovery::{forgot, last_reset_link};
use crate::sessions::exchange;
use crate::signin::verified_email;

const OLD_PASSWORD: &str = "the password from the old system";
const NEW_PASSWORD: &str = "a different long passphrase";
/// The password `verified_email` registers with.
const REGISTERED_PASSWORD: &str = "correct horse battery staple";
/// Where every hash made here by the service starts.
const SERVICE_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

const SALT: &[u8] = b"a salt of 16 b..";

fn argon2(algorithm: argon2::Algorithm, password: &str) -> String {
    let params = argon2::Params::new(4096, 2, 1, None).expect("argon2 parameters");
    argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), SALT)
        .expect("an argon2 hash")
        .to_string()
}

fn bcrypt(password: &str) -> String {
    bcrypt::hash(password, 5).expect("a bcrypt hash")
}

fn scrypt(password: &str) -> String {
    let params = scrypt::Params::new(10, 8, 1).expect("scrypt parameters");
    scrypt::Scrypt::new_with_params(params)
        .hash_password_with_salt(password.as_bytes(), SALT)
        .expect("an scrypt hash")
        .to_string()
}

fn pbkdf2(password: &str) -> String {
    let params = pbkdf2::Params::new(2_000).expect("pbkdf2 parameters");
    pbkdf2::Pbkdf2::SHA256
        .hash_password_customized(password.as_bytes(), SALT, None, None, params)
        .expect("a pbkdf2 hash")
        .to_string()
}

/// `password`'s hash in each scheme an import takes, named.
fn every_scheme(password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("argon2id", argon2(argon2::Algorithm::Argon2id, password)),
        ("argon2i", argon2(argon2::Algorithm::Argon2i, password)),
        ("bcrypt", bcrypt(password)),
        ("scrypt", scrypt(password)),
        ("pbkdf2-sha256", pbkdf2(password)),
    ]
}

fn line(email: &str, verified: bool, hash: &str) -> String {
    json!({"email": email, "verified": verified, "password_hash": hash}).to_string()
}

/// The lines numbered from 1.
fn numbered(lines: &[String]) -> Vec<(usize, String)> {
    lines
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect()
}

fn sign_in(email: &str, password: &str) -> LoginRequest {
    LoginRequest {
        email: Some(email.to_owned()),
        phone: None,
        password: password.to_owned(),
        origin: Origin::default(),
    }
}

async fn profile(t: &TestApp, user_id: &str) -> UserItem {
    t.app
        .store()
        .get(&keys::user(user_id), keys::PROFILE)
        .await
        .expect("a read")
        .expect("the account")
}

async fn claim(t: &TestApp, email: &str) -> Option<ClaimItem> {
    let pk = keys::identifier(
        auth_shared::domain::IdentifierKind::Email,
        &email.to_lowercase(),
    );
    t.app.store().get(&pk, keys::CLAIM).await.expect("a read")
}

/// Imports one verified user with `hash`; their user id.
async fn imported(t: &TestApp, email: &str, hash: &str) -> String {
    let reports = import_batch(&t.app, &numbered(&[line(email, true, hash)])).await;
    assert_eq!(reports[0].status, LineStatus::Created, "{reports:?}");
    reports[0].user_id.clone().expect("a user id")
}

fn created(report: &LineReport) -> &str {
    assert_eq!(report.status, LineStatus::Created, "{report:?}");
    report.user_id.as_deref().expect("a user id")
}

#[tokio::test]
async fn each_scheme_signs_in_with_the_old_password_and_is_rehashed_at_that_sign_in() {
    let t = TestApp::new().await;
    for (scheme, hash) in every_scheme(OLD_PASSWORD) {
        let email = unique_email();
        let user_id = imported(&t, &email, &hash).await;
        assert_eq!(profile(&t, &user_id).await.password_hash, hash, "{scheme}");
        assert_eq!(
            code(login(&t.app, sign_in(&email, "not the old password")).await),
            "invalid_credentials",
            "{scheme}"
        );
        // A wrong password replaces nothing.
        assert_eq!(profile(&t, &user_id).await.password_hash, hash, "{scheme}");

        login(&t.app, sign_in(&email, OLD_PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e:?}"));
        let rehashed = profile(&t, &user_id).await.password_hash;
        assert!(rehashed.starts_with("$argon2id$"), "{scheme}: {rehashed}");
        assert!(rehashed.starts_with(SERVICE_PREFIX), "{scheme}: {rehashed}");
        // The old password goes on signing in, now against the service's own hash.
        login(&t.app, sign_in(&email, OLD_PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("{scheme}, again: {e:?}"));
        assert_eq!(profile(&t, &user_id).await.password_hash, rehashed);
        assert_eq!(
            code(login(&t.app, sign_in(&email, "not the old password")).await),
            "invalid_credentials",
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn a_known_bcrypt_hash_from_elsewhere_signs_in() {
    // The OpenBSD test vector of `$2a$`: "U*U" at cost 5. Too short a password for a new
    // account here, but a sign-in does not judge passwords.
    let t = TestApp::new().await;
    let email = unique_email();
    let hash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    let user_id = imported(&t, &email, hash).await;
    login(&t.app, sign_in(&email, "U*U"))
        .await
        .expect("signed in");
    assert!(
        profile(&t, &user_id)
            .await
            .password_hash
            .starts_with(SERVICE_PREFIX)
    );
}

#[tokio::test]
async fn an_unverified_import_signs_in_with_a_code_which_verifies_it() {
    let t = TestApp::new().await;
    let email = unique_email();
    let hash = bcrypt(OLD_PASSWORD);
    let reports = import_batch(&t.app, &numbered(&[line(&email, false, &hash)])).await;
    let user_id = created(&reports[0]).to_owned();
    let account = profile(&t, &user_id).await;
    assert!(!account.verified);
    // Never expires, and is not among the accounts the sweeper may delete.
    assert_eq!((account.expires_at, account.unverified), (None, None));
    assert!(
        claim(&t, &email)
            .await
            .expect("claimed")
            .expires_at
            .is_none()
    );

    let Err(AuthError::VerificationRequired { challenge_id, .. }) =
        login(&t.app, sign_in(&email, OLD_PASSWORD)).await
    else {
        panic!("expected verification_required")
    };
    // The password was right: its hash is replaced already, before the code.
    assert!(
        profile(&t, &user_id)
            .await
            .password_hash
            .starts_with(SERVICE_PREFIX)
    );
    let mails = Outbox::fetch().await.emails_to(&email);
    let otp = six_digits(&mails.last().expect("the code's mail").html).expect("a code");
    let request = OtpRequest {
        challenge_id,
        otp,
        origin: Origin::default(),
    };
    login_with_otp(&t.app, request).await.expect("signed in");
    assert!(profile(&t, &user_id).await.verified);
    login(&t.app, sign_in(&email, OLD_PASSWORD))
        .await
        .expect("verified: the password alone signs in");
}

#[tokio::test]
async fn importing_the_same_lines_again_reports_exists_and_writes_nothing() {
    let t = TestApp::new().await;
    let username = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let with_username = json!({
        "email": unique_email(),
        "verified": true,
        "username": username,
        "created_at": "2019-05-06T07:08:09+02:00",
        "password_hash": scrypt(OLD_PASSWORD),
    })
    .to_string();
    let lines = numbered(&[
        line(&unique_email(), true, &bcrypt(OLD_PASSWORD)),
        with_username,
        line(&unique_email(), false, &pbkdf2(OLD_PASSWORD)),
    ]);
    let first = import_batch(&t.app, &lines).await;
    let ids: Vec<String> = first.iter().map(|r| created(r).to_owned()).collect();
    assert_eq!(
        first.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 2, 3],
        "one report a line, in order"
    );
    let second = profile(&t, &ids[1]).await;
    assert_eq!(
        second.created_at, 1_557_119_289,
        "created_at as the line says"
    );
    assert_eq!(second.username.as_deref(), Some(username.as_str()));
    let before: Vec<serde_json::Value> =
        futures::future::join_all(ids.iter().map(|id| profile(&t, id)))
            .await
            .into_iter()
            .map(|p| serde_json::to_value(&p).expect("json"))
            .collect();

    t.clock.advance(3600);
    let again = import_batch(&t.app, &lines).await;
    for (report, id) in again.iter().zip(&ids) {
        assert_eq!(report.status, LineStatus::Exists, "{report:?}");
        assert_eq!(report.user_id.as_deref(), Some(id.as_str()));
    }
    let after: Vec<serde_json::Value> =
        futures::future::join_all(ids.iter().map(|id| profile(&t, id)))
            .await
            .into_iter()
            .map(|p| serde_json::to_value(&p).expect("json"))
            .collect();
    assert_eq!(before, after);
    // No second announcement of any of them.
    for id in &ids {
        assert_eq!(created_events(&t, id).await.len(), 1, "{id}");
    }
}

#[tokio::test]
async fn a_line_whose_identifier_a_registered_account_holds_leaves_that_account_alone() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let holder = claim(&t, &email).await.expect("claimed").user_id;
    let account = profile(&t, &holder).await;

    // The same address, written otherwise.
    let lines = numbered(&[line(&email.to_uppercase(), true, &bcrypt(OLD_PASSWORD))]);
    let reports = import_batch(&t.app, &lines).await;
    assert_eq!(reports[0].status, LineStatus::Exists, "{reports:?}");
    assert_eq!(reports[0].user_id.as_deref(), Some(holder.as_str()));

    let now = profile(&t, &holder).await;
    assert_eq!(now.password_hash, account.password_hash);
    assert_eq!(claim(&t, &email).await.expect("claimed").user_id, holder);
    login(&t.app, sign_in(&email, REGISTERED_PASSWORD))
        .await
        .expect("the account's own password");
    assert_eq!(
        code(login(&t.app, sign_in(&email, OLD_PASSWORD)).await),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn a_username_another_account_holds_is_exists_and_writes_nothing() {
    let t = TestApp::new().await;
    let username = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let first = json!({"email": unique_email(), "verified": true, "username": username,
        "password_hash": bcrypt(OLD_PASSWORD)});
    let email = unique_email();
    // The same username, another case.
    let second = json!({"email": email, "verified": true,
        "username": username.to_uppercase(), "password_hash": bcrypt(OLD_PASSWORD)});
    let reports = import_batch(&t.app, &numbered(&[first.to_string()])).await;
    created(&reports[0]);
    let reports = import_batch(&t.app, &numbered(&[second.to_string()])).await;
    assert_eq!(reports[0].status, LineStatus::Exists, "{reports:?}");
    assert!(
        reports[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("username")
    );
    assert!(claim(&t, &email).await.is_none(), "nothing written");
}

#[tokio::test]
async fn invalid_lines_are_reported_with_a_reason_and_write_nothing() {
    let t = TestApp::new().await;
    let hash = bcrypt(OLD_PASSWORD);
    let emails: Vec<String> = (0..14).map(|_| unique_email()).collect();
    let e = |i: usize| emails[i].as_str();
    let lines = [
        "{\"email\": ".to_owned(),
        "[1, 2]".to_owned(),
        json!({"email": e(0), "phone": "+14155550123", "verified": true, "password_hash": hash})
            .to_string(),
        json!({"verified": true, "password_hash": hash}).to_string(),
        json!({"email": "not an address", "verified": true, "password_hash": hash}).to_string(),
        json!({"phone": "12", "verified": true, "password_hash": hash}).to_string(),
        json!({"email": e(1), "verified": true, "password_hash": hash, "admin": true})
            .to_string(),
        json!({"email": e(2), "password_hash": hash}).to_string(),
        // A hash in the wrong field is not quoted back.
        json!({"email": e(3), "verified": hash, "password_hash": hash}).to_string(),
        json!({"email": e(4), "verified": true, "password_hash": "5f4dcc3b5aa765d61d8327deb882cf99"})
            .to_string(),
        json!({"email": e(5), "verified": true, "password_hash": hash.replacen("$05$", "$16$", 1)})
            .to_string(),
        json!({"email": e(6), "verified": true, "password_hash": scrypt(OLD_PASSWORD).replacen("ln=10", "ln=21", 1)})
            .to_string(),
        json!({"email": e(7), "verified": true, "password_hash": pbkdf2(OLD_PASSWORD).replacen("i=2000", "i=20000000", 1)})
            .to_string(),
        json!({"email": e(8), "verified": true, "password_hash": argon2(argon2::Algorithm::Argon2d, OLD_PASSWORD)})
            .to_string(),
        json!({"email": e(9), "verified": true, "created_at": "2999-01-01T00:00:00Z", "password_hash": hash})
            .to_string(),
        json!({"email": e(10), "verified": true, "created_at": "yesterday", "password_hash": hash})
            .to_string(),
        json!({"email": e(11), "verified": true, "username": "no spaces", "password_hash": hash})
            .to_string(),
        json!({"email": e(12), "verified": true}).to_string(),
        json!({"email": e(13), "verified": true, "password_hash": 42}).to_string(),
    ];
    let reports = import_batch(&t.app, &numbered(&lines)).await;
    assert_eq!(reports.len(), lines.len());
    for (report, line) in reports.iter().zip(&lines) {
        assert_eq!(report.status, LineStatus::Invalid, "{report:?} for {line}");
        assert_eq!(report.user_id, None);
        let reason = report.error.as_deref().expect("a reason");
        assert!(!reason.is_empty() && reason.len() < 120, "{reason}");
        assert!(!reason.contains(&hash[7..]), "the hash is quoted: {reason}");
        assert!(!reason.contains("$2b$"), "{reason}");
    }
    let reason = |n: usize| reports[n].error.clone().unwrap_or_default();
    assert!(reason(0).contains("JSON"), "{}", reason(0));
    assert!(reason(6).contains("`admin`"), "{}", reason(6));
    assert!(reason(10).contains("out of bounds"), "{}", reason(10));
    assert!(reason(14).contains("future"), "{}", reason(14));
    for email in &emails {
        assert!(claim(&t, email).await.is_none(), "{email} was claimed");
    }
}

#[tokio::test]
async fn the_same_identifier_twice_in_one_batch_makes_one_account() {
    let t = TestApp::new().await;
    let email = unique_email();
    let lines = numbered(&[
        line(&email, true, &bcrypt(OLD_PASSWORD)),
        line(&email.to_uppercase(), true, &scrypt(OLD_PASSWORD)),
        line(&format!(" {email} "), true, &pbkdf2(OLD_PASSWORD)),
    ]);
    let reports = import_batch(&t.app, &lines).await;
    let made: Vec<&LineReport> = reports
        .iter()
        .filter(|r| r.status == LineStatus::Created)
        .collect();
    assert_eq!(made.len(), 1, "{reports:?}");
    let holder = claim(&t, &email).await.expect("claimed").user_id;
    assert_eq!(made[0].user_id.as_deref(), Some(holder.as_str()));
    for report in &reports {
        assert_eq!(
            report.user_id.as_deref(),
            Some(holder.as_str()),
            "{report:?}"
        );
    }
    login(&t.app, sign_in(&email, OLD_PASSWORD))
        .await
        .expect("signed in");
}

/// Every `user.created` the outbox holds for `user_id`, published or not. Read from the
/// table itself (a scan of the outbox's items), not its stream.
async fn created_events(t: &TestApp, user_id: &str) -> Vec<UserEvent> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = t.app.store();
    let mut events = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table())
            .filter_expression("sk = :event AND user_id = :user AND event_type = :created")
            .expression_attribute_values(":event", AttributeValue::S(keys::EVENT.to_owned()))
            .expression_attribute_values(":user", AttributeValue::S(user_id.to_owned()))
            .expression_attribute_values(":created", AttributeValue::S(USER_CREATED.to_owned()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("a scan");
        for item in page.items.unwrap_or_default() {
            let item: OutboxItem = serde_dynamo::from_item(item).expect("an outbox item");
            events.push(item.event().expect("its event"));
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return events,
        }
    }
}

#[tokio::test]
async fn user_created_says_the_account_was_imported() {
    let t = TestApp::new().await;
    let username = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let line = json!({"email": unique_email(), "verified": true, "username": username,
        "password_hash": bcrypt(OLD_PASSWORD)});
    let reports = import_batch(&t.app, &numbered(&[line.to_string()])).await;
    let user_id = created(&reports[0]).to_owned();
    let events = created_events(&t, &user_id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].imported);
    assert_eq!(events[0].username.as_deref(), Some(username.as_str()));
    assert_eq!(events[0].identifier_type.as_deref(), Some("email"));
    let payload = serde_json::to_value(&events[0]).expect("json");
    assert_eq!(payload["imported"], true);
    assert!(payload.get("email").is_none() && payload.get("password_hash").is_none());

    // A registered account's says nothing of it.
    let email = verified_email(&t).await;
    let registered = claim(&t, &email).await.expect("claimed").user_id;
    let events = created_events(&t, &registered).await;
    let payload = serde_json::to_value(&events[0]).expect("json");
    assert!(payload.get("imported").is_none(), "{payload}");
}

/// Signs in with `password` from three tasks, over and over, while `racing` runs and a little
/// after; every pair any of them got.
async fn sign_ins_during<F: std::future::Future>(
    t: &Arc<TestApp>,
    email: &str,
    password: &str,
    racing: F,
) -> (F::Output, Vec<TokenPair>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let (t, stop) = (t.clone(), stop.clone());
        let (email, password) = (email.to_owned(), password.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut pairs = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok(pair) = login(&t.app, sign_in(&email, &password)).await {
                    pairs.push(pair);
                }
            }
            pairs
        }));
    }
    // The first sign-in's verify and re-hash take a few tens of milliseconds: start the
    // change or reset while they are under way.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let raced = racing.await;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    stop.store(true, Ordering::SeqCst);
    let mut pairs = Vec::new();
    for task in tasks {
        pairs.extend(task.await.expect("sign-in task"));
    }
    (raced, pairs)
}

/// After a change or reset: the new password signs in and the old one does not, the hash is
/// the service's, and no session the old password opened lives on.
async fn only_the_new_password_works(t: &TestApp, email: &str, user_id: &str, old: &[TokenPair]) {
    for pair in old {
        assert_eq!(
            code(refresh(&t.app, exchange(&pair.refresh_token)).await),
            "invalid_grant",
            "a session signed in with the old password outlived the change"
        );
    }
    // Past any lock the failed sign-ins after the change earned.
    t.clock.advance(900);
    login(&t.app, sign_in(email, NEW_PASSWORD))
        .await
        .expect("the new password signs in");
    assert_eq!(
        code(login(&t.app, sign_in(email, OLD_PASSWORD)).await),
        "invalid_credentials"
    );
    assert!(
        profile(t, user_id)
            .await
            .password_hash
            .starts_with(SERVICE_PREFIX)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_racing_the_first_sign_in_s_rehash_leaves_the_new_password() {
    let t = Arc::new(TestApp::new().await);
    let email = unique_email();
    let user_id = imported(&t, &email, &bcrypt(OLD_PASSWORD)).await;
    forgot(
        &t.app,
        auth_shared::ops::password::ForgotRequest {
            email: Some(email.clone()),
            phone: None,
            origin: Origin::default(),
        },
    )
    .await
    .expect("a reset link");
    let link = last_reset_link(&email).await;
    let request = ResetRequest {
        code: link,
        password: NEW_PASSWORD.to_owned(),
        repeat_password: NEW_PASSWORD.to_owned(),
        phone: None,
        origin: Origin::default(),
    };
    let (done, pairs) = sign_ins_during(&t, &email, OLD_PASSWORD, reset(&t.app, request)).await;
    done.expect("the password was reset");
    only_the_new_password_works(&t, &email, &user_id, &pairs).await;
}

/// A session of the imported account `user_id` started without a password sign-in (so its
/// hash is still the imported one), as the caller of a change.
async fn caller_with_the_imported_hash(
    t: &TestApp,
    user_id: &str,
) -> auth_shared::ops::bearer::Caller {
    let user = profile(t, user_id).await;
    let pair = start_checked(
        &t.app,
        &user,
        &Origin::default(),
        SignedIn::password(t.app.now()),
        &[],
    )
    .await
    .expect("a session");
    let caller = authenticate(&t.app, Some(&pair.access_token))
        .await
        .expect("a caller");
    assert!(!caller.user.password_hash.starts_with(SERVICE_PREFIX));
    caller
}

fn change_to_new() -> ChangeRequest {
    ChangeRequest {
        current_password: OLD_PASSWORD.to_owned(),
        password: NEW_PASSWORD.to_owned(),
        repeat_password: NEW_PASSWORD.to_owned(),
        origin: Origin::default(),
    }
}

#[tokio::test]
async fn a_change_read_before_the_first_sign_in_s_rehash_still_goes_through() {
    let t = TestApp::new().await;
    let email = unique_email();
    let user_id = imported(&t, &email, &scrypt(OLD_PASSWORD)).await;
    let caller = caller_with_the_imported_hash(&t, &user_id).await;
    // The first sign-in re-hashes between the change's read and its write.
    let signed_in = login(&t.app, sign_in(&email, OLD_PASSWORD))
        .await
        .expect("signed in");
    assert!(
        profile(&t, &user_id)
            .await
            .password_hash
            .starts_with(SERVICE_PREFIX)
    );
    change(&t.app, &caller, change_to_new())
        .await
        .expect("the password changed");
    only_the_new_password_works(&t, &email, &user_id, &[signed_in]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_racing_the_first_sign_in_s_rehash_leaves_the_new_password() {
    let t = Arc::new(TestApp::new().await);
    let email = unique_email();
    let user_id = imported(&t, &email, &pbkdf2(OLD_PASSWORD)).await;
    let caller = caller_with_the_imported_hash(&t, &user_id).await;
    let (changed, pairs) = sign_ins_during(
        &t,
        &email,
        OLD_PASSWORD,
        change(&t.app, &caller, change_to_new()),
    )
    .await;
    changed.expect("the password changed");
    only_the_new_password_works(&t, &email, &user_id, &pairs).await;
}
