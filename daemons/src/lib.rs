//! The murder's daemons and tools: sockets, TLS, SASL, storage and processes.
//!
//! One library with a module per daemon and thin `main`s under `src/bin/`, so tests can run a
//! daemon in-process on `127.0.0.1:0` or as a process.
#![deny(unsafe_code)]

pub mod backends;
pub mod cli;
pub mod conf;
pub mod ctl_mboxlist;
pub mod imapd;
pub mod lmtpd;
pub mod master;
pub mod mboxdb;
pub mod mupdate;
pub mod net;
pub mod pop3d;
pub mod proxyd;
pub mod sasl;
pub mod service;
pub mod store;
pub mod timsieved;
pub mod tls;
