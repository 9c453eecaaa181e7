//! pop3d as a process: Cyrus's greeting, CAPA and replies, USER/PASS and AUTH (with the
//! proxyservers authorization switch), STLS and pop3s, the maildrop commands, DELE+QUIT
//! expunging and RSET undoing, and a message delivered by lmtpd reading back byte for byte
//! through python's poplib, curl and the store.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use daemons::mboxdb::{MailboxDb, MailboxEntry};
use daemons::store::{Flags, InternalDate, MailboxId, Store};
use murder_tests::{Daemon, Host};

const MSG: &[u8] = b"From: Sender <sender@example.org>\r\nTo: alice@example.org\r\nSubject: pop test\r\nMessage-ID: <p1@example.org>\r\n\r\nline one\r\n.a line starting with a dot\r\n..two dots\r\nlast\r\n";

fn backend(extra: &[(&str, &str)]) -> Host {
    let mut h = Host::new("be1")
        .conf("admins", "cyrus")
        .conf("proxyservers", "murder")
        .conf("sasl_mech_list", "PLAIN LOGIN")
        .user("cyrus", "secret")
        .user("murder", "secret")
        .user("alice", "alicepw")
        .user("bob", "bobpw");
    for (k, v) in extra {
        h = h.conf(k, v);
    }
    h.write()
}

fn open(host: &Host) -> (Store, MailboxDb) {
    let parts = BTreeMap::from([("default".to_string(), host.path("spool"))]);
    (
        Store::open(&host.configdir(), parts).unwrap(),
        MailboxDb::open_in(&host.configdir()).unwrap(),
    )
}

fn user(host: &Host, u: &str) -> (MailboxId, u32) {
    let (store, db) = open(host);
    let id = MailboxId::generate();
    let st = store.create_mailbox(&id, "default").unwrap();
    db.put(&MailboxEntry {
        name: format!("user.{u}"),
        partition: "default".into(),
        acl: format!("{u}\tlrswipkxtecdan\t"),
        uniqueid: id.as_str().into(),
        uidvalidity: st.uidvalidity,
        ..MailboxEntry::default()
    })
    .unwrap();
    (id, st.uidvalidity)
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect(addr: std::net::SocketAddr) -> (Client, String) {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        let g = c.line();
        (c, g)
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end_matches(['\r', '\n']).to_string()
    }
    fn cmd(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.line()
    }
    /// The lines of a multi-line body, dot-unstuffed.
    fn body(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            if l == "." {
                return out;
            }
            out.push(l.strip_prefix('.').map(str::to_owned).unwrap_or(l));
        }
    }
}

fn deliver_by_lmtp(host: &Host, rcpt: &str, msg: &[u8]) {
    let d = Daemon::start(host, "lmtpd", &["-a"]);
    let s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut c = Client {
        r: BufReader::new(s.try_clone().unwrap()),
        w: s,
    };
    c.line();
    c.w.write_all(b"LHLO x\r\n").unwrap();
    while c.line().starts_with("250-") {}
    assert_eq!(c.cmd("MAIL FROM:<sender@example.org>"), "250 2.1.0 ok");
    assert_eq!(c.cmd(&format!("RCPT TO:<{rcpt}>")), "250 2.1.5 ok");
    assert_eq!(c.cmd("DATA"), "354 go ahead");
    let mut out = Vec::new();
    protocol::lmtp::dot_stuff(msg, &mut out);
    c.w.write_all(&out).unwrap();
    assert!(c.line().starts_with("250 2.1.5 Success"));
    c.cmd("QUIT");
}

