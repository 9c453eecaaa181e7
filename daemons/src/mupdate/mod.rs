//! MUPDATE master and slave (RFC 3656 as Cyrus 3.6 speaks it).

pub mod store;
