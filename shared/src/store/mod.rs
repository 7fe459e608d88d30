//! The single DynamoDB table: item shapes, keys, and the conditional writes every invariant
//! rests on, each a method named after the rule it keeps (`rotate_refresh_token`,
//! `take_login_attempt`, `reserve_registration`...) that reads its own cancellations.
//! Nothing here decides policy; `crate::ops` does, without DynamoDB syntax.

mod accounts;
mod audit;
mod codes;
mod factors;
mod gate;
mod guesses;
mod identities;
mod imports;
mod items;
mod operators;
mod passkeys;
mod passwords;
mod registrations;
mod sessions;
mod table;

pub use accounts::{ChangeRequest, DeletedBy, Deletion, IdentifierChange};
pub use audit::{AUDIT_RETENTION_SECS, Audit, AuditItem, AuditPage};
pub use codes::VerifiedBy;
pub use factors::EnrolmentTry;
pub use gate::GatePolicy;
pub use guesses::GuessWindowItem;
pub use identities::{IdentityCreated, IdentityLinked};
pub use imports::Imported;
pub use items::{
    CeremonyItem, ClaimItem, CodeItem, FamilyItem, ForgotItem, LoginGateItem, OAuthStateItem,
    PasskeyItem, RateItem, RefreshItem, SESSIONS_INDEX, TotpItem, UNVERIFIED, UNVERIFIED_INDEX,
    UserItem, UserStatus, keys,
};
pub use operators::{Page, Toggled};
pub use passkeys::PasskeyAdded;
pub use registrations::Reserved;
pub use sessions::{Rotated, Started, generation_is};
pub use table::{CodeTry, Expr, Snapshot, Store, TxOutcome};

/// One write of a transaction, as the store's rules build it; a use case composes them and
/// never looks inside.
pub type Write = aws_sdk_dynamodb::types::TransactWriteItem;