#[test]
fn lmtp_delivery_reads_back_byte_identical_through_poplib_curl_and_store() {
    let host = backend(&[("allowplaintext", "yes")]);
    let (inbox, uidvalidity) = user(&host, "alice");
    deliver_by_lmtp(&host, "alice", MSG);
    let (store, _) = open(&host);
    let stored = store.read_message(&inbox, 1).unwrap();
    assert!(stored.ends_with(MSG));

    let d = Daemon::start(&host, "pop3d", &[]);
    let out_file = host.path("retr.out");
    let script = r#"
import poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
print(p.getwelcome().decode())
caps = p.capa()
print(sorted(caps))
p.user('alice')
try:
    p.pass_('wrong')
    print('bad password accepted')
except poplib.error_proto as e:
    print(e.args[0].decode())
p.user('alice')
print(p.pass_('alicepw').decode().split(' SESSIONID=')[0])
print(p.stat())
print(p.list()[1])
print(p.uidl()[1])
resp, lines, octets = p.retr(1)
open(sys.argv[3], 'wb').write(b''.join(l + b'\r\n' for l in lines))
print(resp.decode(), octets)
resp, lines, octets = p.top(1, 0)
print(len(lines))
print(p.quit().decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script, "127.0.0.1"])
        .arg(d.addr.port().to_string())
        .arg(&out_file)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("+OK be1 Cyrus POP3 3.6.1"), "{text}");
    assert!(
        lines[0].contains(" server ready <") && lines[0].ends_with("@be1>"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "['AUTH-RESP-CODE', 'EXPIRE', 'IMPLEMENTATION', 'LOGIN-DELAY', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']"
    );
    assert_eq!(lines[2], "-ERR [AUTH] Invalid login");
    assert_eq!(lines[3], "+OK Mailbox locked and ready");
    assert_eq!(lines[4], format!("(1, {})", stored.len()));
    assert_eq!(lines[5], format!("[b'1 {}']", stored.len()));
    assert_eq!(lines[6], format!("[b'1 {uidvalidity}.1']"));
    assert!(lines[7].starts_with("+OK Message follows"), "{text}");
    let header_lines = stored
        .split(|b| *b == b'\n')
        .take_while(|l| *l != b"\r")
        .count()
        + 1;
    assert_eq!(lines[8], header_lines.to_string());
    assert_eq!(lines[9], "+OK");
    // Byte-identical through POP3.
    assert_eq!(std::fs::read(&out_file).unwrap(), stored);

    // curl is another real client (when installed).
    if let Ok(out) = Command::new("curl")
        .arg("-sS")
        .arg(format!(
            "pop3://alice:alicepw@127.0.0.1:{}/1",
            d.addr.port()
        ))
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, stored);
    }
}

#[test]
fn dele_quit_expunges_and_rset_undoes() {
    let host = backend(&[("allowplaintext", "yes")]);
    let (inbox, _) = user(&host, "alice");
    {
        let (store, _) = open(&host);
        for i in 1..=3 {
            let m = format!("Subject: m{i}\r\n\r\nbody {i}\r\n");
            store
                .append(&inbox, m.as_bytes(), &Flags::new(), InternalDate::now())
                .unwrap();
        }
    }
    let d = Daemon::start(&host, "pop3d", &[]);
    let (mut c, _) = Client::connect(d.addr);
    assert_eq!(c.cmd("PASS x"), "-ERR [AUTH] Must give USER command");
    assert_eq!(c.cmd("STAT"), "-ERR Unrecognized command");
    assert_eq!(c.cmd("USER alice"), "+OK Name is a valid mailbox");
    assert!(c
        .cmd("PASS alicepw")
        .starts_with("+OK Mailbox locked and ready SESSIONID=<cyrus-be1-"));
    assert_eq!(c.cmd("STAT"), "+OK 3 69");
    assert_eq!(c.cmd("DELE 1"), "+OK message deleted");
    assert_eq!(c.cmd("DELE 1"), "-ERR No such message");
    assert_eq!(c.cmd("STAT"), "+OK 2 46");
    assert_eq!(c.cmd("RSET"), "+OK");
    assert_eq!(c.cmd("STAT"), "+OK 3 69");
    assert_eq!(c.cmd("DELE 2"), "+OK message deleted");
    assert_eq!(c.cmd("LIST"), "+OK scan listing follows");
    assert_eq!(c.body(), ["1 23", "3 23"]);
    assert_eq!(c.cmd("LIST 2"), "-ERR No such message");
    assert_eq!(c.cmd("RETR 2"), "-ERR No such message");
    assert_eq!(c.cmd("RETR 9"), "-ERR No such message");
    assert_eq!(c.cmd("TOP 3 1"), "+OK Message follows");
    assert_eq!(c.body(), ["Subject: m3", "", "body 3"]);
    assert_eq!(c.cmd("NOOP"), "+OK");
    assert_eq!(c.cmd("QUIT"), "+OK");
    let (store, _) = open(&host);
    let uids: Vec<u32> = store
        .records(&inbox)
        .unwrap()
        .iter()
        .map(|r| r.uid)
        .collect();
    assert_eq!(uids, [1, 3]);

    // DELE without QUIT (the connection drops) expunges nothing.
    let (mut c, _) = Client::connect(d.addr);
    c.cmd("USER alice");
    c.cmd("PASS alicepw");
    assert_eq!(c.cmd("DELE 1"), "+OK message deleted");
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(store.records(&inbox).unwrap().len(), 2);
}

