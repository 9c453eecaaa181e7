//! Readers for Cyrus's two configuration files.

pub mod cyrus;
pub mod imapd;
pub mod options;
