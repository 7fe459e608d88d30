//! Passkeys: registration by a signed-in user, sign-in without an identifier, the passkey as
//! a second factor after a password, single-use ceremonies, a credential id owned by one
//! account, the signature counter, renaming, removal with step-up and with the account,
//! against DynamoDB Local and moto, with a software authenticator that makes real ES256
//! attestations and assertions (the service verifies them with its WebAuthn library).

use auth_shared::AuthError;
use auth_shared::Clock as _;
use auth_shared::ops::Base as _;
use auth_shared::ops::account::{DeleteRequest, delete_account};
use auth_shared::ops::bearer::{Caller, authenticate};
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::login::{MfaRequest, login, login_mfa};
use auth_shared::ops::passkeys::{
    AddRequest, CeremonyOptions, MAX_PASSKEYS, PasskeyView, RenameRequest, SignInRequest, add,
    list, registration_options, remove, rename, sign_in, sign_in_options,
};
use auth_shared::ops::session::TokenPair;
use auth_shared::ops::totp::StepUpRequest;
use auth_shared::store::{ClaimItem, PasskeyAdded, PasskeyItem, UserItem, keys};
use auth_tests::TestApp;
use auth_tests::authenticator::SoftAuthenticator;
use auth_tests::moto::Outbox;
use serde_json::Value;

use crate::code;
use crate::signin::{by_email_login, verified_email};

const PASSWORD: &str = "correct horse battery staple";

/// The web app's origin, where the relying party accepts ceremonies.
fn web_origin(t: &TestApp) -> String {
    t.app.config().relying_party.get_allowed_origins()[0]
        .origin()
        .ascii_serialization()
}

async fn caller(t: &TestApp, pair: &TokenPair) -> Caller {
    authenticate(&t.app, Some(&pair.access_token))
        .await
        .expect("a live session")
}

/// A verified email account, signed in just now.
async fn signed_in(t: &TestApp) -> (String, Caller) {
    let email = verified_email(t).await;
    let pair = login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("signed in");
    let me = caller(t, &pair).await;
    (email, me)
}

/// Registers a passkey of `authenticator` for the caller.
async fn register(
    t: &TestApp,
    me: &Caller,
    authenticator: &mut SoftAuthenticator,
    name: Option<&str>,
) -> Result<PasskeyView, AuthError> {
    let CeremonyOptions {
        challenge_id,
        options,
    } = registration_options(&t.app, me, StepUpRequest::default()).await?;
    let credential = authenticator
        .register(&options)
        .expect("the authenticator creates");
    add(
        &t.app,
        me,
        AddRequest {
            challenge_id,
            credential,
            name: name.map(str::to_owned),
        },
    )
    .await
}

/// An account with one passkey of a device-bound authenticator, and that authenticator.
async fn with_passkey(t: &TestApp) -> (String, Caller, SoftAuthenticator) {
    let (email, me) = signed_in(t).await;
    let mut authenticator = SoftAuthenticator::new(&web_origin(t));
    register(t, &me, &mut authenticator, Some("Laptop"))
        .await
        .expect("registered");
    let me = refreshed(t, &me).await;
    (email, me, authenticator)
}

/// The caller as the account is now (its passkey count, for instance).
async fn refreshed(t: &TestApp, me: &Caller) -> Caller {
    let user: UserItem = t
        .app
        .store()
        .get(&me.user.pk, keys::PROFILE)
        .await
        .unwrap()
        .expect("the account");
    Caller { user, ..me.clone() }
}

/// The account the newest credential of `authenticator` is claimed by, if any.
async fn owner_of_credential(t: &TestApp, authenticator: &SoftAuthenticator) -> Option<String> {
    let claim: Option<ClaimItem> = t
        .app
        .store()
        .get(
            &keys::credential(&authenticator.credential_id()),
            keys::CLAIM,
        )
        .await
        .unwrap();
    claim.map(|c| c.user_id)
}

fn signing_in(challenge_id: String, credential: Value) -> SignInRequest {
    SignInRequest {
        challenge_id,
        credential,
        origin: Origin::default(),
    }
}

/// A passkey sign-in from options to tokens, with `authenticator`.
async fn passkey_sign_in(
    t: &TestApp,
    authenticator: &mut SoftAuthenticator,
) -> Result<TokenPair, AuthError> {
    let CeremonyOptions {
        challenge_id,
        options,
    } = sign_in_options(&t.app).await.expect("options");
    let credential = authenticator
        .sign_in(&options)
        .expect("the authenticator signs");
    sign_in(&t.app, signing_in(challenge_id, credential)).await
}

