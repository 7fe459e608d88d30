//! A software WebAuthn authenticator, with the browser around it, for the passkey tests. Its
//! credentials are real ES256 keys (P-256 ECDSA, COSE algorithm -7) registered with "none"
//! attestation, and it speaks the WebAuthn Level 3 JSON forms: it takes the options the
//! service answers (`PublicKeyCredentialCreationOptionsJSON`,
//! `PublicKeyCredentialRequestOptionsJSON`) and answers what `PublicKeyCredential.toJSON()`
//! gives in a browser (`RegistrationResponseJSON`, `AuthenticationResponseJSON`), so the
//! service verifies it exactly as it verifies a phone or a security key.
//!
//! Like a platform authenticator, it keeps every credential discoverable (it remembers the
//! relying party's id and the user handle) and verifies the user on every ceremony. Like a
//! browser, it refuses a relying-party id that is not its origin's host or a parent domain of
//! it.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde::Serialize;
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// COSE algorithm identifier of ES256 (ECDSA on P-256 with SHA-256).
const ES256: i64 = -7;

/// Authenticator data flags (WebAuthn Level 3, 6.1).
const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const BACKUP_ELIGIBLE: u8 = 0x08;
const BACKED_UP: u8 = 0x10;
const ATTESTED_CREDENTIAL_DATA: u8 = 0x40;

/// The length of the credential ids it makes (WebAuthn allows 16 to 1023 bytes).
const CREDENTIAL_ID_LEN: usize = 32;

/// One discoverable credential: an ES256 key for one relying party and one user.
#[derive(Debug, Clone)]
struct Credential {
    id: Vec<u8>,
    key: SigningKey,
    rp_id: String,
    user_handle: Vec<u8>,
    counter: u32,
}

impl Credential {
    /// The authenticator data's fixed part: the relying party's id hash, the flags and the
    /// signature counter.
    fn authenticator_data(&self, flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }

    /// The public key as a COSE_Key (RFC 9052) in CBOR: an EC2 key on P-256 for ES256.
    fn cose_key(&self) -> Vec<u8> {
        // An uncompressed SEC1 point: 0x04, then x and y, 32 bytes each.
        let point = self.key.verifying_key().to_sec1_point(false);
        let (x, y) = point.as_bytes()[1..].split_at(32);
        let key = BTreeMap::from([
            (Cbor::Integer(1), Cbor::Integer(2)),            // kty: EC2
            (Cbor::Integer(3), Cbor::Integer(ES256.into())), // alg: ES256
            (Cbor::Integer(-1), Cbor::Integer(1)),           // crv: P-256
            (Cbor::Integer(-2), Cbor::Bytes(x.to_vec())),
            (Cbor::Integer(-3), Cbor::Bytes(y.to_vec())),
        ]);
        serde_cbor_2::to_vec(&Cbor::Map(key)).expect("a CBOR map encodes")
    }

    /// An ECDSA signature, DER-encoded as WebAuthn sends it, over `authenticator_data` and
    /// the SHA-256 hash of the client data.
    fn sign(&self, authenticator_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
        let client_data_hash = Sha256::digest(client_data_json);
        let signed = [authenticator_data, client_data_hash.as_slice()].concat();
        let signature: DerSignature = self.key.sign(&signed);
        signature.as_bytes().to_vec()
    }
}

/// The client data a browser hashes into every ceremony, with its members in the order
/// browsers write them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientData<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    challenge: &'a str,
    origin: &'a str,
    cross_origin: bool,
}

/// A platform authenticator in a browser on one origin, holding discoverable ES256
/// credentials, oldest first.
#[derive(Debug, Clone)]
pub struct SoftAuthenticator {
    /// The web page's origin, as a browser writes it in the client data.
    origin: String,
    /// Its credentials may be backed up or synced to other devices (the BE flag); their
    /// signature counters then stay where they are (at 0, as synced passkeys' do).
    backup_eligible: bool,
    /// Its credentials are backed up (the BS flag).
    backed_up: bool,
    credentials: Vec<Credential>,
}

impl SoftAuthenticator {
    /// A device-bound authenticator in a browser on `origin` (e.g. `http://localhost:5173`):
    /// it verifies the user on every ceremony, its credentials are neither backup eligible nor
    /// backed up, and their signature counters go up by one on every sign-in. Panics if
    /// `origin` is not a URL.
    pub fn new(origin: &str) -> Self {
        let origin = reqwest::Url::parse(origin)
            .unwrap_or_else(|e| panic!("the origin {origin} is not a URL: {e}"))
            .origin()
            .ascii_serialization();
        Self {
            origin,
            backup_eligible: false,
            backed_up: false,
            credentials: Vec::new(),
        }
    }

