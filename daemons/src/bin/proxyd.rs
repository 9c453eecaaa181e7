//! `proxyd`: the frontend's IMAP proxy under its Cyrus 2 name. As in Cyrus 3, where it is a
//! link to `imapd`, it is the same program: `imapd` proxies when `mupdate_server` is set and
//! `proxyservers` is not. Messages and usage name the program as it was started.

#[path = "imapd.rs"]
mod imapd;

fn main() -> std::process::ExitCode {
    imapd::main()
}