fn with_credential(challenge_id: &str, credential: Value) -> MfaRequest {
    MfaRequest {
        challenge_id: challenge_id.to_owned(),
        totp: None,
        recovery_code: None,
        credential: Some(credential),
        origin: Origin::default(),
    }
}

/// The `mfa_required` of a password sign-in: challenge, methods and passkey options.
async fn password_step(t: &TestApp, email: &str) -> (String, Vec<&'static str>, Value) {
    match login(&t.app, by_email_login(email, PASSWORD)).await {
        Err(AuthError::MfaRequired {
            challenge_id,
            methods,
            passkey_options,
        }) => (challenge_id, methods, passkey_options.unwrap_or_default()),
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

#[tokio::test]
async fn a_passkey_registered_by_its_user_signs_in_without_an_identifier_as_two_factors() {
    let t = TestApp::new().await;
    let (email, me) = signed_in(&t).await;
    let options = registration_options(&t.app, &me, StepUpRequest::default())
        .await
        .expect("a sign-in just now needs no password")
        .options;
    // A discoverable credential with user verification, for this relying party, ES256
    // among the algorithms: what a passkey needs.
    assert_eq!(options["rp"]["id"], t.app.config().passkey_rp_id.as_str());
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert!(
        options["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["alg"] == -7)
    );

    let mut authenticator = SoftAuthenticator::new(&web_origin(&t));
    let added = register(&t, &me, &mut authenticator, Some("  Work laptop "))
        .await
        .expect("registered");
    assert_eq!(added.name, "Work laptop");
    assert!(added.last_used_at.is_none());
    let me = refreshed(&t, &me).await;
    assert_eq!(
        auth_shared::ops::account::me(&me, &[]).unwrap().mfa,
        ["passkey"]
    );
    let notices = Outbox::fetch().await.emails_to(&email);
    assert!(
        notices
            .iter()
            .any(|m| m.subject == "A passkey was added to your account"),
        "the user is told"
    );

    let pair = passkey_sign_in(&t, &mut authenticator)
        .await
        .expect("signed in with the passkey alone");
    let (amr, auth_time) = crate::signed_in_by(&t, &pair.access_token);
    assert_eq!(amr, ["hwk", "user", "mfa"], "a device-bound key, verified");
    assert_eq!(auth_time, Some(t.clock.now()));
    assert_eq!(caller(&t, &pair).await.user.user_id, me.user.user_id);
    let listed = list(&t.app, &me).await.unwrap().passkeys;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, added.id);
    assert!(listed[0].last_used_at.is_some(), "the use is recorded");

    // A synced passkey is a software-secured key.
    t.clock.advance(1);
    let mut synced = SoftAuthenticator::synced(&web_origin(&t));
    register(&t, &me, &mut synced, None)
        .await
        .expect("registered");
    let pair = passkey_sign_in(&t, &mut synced).await.expect("signed in");
    assert_eq!(
        crate::signed_in_by(&t, &pair.access_token).0,
        ["swk", "user", "mfa"]
    );
    let names: Vec<String> = list(&t.app, &me)
        .await
        .unwrap()
        .passkeys
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        names,
        ["Work laptop", "Passkey"],
        "oldest first; a default name"
    );
}

#[tokio::test]
async fn a_ceremony_is_single_use_lives_five_minutes_and_belongs_to_its_account() {
    let t = TestApp::new().await;
    let (_, me, mut authenticator) = with_passkey(&t).await;

    // A sign-in's challenge answers once: the same assertion again is refused.
    let CeremonyOptions {
        challenge_id,
        options,
    } = sign_in_options(&t.app).await.unwrap();
    let assertion = authenticator.sign_in(&options).unwrap();
    sign_in(&t.app, signing_in(challenge_id.clone(), assertion.clone()))
        .await
        .expect("signed in");
    assert_eq!(
        code(sign_in(&t.app, signing_in(challenge_id, assertion)).await),
        "invalid_challenge"
    );

    // Five minutes, then the challenge is gone.
    let CeremonyOptions {
        challenge_id,
        options,
    } = sign_in_options(&t.app).await.unwrap();
    let assertion = authenticator.sign_in(&options).unwrap();
    t.clock.advance(301);
    assert_eq!(
        code(sign_in(&t.app, signing_in(challenge_id, assertion)).await),
        "invalid_challenge"
    );

    // An assertion made for one challenge does not answer another.
    let first = sign_in_options(&t.app).await.unwrap();
    let second = sign_in_options(&t.app).await.unwrap();
    let for_first = authenticator.sign_in(&first.options).unwrap();
    assert_eq!(
        code(sign_in(&t.app, signing_in(second.challenge_id, for_first)).await),
        "invalid_credential"
    );
    // ...and a challenge whose answer was refused is spent.
    let retry = authenticator.sign_in(&first.options).unwrap();
    sign_in(&t.app, signing_in(first.challenge_id, retry))
        .await
        .expect("the first challenge is still good");

    // A registration ceremony belongs to the account that started it.
    let (_, other) = signed_in(&t).await;
    let theirs = registration_options(&t.app, &other, StepUpRequest::default())
        .await
        .unwrap();
    let mut fresh = SoftAuthenticator::new(&web_origin(&t));
    let credential = fresh.register(&theirs.options).unwrap();
    let me = refreshed(&t, &me).await;
    let stolen = add(
        &t.app,
        &me,
        AddRequest {
            challenge_id: theirs.challenge_id,
            credential,
            name: None,
        },
    )
    .await;
    assert_eq!(code(stolen), "invalid_challenge");
    assert_eq!(list(&t.app, &me).await.unwrap().passkeys.len(), 1);

    // Garbage is a client error, and takes nothing.
    let ceremony = registration_options(&t.app, &me, StepUpRequest::default())
        .await
        .unwrap();
    let garbage = add(
        &t.app,
        &me,
        AddRequest {
            challenge_id: ceremony.challenge_id.clone(),
            credential: serde_json::json!({ "id": 1 }),
            name: None,
        },
    )
    .await;
    assert_eq!(code(garbage), "invalid_credential");
    let credential = fresh.register(&ceremony.options).unwrap();
    add(
        &t.app,
        &me,
        AddRequest {
            challenge_id: ceremony.challenge_id,
            credential,
            name: None,
        },
    )
    .await
    .expect("a malformed response did not spend the ceremony");
}

#[tokio::test]
async fn a_credential_id_belongs_to_one_account_even_when_two_claim_it_at_once() {
    let t = TestApp::new().await;
    let (_, me, authenticator) = with_passkey(&t).await;
    let mine: PasskeyItem = t
        .app
        .store()
        .passkeys_of(&me.user.user_id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(mine.credential_id, authenticator.credential_id());

    // Another account presenting the same credential id is refused by the claim.
    let (_, other) = signed_in(&t).await;
    let copy = PasskeyItem {
        pk: other.user.pk.clone(),
        user_id: other.user.user_id.clone(),
        ..mine.clone()
    };
    assert_eq!(
        t.app
            .store()
            .add_passkey(&other.user, &copy, MAX_PASSKEYS, Vec::new())
            .await
            .unwrap(),
        PasskeyAdded::Claimed
    );

    // Two accounts racing for a new credential id: exactly one gets it.
    let (_, third) = signed_in(&t).await;
    let credential_id = auth_shared::crypto::base64url(&uuid::Uuid::new_v4().into_bytes());
    let racing = |owner: &Caller| PasskeyItem {
        pk: owner.user.pk.clone(),
        sk: keys::passkey("raced"),
        passkey_id: "raced".to_owned(),
        user_id: owner.user.user_id.clone(),
        credential_id: credential_id.clone(),
        ..mine.clone()
    };
    let (a, b) = (racing(&other), racing(&third));
    let store = t.app.store();
    let (x, y) = tokio::join!(
        store.add_passkey(&other.user, &a, MAX_PASSKEYS, Vec::new()),
        store.add_passkey(&third.user, &b, MAX_PASSKEYS, Vec::new())
    );
    let outcomes = [x.unwrap(), y.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == PasskeyAdded::Added)
            .count(),
        1,
        "{outcomes:?}"
    );
    let claim: ClaimItem = store
        .get(&keys::credential(&credential_id), keys::CLAIM)
        .await
        .unwrap()
        .expect("claimed");
    let winner = if outcomes[0] == PasskeyAdded::Added {
        &other
    } else {
        &third
    };
    assert_eq!(claim.user_id, winner.user.user_id);
}

#[tokio::test]
async fn a_signature_counter_that_does_not_move_forward_is_refused() {
    let t = TestApp::new().await;
    let (_, _, mut authenticator) = with_passkey(&t).await;
    passkey_sign_in(&t, &mut authenticator)
        .await
        .expect("counter 1");
    // A copy of the key made now (counter 1), then the original signs in (counter 2): the
    // copy's next assertion (counter 2) does not move the stored counter forward.
    let mut cloned = authenticator.clone_newest();
    passkey_sign_in(&t, &mut authenticator)
        .await
        .expect("counter 2");
    assert_eq!(
        code(passkey_sign_in(&t, &mut cloned).await),
        "invalid_credential"
    );
    // Going back outright is refused too.
    authenticator.set_counter(0);
    assert_eq!(
        code(passkey_sign_in(&t, &mut authenticator).await),
        "invalid_credential"
    );

    // Two assertions with the same counter racing (a key and its copy, each for its own
    // challenge): both verify against the stored counter, the table's condition lets one
    // count.
    authenticator.set_counter(10);
    let twin = authenticator.clone_newest();
    let mut twins = [authenticator, twin];
    let first = sign_in_options(&t.app).await.unwrap();
    let second = sign_in_options(&t.app).await.unwrap();
    let a = twins[0].sign_in(&first.options).unwrap();
    let b = twins[1].sign_in(&second.options).unwrap();
    let (x, y) = tokio::join!(
        sign_in(&t.app, signing_in(first.challenge_id, a)),
        sign_in(&t.app, signing_in(second.challenge_id, b))
    );
    let results = [x.map(drop), y.map(drop)];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(AuthError::InvalidCredential)))
    );
}