    /// Like a synced passkey (a password manager's, or a phone's that is backed up): its
    /// credentials are backup eligible and backed up, and their signature counters stay at 0.
    pub fn synced(origin: &str) -> Self {
        Self {
            backup_eligible: true,
            backed_up: true,
            ..Self::new(origin)
        }
    }

    /// Creates a credential as `navigator.credentials.create()` does, from `options`, the
    /// service's `PublicKeyCredentialCreationOptionsJSON` (the object with `rp`, `user`,
    /// `challenge`, `pubKeyCredParams`, ...; not wrapped in `publicKey`), and answers its
    /// `RegistrationResponseJSON` (with `credProps: {rk: true}` among the extension results
    /// when `credProps` is asked for, as browsers answer). The credential is kept as
    /// discoverable; one this authenticator held for the same relying party and user handle
    /// is replaced, as CTAP2 authenticators do.
    ///
    /// Refuses, as a browser and an authenticator would, when the relying-party id does not
    /// fit the origin, ES256 is not among `pubKeyCredParams`, or the authenticator holds a
    /// credential listed in `excludeCredentials`.
    pub fn register(&mut self, options: &Value) -> Result<Value, String> {
        let challenge = member(options, "challenge")?;
        let rp_id = match options["rp"]["id"].as_str() {
            Some(id) => id.to_owned(),
            None => self.host(),
        };
        self.check_rp_id(&rp_id)?;
        let user_handle = decode(member(&options["user"], "id")?)?;
        if !(1..=64).contains(&user_handle.len()) {
            return Err(format!(
                "TypeError: user.id is {} bytes, not 1 to 64",
                user_handle.len()
            ));
        }
        let es256 = options["pubKeyCredParams"]
            .as_array()
            .is_some_and(|params| {
                params
                    .iter()
                    .any(|p| p["type"] == "public-key" && p["alg"] == ES256)
            });
        if !es256 {
            return Err("NotSupportedError: ES256 (-7) is not among pubKeyCredParams".to_owned());
        }
        let excluded = descriptors(options, "excludeCredentials")?;
        if self
            .credentials
            .iter()
            .any(|c| c.rp_id == rp_id && excluded.contains(&c.id))
        {
            return Err(
                "InvalidStateError: the authenticator holds a credential of excludeCredentials"
                    .to_owned(),
            );
        }

        let credential = Credential {
            id: random_bytes(CREDENTIAL_ID_LEN),
            key: signing_key(),
            rp_id,
            user_handle,
            counter: 0,
        };
        let mut authenticator_data =
            credential.authenticator_data(self.flags() | ATTESTED_CREDENTIAL_DATA);
        authenticator_data.extend_from_slice(&[0; 16]); // AAGUID: none, as with "none" attestation
        let id_len = u16::try_from(credential.id.len()).expect("a credential id fits in u16");
        authenticator_data.extend_from_slice(&id_len.to_be_bytes());
        authenticator_data.extend_from_slice(&credential.id);
        authenticator_data.extend_from_slice(&credential.cose_key());
        let attestation_object = BTreeMap::from([
            (Cbor::Text("fmt".to_owned()), Cbor::Text("none".to_owned())),
            (Cbor::Text("attStmt".to_owned()), Cbor::Map(BTreeMap::new())),
            (
                Cbor::Text("authData".to_owned()),
                Cbor::Bytes(authenticator_data.clone()),
            ),
        ]);
        let attestation_object =
            serde_cbor_2::to_vec(&Cbor::Map(attestation_object)).expect("a CBOR map encodes");
        let public_key = credential
            .key
            .verifying_key()
            .to_public_key_der()
            .expect("a P-256 public key encodes");
        let client_data_json = self.client_data("webauthn.create", challenge);
        // The browser answers the credProps extension itself: the credential is discoverable.
        let extension_results = if options["extensions"]["credProps"] == true {
            json!({"credProps": {"rk": true}})
        } else {
            json!({})
        };

        let id = URL_SAFE_NO_PAD.encode(&credential.id);
        let response = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data_json),
                "authenticatorData": URL_SAFE_NO_PAD.encode(&authenticator_data),
                "transports": ["internal"],
                "publicKey": URL_SAFE_NO_PAD.encode(public_key.as_bytes()),
                "publicKeyAlgorithm": ES256,
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
            },
            "clientExtensionResults": extension_results,
            "authenticatorAttachment": "platform",
        });
        self.credentials
            .retain(|c| c.rp_id != credential.rp_id || c.user_handle != credential.user_handle);
        self.credentials.push(credential);
        Ok(response)
    }

    /// Signs in as `navigator.credentials.get()` does, from `options`, the service's
    /// `PublicKeyCredentialRequestOptionsJSON` (`challenge`, `rpId`, `allowCredentials`,
    /// `userVerification`), and answers its `AuthenticationResponseJSON`. It uses the newest
    /// credential for the relying party that `allowCredentials` lists or, when that list is
    /// empty, the newest discoverable one, and counts the use on its signature counter
    /// (unless backup eligible, as a synced passkey is). Refuses when the relying-party id
    /// does not fit the origin or no credential fits.
    pub fn sign_in(&mut self, options: &Value) -> Result<Value, String> {
        let challenge = member(options, "challenge")?;
        let rp_id = match options["rpId"].as_str() {
            Some(id) => id.to_owned(),
            None => self.host(),
        };
        self.check_rp_id(&rp_id)?;
        let allowed = descriptors(options, "allowCredentials")?;
        let flags = self.flags();
        let counts = !self.backup_eligible;
        let client_data_json = self.client_data("webauthn.get", challenge);
        let credential = self
            .credentials
            .iter_mut()
            .rev()
            .find(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .ok_or_else(|| format!("NotAllowedError: no credential for {rp_id} fits"))?;
        if counts {
            credential.counter = credential.counter.saturating_add(1);
        }
        let authenticator_data = credential.authenticator_data(flags);
        let signature = credential.sign(&authenticator_data, &client_data_json);

        let id = URL_SAFE_NO_PAD.encode(&credential.id);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data_json),
                "authenticatorData": URL_SAFE_NO_PAD.encode(&authenticator_data),
                "signature": URL_SAFE_NO_PAD.encode(signature),
                "userHandle": URL_SAFE_NO_PAD.encode(&credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }))
    }

    /// Sets the signature counter of the newest credential, to make it go back (a cloned
    /// key's). Panics if the authenticator holds none.
    pub fn set_counter(&mut self, counter: u32) {
        self.newest_mut().counter = counter;
    }

    /// The newest credential's id, base64url. Panics if the authenticator holds none.
    pub fn credential_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.newest().id)
    }

    /// A second authenticator, on the same origin, holding a copy of the newest credential
    /// (same key, same signature counter): a cloned key, whose counter the service sees go
    /// back or stand still. Panics if the authenticator holds none.
    pub fn clone_newest(&self) -> Self {
        Self {
            origin: self.origin.clone(),
            backup_eligible: self.backup_eligible,
            backed_up: self.backed_up,
            credentials: vec![self.newest().clone()],
        }
    }

    fn newest(&self) -> &Credential {
        self.credentials
            .last()
            .expect("the authenticator holds no credential")
    }

    fn newest_mut(&mut self) -> &mut Credential {
        self.credentials
            .last_mut()
            .expect("the authenticator holds no credential")
    }

    /// The flags of every ceremony: the user is present and verified, and the backup flags
    /// are the authenticator's.
    fn flags(&self) -> u8 {
        let mut flags = USER_PRESENT | USER_VERIFIED;
        if self.backup_eligible {
            flags |= BACKUP_ELIGIBLE;
        }
        if self.backed_up {
            flags |= BACKED_UP;
        }
        flags
    }

    fn host(&self) -> String {
        reqwest::Url::parse(&self.origin)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// A browser only lets a page use its own host, or a parent domain of it, as the
    /// relying-party id.
    fn check_rp_id(&self, rp_id: &str) -> Result<(), String> {
        let host = self.host();
        if host == rp_id || host.ends_with(&format!(".{rp_id}")) {
            Ok(())
        } else {
            Err(format!(
                "SecurityError: the relying-party id {rp_id} does not fit the origin {}",
                self.origin
            ))
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&ClientData {
            kind,
            challenge,
            origin: &self.origin,
            cross_origin: false,
        })
        .expect("the client data serializes")
    }
}

