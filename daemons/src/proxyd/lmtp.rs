//! LMTP proxy (see below).
