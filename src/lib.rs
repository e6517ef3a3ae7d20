//! bfx, Bedrock forensics: rebuilds per-request timelines from the logs AWS
//! Bedrock users can export, and explains stale-socket hangs, hidden retries
//! and their cost with evidence.
//!
//! Data flows one way, one module per arrow:
//! [`source`] → [`container`] / [`format`] → [`payload`] → [`event`] → [`timeline`] → [`detect`] → [`analyze`] → [`render`].

#![warn(missing_docs)]

pub mod agent;
pub mod analyze;
pub mod container;
pub mod detect;
pub mod error;
pub mod event;
pub mod format;
pub mod gunzip;
pub mod hash;
pub mod payload;
pub mod prices;
pub mod render;
pub mod s3;
pub mod source;
pub mod tables;
pub mod timeline;
pub mod usage;