/// A string member of an options object.
fn member<'a>(object: &'a Value, name: &str) -> Result<&'a str, String> {
    object[name]
        .as_str()
        .ok_or_else(|| format!("TypeError: {name} is missing or not a string"))
}

/// The credential ids of a list of `PublicKeyCredentialDescriptorJSON` (absent: none).
fn descriptors(options: &Value, name: &str) -> Result<Vec<Vec<u8>>, String> {
    let list = match &options[name] {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) => list,
        _ => return Err(format!("TypeError: {name} is not a list")),
    };
    list.iter()
        .filter(|descriptor| descriptor["type"] == "public-key")
        .map(|descriptor| decode(member(descriptor, "id")?))
        .collect()
}

/// Base64url, padded or not, as `parseCreationOptionsFromJSON` takes it.
fn decode(text: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| format!("EncodingError: {text} is not base64url: {e}"))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    getrandom::fill(&mut bytes).expect("the system gives random bytes");
    bytes
}

/// A fresh P-256 private key (a random scalar; the rare 32 bytes that are not one are drawn
/// again).
fn signing_key() -> SigningKey {
    loop {
        if let Ok(key) = SigningKey::from_slice(&random_bytes(32)) {
            return key;
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against the verifier the service uses (webauthn-rs), with its own options.

    use serde::Serialize;
    use webauthn_rs::prelude::*;

    use super::*;

    const ORIGIN: &str = "http://localhost:5173";

    fn relying_party() -> Webauthn {
        let origin = Url::parse(ORIGIN).expect("a URL");
        WebauthnBuilder::new("localhost", &origin)
            .expect("localhost is the origin's host")
            .build()
            .expect("the relying party builds")
    }

    /// The `publicKey` member of a challenge as webauthn-rs serializes it: the Level 3
    /// options JSON.
    fn public_key(challenge: &impl Serialize) -> Value {
        serde_json::to_value(challenge).expect("the challenge serializes")["publicKey"].clone()
    }

    fn register(rp: &Webauthn, authenticator: &mut SoftAuthenticator) -> (Uuid, Passkey) {
        let user = Uuid::new_v4();
        let (options, state) = rp
            .start_passkey_registration(user, "claire@example.com", "Claire", None)
            .expect("a registration starts");
        let response = authenticator
            .register(&public_key(&options))
            .expect("the authenticator registers");
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(response).expect("a RegisterPublicKeyCredential");
        let passkey = rp
            .finish_passkey_registration(&response, &round_trip(&state))
            .expect("the registration verifies");
        (user, round_trip(&passkey))
    }

    fn sign_in(
        rp: &Webauthn,
        authenticator: &mut SoftAuthenticator,
        passkey: &Passkey,
    ) -> Result<AuthenticationResult, WebauthnError> {
        let (options, state) = rp
            .start_passkey_authentication(std::slice::from_ref(passkey))
            .expect("a sign-in starts");
        let response = authenticator
            .sign_in(&public_key(&options))
            .expect("the authenticator signs");
        let response: PublicKeyCredential =
            serde_json::from_value(response).expect("a PublicKeyCredential");
        // Kept between the two requests, as the service keeps them.
        let state: PasskeyAuthentication = round_trip(&state);
        rp.finish_passkey_authentication(&response, &state)
    }

    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        let json = serde_json::to_string(value).expect("serializes");
        serde_json::from_str(&json).expect("deserializes")
    }

    #[test]
    fn webauthn_rs_options_are_the_level_3_json_forms() {
        let rp = relying_party();
        let user = Uuid::new_v4();
        let (creation, _) = rp
            .start_passkey_registration(user, "claire@example.com", "Claire", None)
            .expect("a registration starts");
        let creation = public_key(&creation);
        assert_eq!(creation["rp"]["id"], "localhost");
        assert_eq!(
            decode(
                creation["user"]["id"]
                    .as_str()
                    .expect("user.id is a string")
            )
            .expect("base64url"),
            user.as_bytes()
        );
        assert_eq!(creation["user"]["displayName"], "Claire");
        let challenge = decode(creation["challenge"].as_str().expect("a string")).expect("b64url");
        assert_eq!(challenge.len(), 32);
        assert!(
            creation["pubKeyCredParams"]
                .as_array()
                .expect("a list")
                .contains(&json!({"type": "public-key", "alg": -7}))
        );

        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let response = authenticator.register(&creation).expect("registers");
        assert_eq!(
            response["clientExtensionResults"],
            json!({"credProps": {"rk": true}})
        );
        let (_, passkey) = register(&rp, &mut authenticator);
        let (request, _) = rp
            .start_passkey_authentication(&[passkey])
            .expect("a sign-in starts");
        let request = public_key(&request);
        assert_eq!(request["rpId"], "localhost");
        assert_eq!(request["userVerification"], "required");
        assert_eq!(
            request["allowCredentials"][0]["id"],
            authenticator.credential_id()
        );
        assert_eq!(request["allowCredentials"][0]["type"], "public-key");
        assert!(request["challenge"].is_string());
    }

    #[test]
    fn a_device_bound_passkey_registers_and_signs_in_with_a_rising_counter() {
        let rp = relying_party();
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let (_, mut passkey) = register(&rp, &mut authenticator);
        assert_eq!(passkey.cred_algorithm(), &COSEAlgorithm::ES256);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            authenticator.credential_id()
        );
        for expected in 1..=2 {
            let result = sign_in(&rp, &mut authenticator, &passkey).expect("the sign-in verifies");
            assert_eq!(result.counter(), expected);
            assert!(result.user_verified());
            assert!(!result.backup_eligible());
            assert!(!result.backup_state());
            assert!(result.needs_update());
            assert_eq!(passkey.update_credential(&result), Some(true));
        }
    }

    #[test]
    fn a_synced_passkey_is_backed_up_and_keeps_its_counter_at_zero() {
        let rp = relying_party();
        let mut authenticator = SoftAuthenticator::synced(ORIGIN);
        let (_, passkey) = register(&rp, &mut authenticator);
        for _ in 0..2 {
            let result = sign_in(&rp, &mut authenticator, &passkey).expect("the sign-in verifies");
            assert_eq!(result.counter(), 0);
            assert!(result.backup_eligible());
            assert!(result.backup_state());
            assert!(!result.needs_update());
        }
    }

    #[test]
    fn a_discoverable_sign_in_names_the_user() {
        let rp = relying_party();
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let (user, passkey) = register(&rp, &mut authenticator);
        let (options, state) = rp
            .start_discoverable_authentication()
            .expect("a sign-in starts");
        let options = public_key(&options);
        assert_eq!(options["allowCredentials"], json!([]));
        let response = authenticator.sign_in(&options).expect("signs");
        let response: PublicKeyCredential =
            serde_json::from_value(response).expect("a PublicKeyCredential");
        let (named, credential_id) = rp
            .identify_discoverable_authentication(&response)
            .expect("the user handle is a UUID");
        assert_eq!(named, user);
        assert_eq!(credential_id, passkey.cred_id().as_slice());
        let result = rp
            .finish_discoverable_authentication_v2(&response, state, &passkey)
            .expect("the sign-in verifies");
        assert_eq!(result.counter(), 1);
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let rp = relying_party();
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let (_, passkey) = register(&rp, &mut authenticator);
        let (options, state) = rp
            .start_passkey_authentication(&[passkey])
            .expect("a sign-in starts");
        let mut response = authenticator.sign_in(&public_key(&options)).expect("signs");
        let signature = &mut response["response"]["signature"];
        let mut bytes = decode(signature.as_str().expect("a string")).expect("base64url");
        *bytes.last_mut().expect("a signature") ^= 0x01;
        *signature = json!(URL_SAFE_NO_PAD.encode(bytes));
        let response: PublicKeyCredential = serde_json::from_value(response).expect("parses");
        let refused = rp.finish_passkey_authentication(&response, &state);
        assert!(
            matches!(refused, Err(WebauthnError::AuthenticationFailure)),
            "{refused:?}"
        );
    }

    #[test]
    fn another_origin_is_refused() {
        let rp = relying_party();
        let mut elsewhere = SoftAuthenticator::new("http://localhost:5174");
        let (options, state) = rp
            .start_passkey_registration(Uuid::new_v4(), "claire", "Claire", None)
            .expect("a registration starts");
        let response = elsewhere.register(&public_key(&options)).expect("signs");
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(response).expect("parses");
        let refused = rp.finish_passkey_registration(&response, &state);
        assert!(
            matches!(refused, Err(WebauthnError::InvalidRPOrigin)),
            "{refused:?}"
        );

        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let (_, passkey) = register(&rp, &mut authenticator);
        authenticator.origin = "http://localhost:5174".to_owned();
        let refused = sign_in(&rp, &mut authenticator, &passkey);
        assert!(
            matches!(refused, Err(WebauthnError::InvalidRPOrigin)),
            "{refused:?}"
        );
    }

    #[test]
    fn a_browser_refuses_a_relying_party_id_off_its_origin() {
        let rp = relying_party();
        let mut authenticator = SoftAuthenticator::new("http://example.com:5173");
        let (options, _) = rp
            .start_passkey_registration(Uuid::new_v4(), "claire", "Claire", None)
            .expect("a registration starts");
        let refused = authenticator.register(&public_key(&options));
        assert!(refused.is_err_and(|e| e.starts_with("SecurityError")));
    }

    #[test]
    fn a_cloned_key_whose_counter_does_not_rise_is_refused() {
        let rp = relying_party();
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let (_, mut passkey) = register(&rp, &mut authenticator);
        let result = sign_in(&rp, &mut authenticator, &passkey).expect("verifies");
        passkey.update_credential(&result);
        let mut clone = authenticator.clone_newest();
        assert_eq!(clone.credential_id(), authenticator.credential_id());
        let result = sign_in(&rp, &mut authenticator, &passkey).expect("verifies");
        passkey.update_credential(&result);

        // The clone's counter was 1 and now says 2, which the service has already seen.
        let refused = sign_in(&rp, &mut clone, &passkey);
        assert!(
            matches!(refused, Err(WebauthnError::CredentialPossibleCompromise)),
            "{refused:?}"
        );
        // A counter that went back is refused the same way, even down to 0.
        authenticator.set_counter(0);
        let refused = sign_in(&rp, &mut authenticator, &passkey);
        assert!(
            matches!(refused, Err(WebauthnError::CredentialPossibleCompromise)),
            "{refused:?}"
        );
        authenticator.set_counter(2);
        assert_eq!(
            sign_in(&rp, &mut authenticator, &passkey)
                .expect("3 is above 2")
                .counter(),
            3
        );
    }

    #[test]
    fn the_authenticator_refuses_to_register_an_excluded_credential_twice() {
        let rp = relying_party();
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let (user, passkey) = register(&rp, &mut authenticator);
        let (options, _) = rp
            .start_passkey_registration(
                user,
                "claire",
                "Claire",
                Some(vec![passkey.cred_id().clone()]),
            )
            .expect("a registration starts");
        let options = public_key(&options);
        assert_eq!(
            options["excludeCredentials"][0]["id"],
            authenticator.credential_id()
        );
        let refused = authenticator.register(&options);
        assert!(refused.is_err_and(|e| e.starts_with("InvalidStateError")));
        // Another authenticator does not hold it.
        SoftAuthenticator::new(ORIGIN)
            .register(&options)
            .expect("another authenticator registers");
    }

    #[test]
    fn backup_eligibility_may_only_rise_and_the_backup_state_may_change() {
        let rp = relying_party();
        // Synced, then no longer backed up: accepted, and reported for the stored passkey.
        let mut authenticator = SoftAuthenticator::synced(ORIGIN);
        let (_, mut passkey) = register(&rp, &mut authenticator);
        authenticator.backed_up = false;
        let result = sign_in(&rp, &mut authenticator, &passkey).expect("verifies");
        assert!(result.backup_eligible());
        assert!(!result.backup_state());
        assert!(result.needs_update());
        assert_eq!(passkey.update_credential(&result), Some(true));
        // Synced, then no longer backup eligible: refused.
        authenticator.backup_eligible = false;
        let refused = sign_in(&rp, &mut authenticator, &passkey);
        assert!(
            matches!(
                refused,
                Err(WebauthnError::CredentialBackupEligibilityInconsistent)
            ),
            "{refused:?}"
        );

        // Device-bound, then backup eligible: start_passkey_authentication allows that rise
        // while the credential is not backed up yet...
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let (_, passkey) = register(&rp, &mut authenticator);
        authenticator.backup_eligible = true;
        let result = sign_in(&rp, &mut authenticator, &passkey).expect("verifies");
        assert!(result.backup_eligible());
        assert!(result.needs_update());
        // ... but refuses a backed-up state the stored credential was not eligible for.
        authenticator.backed_up = true;
        let refused = sign_in(&rp, &mut authenticator, &passkey);
        assert!(
            matches!(refused, Err(WebauthnError::CredentialMayNotBeHardwareBound)),
            "{refused:?}"
        );
        // A discoverable sign-in allows no change of eligibility at all.
        authenticator.backed_up = false;
        let (options, state) = rp
            .start_discoverable_authentication()
            .expect("a sign-in starts");
        let response = authenticator.sign_in(&public_key(&options)).expect("signs");
        let response: PublicKeyCredential = serde_json::from_value(response).expect("parses");
        let refused = rp.finish_discoverable_authentication_v2(&response, state, &passkey);
        assert!(
            matches!(
                refused,
                Err(WebauthnError::CredentialBackupEligibilityInconsistent)
            ),
            "{refused:?}"
        );
    }
}
