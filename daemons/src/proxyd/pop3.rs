//! POP3 proxy (see below).
