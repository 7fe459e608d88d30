//! Operator tools: `auth-keygen` makes the auth secret and its public JWK set;
//! `local-setup` prepares DynamoDB Local and moto for `make dev` and `make test`.

pub mod keys;
pub mod setup;