#[test]
fn plaintext_policy_stls_pop3s_and_proxy_authorization() {
    let certs_dir = tempfile::tempdir().unwrap();
    let certs =
        daemons::tls::generate_certs(certs_dir.path(), &["localhost", "127.0.0.1"]).unwrap();
    let host = backend(&[
        ("tls_server_cert", certs.cert.to_str().unwrap()),
        ("tls_server_key", certs.key.to_str().unwrap()),
    ]);
    let (inbox, _) = user(&host, "alice");
    user(&host, "bob");
    {
        let (store, _) = open(&host);
        store
            .append(&inbox, MSG, &Flags::new(), InternalDate::now())
            .unwrap();
    }
    let d = Daemon::start(&host, "pop3d", &[]);
    let (mut c, _) = Client::connect(d.addr);
    assert_eq!(c.cmd("CAPA"), "+OK List of capabilities follows");
    let caps = c.body();
    assert_eq!(caps[0], "STLS", "{caps:?}");
    assert!(!caps.contains(&"USER".to_string()), "{caps:?}");
    assert_eq!(
        c.cmd("USER alice"),
        "-ERR [AUTH] USER command only available under a layer"
    );
    // base64("\0alice\0alicepw"): PLAIN needs TLS here.
    assert_eq!(
        c.cmd("AUTH PLAIN AGFsaWNlAGFsaWNlcHc="),
        "-ERR [AUTH] Invalid SASL mechanism"
    );
    assert_eq!(c.cmd("QUIT"), "+OK");

    // After STLS (python's poplib), and on pop3s (-s): PLAIN with an authorization id as the
    // proxyservers identity, as a murder frontend logs in.
    let ds = Daemon::start(&host, "pop3d", &["-s"]);
    let script = r#"
import poplib, ssl, sys, base64
ctx = ssl.create_default_context(cafile=sys.argv[3])
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.stls(ctx)
print(sorted(p.capa()))
def auth(p, authz, authn, pw):
    ir = base64.b64encode(f'{authz}\0{authn}\0{pw}'.encode()).decode()
    try:
        return p._shortcmd('AUTH PLAIN ' + ir).decode().split(' SESSIONID=')[0]
    except poplib.error_proto as e:
        return e.args[0].decode()
print(auth(p, 'alice', 'bob', 'bobpw'))
print(auth(p, 'alice', 'murder', 'secret'))
print(p.stat())
p.quit()
s = poplib.POP3_SSL('127.0.0.1', int(sys.argv[2]), context=ctx)
print(s.getwelcome().decode()[:20])
s.user('alice'); s.pass_('alicepw')
print(s.stat())
s.quit()
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(d.addr.port().to_string())
        .arg(ds.addr.port().to_string())
        .arg(&certs.ca_cert)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("'USER'") && !lines[0].contains("STLS"),
        "{text}"
    );
    assert_eq!(lines[1], "-ERR [AUTH] authorization failure");
    assert_eq!(lines[2], "+OK Mailbox locked and ready");
    assert_eq!(lines[3], format!("(1, {})", MSG.len()));
    assert_eq!(lines[4], "+OK be1 Cyrus POP3 3");
    assert_eq!(lines[5], format!("(1, {})", MSG.len()));
}

#[test]
fn missing_maildrop_is_a_permanent_error() {
    let host = backend(&[("allowplaintext", "yes")]);
    let d = Daemon::start(&host, "pop3d", &[]);
    let (mut c, _) = Client::connect(d.addr);
    c.cmd("USER alice");
    assert_eq!(
        c.cmd("PASS alicepw"),
        "-ERR [SYS/PERM] Unable to locate maildrop: Mailbox does not exist"
    );
    assert_eq!(c.cmd("QUIT"), "+OK");
}
