//! Operator tools: `auth-keygen` makes the auth secret and its public JWK set;
//! `local-setup` prepares DynamoDB Local and moto for `make dev` and `make test`;
//! `local-events` runs the event pipeline there as Lambda would. The library also holds the
//! loopback stand-ins (an HTTP server, the Lambda Runtime API) the tests and benchmarks share.

pub mod keys;
pub mod loopback;
pub mod mapping;
pub mod queues;
pub mod runtime_api;
pub mod setup;
pub mod stream;
