//! `pop3proxyd`: the frontend's POP3 proxy under its Cyrus 2 name. As in Cyrus 3, where it is a
//! link to `pop3d`, it is the same program: `pop3d` proxies when `mupdate_server` is set and
//! `proxyservers` is not. Messages and usage name the program as it was started.

#[path = "pop3d.rs"]
mod pop3d;

fn main() -> std::process::ExitCode {
    pop3d::main()
}
