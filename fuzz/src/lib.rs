//! guard's own source files, compiled once into a library that the fuzz targets share.
//!
//! guard is a binary crate, so there is nothing to link against: each module is included from
//! `src/` as it is (`#[path]`), in the same tree shape, so its `crate::` and `super::` paths
//! resolve as they do in guard. Only the upstream connection is a stand-in (see
//! `gateway::postgres::upstream`): the real one needs the broker, TLS and a network.
// A fuzz target calls a few functions of each module; the rest is unused here.
#![allow(dead_code, unused_imports)]

#[path = "../../src/approval/mod.rs"]
pub mod approval;
#[path = "../../src/config.rs"]
pub mod config;
#[path = "../../src/mask/mod.rs"]
pub mod mask;
#[path = "../../src/policy/mod.rs"]
pub mod policy;
#[path = "../../src/record/mod.rs"]
pub mod record;
#[path = "../../src/secret.rs"]
pub mod secret;

pub mod scratch;
pub mod wire;

/// The approval overlay's `sanitize`, which the approver uses, at its place in guard's tree.
#[path = "../../src/terminal/overlay.rs"]
pub mod overlay;
pub mod terminal {
    pub use super::overlay;
}

pub mod gateway {
    pub mod postgres {
        #[path = "../../../../src/gateway/postgres/backend.rs"]
        pub mod backend;
        #[path = "../../../../src/gateway/postgres/commit.rs"]
        pub mod commit;
        #[path = "../../../../src/gateway/postgres/enforce.rs"]
        pub mod enforce;
        #[path = "../../../../src/gateway/postgres/frame.rs"]
        pub mod frame;
        #[path = "../../../../src/gateway/postgres/frontend.rs"]
        pub mod frontend;
        #[path = "../../../../src/gateway/postgres/mask.rs"]
        pub mod mask;
        #[path = "../../../../src/gateway/postgres/message.rs"]
        pub mod message;
        #[path = "../../../../src/gateway/postgres/scram.rs"]
        pub mod scram;
        #[path = "../../../../src/gateway/postgres/startup.rs"]
        pub mod startup;
        #[path = "../../../../src/gateway/postgres/statement.rs"]
        pub mod statement;
        pub mod upstream;
    }
}