#[tokio::test]
async fn a_password_sign_in_of_an_account_with_a_passkey_asks_for_it() {
    let t = TestApp::new().await;
    let (email, _, mut authenticator) = with_passkey(&t).await;
    let (challenge_id, methods, options) = password_step(&t, &email).await;
    assert_eq!(methods, ["passkey"]);
    assert_eq!(
        options["allowCredentials"][0]["id"],
        authenticator.credential_id().as_str(),
        "the options name the account's passkey"
    );

    // Another authenticator's assertion is refused, and counts as one of the 5 tries.
    let mut stranger = SoftAuthenticator::new(&web_origin(&t));
    let (_, someone) = signed_in(&t).await;
    register(&t, &someone, &mut stranger, None).await.unwrap();
    let mut wider = options.clone();
    wider["allowCredentials"] = serde_json::json!([]);
    let foreign = stranger.sign_in(&wider).unwrap();
    assert_eq!(
        code(login_mfa(&t.app, with_credential(&challenge_id, foreign)).await),
        "invalid_credential"
    );

    let assertion = authenticator.sign_in(&options).unwrap();
    let pair = login_mfa(&t.app, with_credential(&challenge_id, assertion.clone()))
        .await
        .expect("the passkey finishes the sign-in");
    assert_eq!(
        crate::signed_in_by(&t, &pair.access_token).0,
        ["pwd", "hwk", "user", "mfa"]
    );
    // The challenge is spent.
    assert_eq!(
        code(login_mfa(&t.app, with_credential(&challenge_id, assertion)).await),
        "invalid_challenge"
    );

    // However many wrong assertions arrive at once, at most 5 are compared.
    let (challenge_id, _, _) = password_step(&t, &email).await;
    let tries = (0..12).map(|_| {
        login_mfa(
            &t.app,
            with_credential(&challenge_id, serde_json::json!({ "id": "x" })),
        )
    });
    let answers: Vec<&str> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(code)
        .collect();
    let compared = answers
        .iter()
        .filter(|a| **a == "invalid_credential")
        .count();
    assert!(compared <= 5, "{answers:?}");
    assert!(answers.contains(&"too_many_attempts"), "{answers:?}");
}

