//! partproxy: a PostgreSQL wire-protocol proxy that pools server connections
//! and routes statements on partitioned tables to the children that can hold
//! the rows, with Prometheus metrics, a status page and an admin console.

pub mod admin;
pub mod app;
pub mod auth;
pub mod backend;
pub mod cancel;
pub mod catalog;
pub mod client_conn;
pub mod clients;
pub mod config;
pub mod demo;
pub mod frontend;
pub mod keys;
pub mod localpg;
pub mod metrics;
pub mod names;
pub mod prepared;
pub mod protocol;
pub mod proxy;
pub mod rewrite;
pub mod router;
pub mod text;
pub mod web;
