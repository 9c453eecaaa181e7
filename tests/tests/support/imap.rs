//! A small blocking IMAP client for the imapd integration tests: sends a command with a fresh
//! tag, collects the untagged lines (literals inlined) and returns them with the tagged line.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One connection.
pub struct Imap {
    r: BufReader<TcpStream>,
    w: TcpStream,
    n: u32,
    /// The greeting line.
    pub greeting: String,
}

/// What a command got back.
#[derive(Debug)]
pub struct Reply {
    /// Untagged lines (`* ...`), without CRLF; a literal is inlined after its `{n}`.
    pub untagged: Vec<String>,
    /// The tagged line without the tag, e.g. `OK Completed`.
    pub tagged: String,
}

impl Reply {
    /// Whether the command completed with OK.
    pub fn is_ok(&self) -> bool {
        self.tagged.starts_with("OK")
    }

    /// Untagged lines starting with `* <prefix>`.
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        let p = format!("* {prefix}");
        self.untagged
            .iter()
            .filter(|l| l.starts_with(&p))
            .cloned()
            .collect()
    }
}

impl Imap {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> Imap {
        let s = TcpStream::connect(addr).expect("connect to imapd");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Imap {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
            n: 0,
            greeting: String::new(),
        };
        c.greeting = c.line();
        assert!(c.greeting.starts_with("* OK"), "greeting {:?}", c.greeting);
        c
    }

    /// Connects and logs in with LOGIN.
    pub fn login(addr: SocketAddr, user: &str, pw: &str) -> Imap {
        let mut c = Imap::connect(addr);
        let r = c.cmd(&format!("LOGIN {user} {pw}"));
        assert!(r.is_ok(), "login {user}: {r:?}");
        c
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read from imapd");
        assert!(!l.is_empty(), "imapd closed the connection");
        let mut l = l.trim_end_matches(['\r', '\n']).to_string();
        // Inline literals: `{n}` at the end of a line is followed by n bytes, then more line.
        while let Some(n) = l
            .strip_suffix('}')
            .and_then(|x| x.rsplit_once('{'))
            .and_then(|(_, n)| n.trim_end_matches('+').parse::<usize>().ok())
        {
            let mut buf = vec![0u8; n];
            self.r.read_exact(&mut buf).expect("literal");
            l.push_str(&String::from_utf8_lossy(&buf));
            let mut rest = String::new();
            self.r.read_line(&mut rest).expect("after literal");
            l.push_str(rest.trim_end_matches(['\r', '\n']));
        }
        l
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, b: &[u8]) {
        self.w.write_all(b).unwrap();
    }

    /// Sends `tag command` and reads up to the tagged reply.
    pub fn cmd(&mut self, command: &str) -> Reply {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.w
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .unwrap();
        let mut untagged = Vec::new();
        loop {
            let l = self.line();
            if let Some(rest) = l.strip_prefix(&format!("{tag} ")) {
                return Reply {
                    untagged,
                    tagged: rest.to_string(),
                };
            }
            untagged.push(l);
        }
    }

    /// Runs a command that must succeed; returns its untagged lines.
    pub fn ok(&mut self, command: &str) -> Vec<String> {
        let r = self.cmd(command);
        assert!(r.is_ok(), "{command}: {r:?}");
        r.untagged
    }

    /// Runs a command that must fail with NO; returns the text after `NO `.
    pub fn no(&mut self, command: &str) -> String {
        let r = self.cmd(command);
        assert!(
            r.tagged.starts_with("NO "),
            "{command}: expected NO, got {r:?}"
        );
        r.tagged["NO ".len()..].to_string()
    }
}
