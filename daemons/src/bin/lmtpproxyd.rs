//! `lmtpproxyd`: the frontend's LMTP proxy under its Cyrus 2 name. As in Cyrus 3, where it is a
//! link to `lmtpd`, it is the same program: `lmtpd` proxies when `mupdate_server` is set and
//! `proxyservers` is not. Messages and usage name the program as it was started.

#[path = "lmtpd.rs"]
mod lmtpd;

fn main() -> std::process::ExitCode {
    lmtpd::main()
}
