//! partproxy: a PostgreSQL wire-protocol proxy that pools server connections
//! and (in later stages) routes statements on partitioned tables to children.

pub mod app;
pub mod auth;
pub mod backend;
pub mod cancel;
pub mod catalog;
pub mod config;
pub mod demo;
pub mod frontend;
pub mod keys;
pub mod localpg;
pub mod prepared;
pub mod protocol;
pub mod rewrite;
pub mod router;
pub mod text;