#[tokio::test]
async fn renaming_and_removing_a_passkey_and_the_step_up_removal_needs() {
    let t = TestApp::new().await;
    let (email, me, mut authenticator) = with_passkey(&t).await;
    let id = list(&t.app, &me).await.unwrap().passkeys[0].id.clone();

    let renamed = rename(
        &t.app,
        &me,
        &id,
        RenameRequest {
            name: "Phone".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(renamed.name, "Phone");
    assert_eq!(
        code(rename(&t.app, &me, &id, RenameRequest { name: " ".into() }).await),
        "invalid_request"
    );
    assert_eq!(
        code(
            rename(
                &t.app,
                &me,
                "no-such-id",
                RenameRequest { name: "x".into() }
            )
            .await
        ),
        "passkey_not_found"
    );

    // Eleven minutes after the sign-in, removing needs the password.
    t.clock.advance(11 * 60);
    assert_eq!(
        code(remove(&t.app, &me, &id, StepUpRequest::default()).await),
        "reauthentication_required"
    );
    assert_eq!(
        code(registration_options(&t.app, &me, StepUpRequest::default()).await),
        "reauthentication_required",
        "adding one too"
    );
    let with_password = || StepUpRequest {
        password: Some(PASSWORD.to_owned()),
    };
    remove(&t.app, &me, &id, with_password())
        .await
        .expect("removed");
    assert_eq!(
        code(remove(&t.app, &me, &id, with_password()).await),
        "passkey_not_found"
    );
    assert!(list(&t.app, &me).await.unwrap().passkeys.is_empty());
    assert!(
        owner_of_credential(&t, &authenticator).await.is_none(),
        "its credential id is free"
    );
    // Its addition and removal, by name, in the account's activity.
    let activity = auth_shared::ops::audit::page(&t.app, &me.user.user_id, None, Some(100))
        .await
        .unwrap()
        .activity;
    let changes: Vec<(&str, Option<&str>)> = activity
        .iter()
        .filter(|a| a.event.starts_with("passkey_"))
        .map(|a| (a.event.as_str(), a.detail.as_deref()))
        .collect();
    assert_eq!(
        changes,
        [
            ("passkey_removed", Some("Phone")),
            ("passkey_added", Some("Laptop"))
        ]
    );
    assert_eq!(
        code(passkey_sign_in(&t, &mut authenticator).await),
        "invalid_credential",
        "it no longer signs in"
    );
    login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .expect("a password alone signs in again");
    assert!(
        Outbox::fetch()
            .await
            .emails_to(&email)
            .iter()
            .any(|m| m.subject == "A passkey was removed from your account")
    );
}

#[tokio::test]
async fn an_account_has_at_most_ten_passkeys_and_deleting_it_frees_their_ids() {
    let t = TestApp::new().await;
    let (_, me) = signed_in(&t).await;
    let mut authenticators = Vec::new();
    for _ in 0..MAX_PASSKEYS {
        let mut authenticator = SoftAuthenticator::new(&web_origin(&t));
        let me = refreshed(&t, &me).await;
        register(&t, &me, &mut authenticator, None).await.unwrap();
        authenticators.push(authenticator);
    }
    let me = refreshed(&t, &me).await;
    assert_eq!(me.user.passkeys, MAX_PASSKEYS);
    assert_eq!(
        code(registration_options(&t.app, &me, StepUpRequest::default()).await),
        "too_many_passkeys"
    );

    delete_account(
        &t.app,
        &me,
        DeleteRequest {
            password: PASSWORD.to_owned(),
        },
    )
    .await
    .expect("deleted");
    assert!(
        t.app
            .store()
            .passkeys_of(&me.user.user_id)
            .await
            .unwrap()
            .is_empty()
    );
    for authenticator in &authenticators {
        assert!(owner_of_credential(&t, authenticator).await.is_none());
    }
    assert_eq!(
        code(passkey_sign_in(&t, &mut authenticators[0]).await),
        "invalid_credential"
    );
}

#[tokio::test]
async fn a_password_reset_never_skips_the_passkey() {
    let t = TestApp::new().await;
    let (email, _, mut authenticator) = with_passkey(&t).await;
    let new_password = "a brand new passphrase here";
    let result = crate::recovery::reset_by_email(&t, &email, new_password).await;
    let (challenge_id, options) = match result {
        Err(AuthError::MfaRequired {
            challenge_id,
            methods,
            passkey_options: Some(options),
        }) if methods == ["passkey"] => (challenge_id, options),
        other => panic!(
            "expected mfa_required with a passkey, got {:?}",
            other.map(|d| d.user_id)
        ),
    };
    let assertion = authenticator.sign_in(&options).unwrap();
    let pair = login_mfa(&t.app, with_credential(&challenge_id, assertion))
        .await
        .expect("the passkey finishes the reset's sign-in");
    assert_eq!(
        crate::signed_in_by(&t, &pair.access_token).0,
        ["otp", "hwk", "user", "mfa"],
        "the emailed code, then the passkey"
    );
}
