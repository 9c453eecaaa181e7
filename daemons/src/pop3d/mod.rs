//! pop3d (in progress)
