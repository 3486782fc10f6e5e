//! Integration tests: every test talks to a real PostgreSQL through a real proxy process.

mod support;

mod auth;
mod basic;
mod cancels;
mod catalog;
mod differential;
mod drivers;
mod extended;
mod failures;
mod freshness;
mod hostile;
mod limits;
mod malformed;
mod memory;
mod observability;
mod oracle;
mod pipeline;
mod pooling;
mod regress;
mod roles;
mod routing;
mod routing_edges;
mod tools;
