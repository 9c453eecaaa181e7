//! `mupdatetest`: an interactive MUPDATE client that shows the session as Cyrus's
//! `mupdatetest` (imtest in MUPDATE mode) does (reference §8, transcript 02).
//!
//! ```text
//! mupdatetest [-p port] [-m mech] [-a authid] [-u authzid] [-w password] [-r realm]
//!             [-i] [-t keyfile|""] [--cafile FILE | --insecure] [-f file] [-v] host
//! ```
//!
//! It prints the banner as `S: ` lines, the AUTHENTICATE exchange as `C: `/`S: ` lines,
//! `Authenticated.` (or `Authentication failed. <reason>`) and `Security strength factor: N`,
//! then becomes a raw terminal: each line typed goes out with CRLF, the server's bytes are
//! printed as they come, and end of input sends `Q01 LOGOUT` and waits for the server to close
//! (`Connection closed.`).
//!
//! `-t` runs STARTTLS first. The server certificate is checked against `--cafile` when given,
//! else against the system's `/etc/ssl/certs`; `--insecure` accepts any certificate (a murder's
//! self-signed test certificate). A client certificate (`-t keyfile`) is not supported: the
//! keyfile is ignored, with a warning.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use clap::Parser;
use daemons::sasl::ClientAuth;
use daemons::tls::{client_config, Stream, Verify};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(
    name = "mupdatetest",
    about = "Interactive MUPDATE client showing the protocol exchange"
)]
struct Args {
    /// Port number or service name (default: the `mupdate` service, else 3905).
    #[arg(short = 'p')]
    port: Option<String>,
    /// SASL mechanism to use.
    #[arg(short = 'm')]
    mech: Option<String>,
    /// Authentication id (default: the current user).
    #[arg(short = 'a')]
    authid: Option<String>,
    /// Authorization id.
    #[arg(short = 'u')]
    authzid: Option<String>,
    /// Password (otherwise asked on the terminal).
    #[arg(short = 'w')]
    password: Option<String>,
    /// Realm (appended to the authentication id as `@realm`).
    #[arg(short = 'r')]
    realm: Option<String>,
    /// Send no initial response; answer the server's empty challenge instead.
    #[arg(short = 'i')]
    no_initial: bool,
    /// STARTTLS first; the argument names a client key file ("" for none; not supported).
    #[arg(short = 't', value_name = "KEYFILE")]
    tls: Option<String>,
    /// CA certificates to check the server's certificate with (with -t).
    #[arg(long, value_name = "FILE")]
    cafile: Option<PathBuf>,
    /// Accept any server certificate (with -t; for test certificates).
    #[arg(long)]
    insecure: bool,
    /// Send this file after authenticating, then log out.
    #[arg(short = 'f', value_name = "FILE")]
    file: Option<PathBuf>,
    /// Verbose.
    #[arg(short = 'v')]
    verbose: bool,
    /// Accepted for compatibility and ignored: attempts, min/max SSF, SASL options.
    #[arg(short = 'n', hide = true)]
    attempts: Option<String>,
    #[arg(short = 'k', hide = true)]
    minssf: Option<String>,
    #[arg(short = 'l', hide = true)]
    maxssf: Option<String>,
    #[arg(short = 'o', hide = true)]
    saslopt: Vec<String>,
    /// Accepted and ignored: challenge prompts, COMPRESS.
    #[arg(short = 'c', hide = true)]
    challenge_prompt: bool,
    #[arg(short = 'q', hide = true)]
    compress: bool,
    /// TLS from the first byte (refused: MUPDATE has no such port).
    #[arg(short = 's', hide = true)]
    ssl: bool,
    /// The server.
    host: String,
}

fn out(bytes: &[u8]) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(bytes);
    let _ = o.flush();
}

fn shown(prefix: &str, bytes: &[u8]) {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(bytes);
    out(&v);
}

/// The port of a service in /etc/services, e.g. `mupdate           3905/tcp`.
fn service_port(name: &str) -> Option<u16> {
    let text = std::fs::read_to_string("/etc/services").ok()?;
    text.lines().find_map(|l| {
        let l = l.split('#').next()?;
        let mut w = l.split_whitespace();
        let svc = w.next()?;
        let (port, proto) = w.next()?.split_once('/')?;
        (proto == "tcp" && (svc == name || w.any(|alias| alias == name)))
            .then(|| port.parse().ok())
            .flatten()
    })
}

fn resolve_port(p: Option<&str>) -> Result<u16, String> {
    match p {
        Some(p) => p
            .parse()
            .ok()
            .or_else(|| service_port(p))
            .ok_or_else(|| format!("unknown port or service {p:?}")),
        None => Ok(service_port("mupdate").unwrap_or(protocol::mupdate::PORT)),
    }
}

/// Buffered line reading over the (possibly upgraded) connection.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

/// The longest server line mupdatetest accepts before the terminal phase.
const MAX_LINE: usize = 1 << 20;

impl Conn {
    /// One line including its CRLF (or what is left at EOF); `None` at EOF with nothing read.
    async fn line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(i + 1);
                return Ok(Some(std::mem::replace(&mut self.buf, rest)));
            }
            if self.buf.len() > MAX_LINE {
                return Err(std::io::Error::other("server line too long"));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok((!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf)));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        shown("C: ", bytes);
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }
}

/// What the banner said.
#[derive(Default)]
struct Banner {
    mechs: Vec<String>,
    starttls: bool,
}

/// Reads and prints the banner; `Err` when the server says BYE or closes.
async fn read_banner(c: &mut Conn) -> Result<Banner, String> {
    let mut b = Banner::default();
    loop {
        let Some(line) = c.line().await.map_err(|e| e.to_string())? else {
            return Err("the server closed the connection".into());
        };
        shown("S: ", &line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if let Some(list) = text.strip_prefix("* AUTH") {
            b.mechs.extend(
                list.split_whitespace()
                    .map(|m| m.trim_matches('"').to_ascii_uppercase())
                    .filter(|m| !m.is_empty()),
            );
        } else if text == "* STARTTLS" {
            b.starttls = true;
        } else if text.starts_with("* OK") {
            return Ok(b);
        } else if text.starts_with("* BYE") {
            return Err("the server said BYE".into());
        }
    }
}

/// Bits of the negotiated cipher, for the SSF line.
fn tls_bits(c: &Conn) -> u32 {
    if let Stream::Client(t) = &c.stream {
        if let Some(suite) = t.get_ref().1.negotiated_cipher_suite() {
            let name = format!("{:?}", suite.suite());
            return if name.contains("128") { 128 } else { 256 };
        }
    }
    0
}

async fn starttls(c: &mut Conn, args: &Args, host: &str) -> Result<Banner, String> {
    if args.tls.as_deref().is_some_and(|k| !k.is_empty()) {
        eprintln!("mupdatetest: client certificates are not supported; the keyfile is ignored");
    }
    let verify = if args.insecure {
        Verify::Insecure
    } else if let Some(f) = &args.cafile {
        Verify::CaFile(f.clone())
    } else {
        Verify::CaDir("/etc/ssl/certs".into())
    };
    let cfg: Arc<rustls::ClientConfig> = client_config(&verify).map_err(|e| e.to_string())?;
    c.send(b"S01 STARTTLS\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let line = loop {
        let Some(line) = c.line().await.map_err(|e| e.to_string())? else {
            return Err("the server closed the connection".into());
        };
        shown("S: ", &line);
        if line.starts_with(b"S01 ") {
            break line;
        }
    };
    if !line.starts_with(b"S01 OK") {
        return Err("STARTTLS refused".into());
    }
    // Bytes after the OK were sent in clear and do not belong to the TLS session.
    c.buf.clear();
    c.stream
        .connect_tls(cfg, host)
        .await
        .map_err(|e| format!("TLS negotiation failed: {e}"))?;
    if let Stream::Client(t) = &c.stream {
        let conn = t.get_ref().1;
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        out(format!(
            "TLS connection established: {version} with cipher {suite} ({} bits)\n",
            tls_bits(c)
        )
        .as_bytes());
    }
    read_banner(c).await
}

/// Runs AUTHENTICATE, printing the exchange. `Ok(true)` when the server said OK.
async fn authenticate(c: &mut Conn, banner: &Banner, args: &Args) -> Result<bool, String> {
    let mut authid = match &args.authid {
        Some(a) => a.clone(),
        None => std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "root".into()),
    };
    if let Some(r) = &args.realm {
        if !authid.contains('@') {
            authid = format!("{authid}@{r}");
        }
    }
    let password = match &args.password {
        Some(p) => p.clone(),
        None => rpassword::prompt_password("Password: ")
            .map_err(|e| format!("no password given (-w) and none could be read: {e}"))?,
    };
    let force = args.mech.as_deref().map(str::to_ascii_uppercase);
    let (mut sasl, initial) = match ClientAuth::start(
        &banner.mechs,
        force.as_deref(),
        &authid,
        args.authzid.as_deref(),
        &password,
    ) {
        Ok(x) => x,
        Err(_) => {
            out(b"Authentication failed. no mechanism available\n");
            return Ok(false);
        }
    };
    let mech = sasl.mechanism().to_owned();
    let mut held = None;
    let cmd = match initial {
        Some(i) if !args.no_initial => {
            let b = B64.encode(i);
            format!("A01 AUTHENTICATE \"{mech}\" {{{}+}}\r\n{b}\r\n", b.len())
        }
        other => {
            // The initial response, if the mechanism has one, answers the first challenge.
            held = other;
            format!("A01 AUTHENTICATE \"{mech}\"\r\n")
        }
    };
    c.send(cmd.as_bytes()).await.map_err(|e| e.to_string())?;
    loop {
        let Some(line) = c.line().await.map_err(|e| e.to_string())? else {
            return Err("the server closed the connection".into());
        };
        shown("S: ", &line);
        if let Some(rest) = line.strip_prefix(b"A01 ") {
            if rest.starts_with(b"OK") {
                out(b"Authenticated.\n");
                return Ok(true);
            }
            // Cyrus's client reports a refusal as SASL's generic failure.
            out(b"Authentication failed. generic failure\n");
            return Ok(false);
        }
        if line.starts_with(b"* ") {
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let answer = match held.take() {
            Some(i) => Ok(i),
            None => B64
                .decode(text.trim())
                .map_err(|e| e.to_string())
                .and_then(|ch| sasl.step(&ch).map_err(|e| e.to_string())),
        };
        match answer {
            Ok(a) => {
                let mut l = B64.encode(a).into_bytes();
                l.extend_from_slice(b"\r\n");
                c.send(&l).await.map_err(|e| e.to_string())?;
            }
            Err(e) => {
                if args.verbose {
                    eprintln!("mupdatetest: SASL: {e}");
                }
                c.send(b"*\r\n").await.map_err(|e| e.to_string())?;
            }
        }
    }
}

/// LF → CRLF, leaving existing CRLFs alone; `last_cr` carries a CR across chunks.
fn to_crlf(input: &[u8], last_cr: &mut bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(input.len() + 8);
    for &b in input {
        if b == b'\n' && !*last_cr {
            v.push(b'\r');
        }
        v.push(b);
        *last_cr = b == b'\r';
    }
    v
}

/// The terminal phase: `input` to the server, the server to stdout; at the end of `input`,
/// `Q01 LOGOUT` and the rest of the server's output.
async fn terminal(c: Conn, mut input: impl AsyncRead + Unpin) -> std::io::Result<()> {
    let Conn { stream, buf } = c;
    if !buf.is_empty() {
        out(&buf);
    }
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut from_server = [0u8; 16384];
    let mut from_user = [0u8; 4096];
    let mut last_cr = false;
    let mut input_open = true;
    loop {
        tokio::select! {
            n = rd.read(&mut from_server) => {
                let n = n?;
                if n == 0 {
                    break;
                }
                out(&from_server[..n]);
            }
            n = input.read(&mut from_user), if input_open => {
                let n = n?;
                if n == 0 {
                    input_open = false;
                    shown("C: ", b"Q01 LOGOUT\r\n");
                    wr.write_all(b"Q01 LOGOUT\r\n").await?;
                } else {
                    wr.write_all(&to_crlf(&from_user[..n], &mut last_cr)).await?;
                }
                wr.flush().await?;
            }
        }
    }
    out(b"Connection closed.\n");
    Ok(())
}

async fn run(args: Args) -> Result<(), String> {
    if args.ssl {
        return Err("protocol cannot be SSL-wrapped".into());
    }
    if args.compress {
        eprintln!("mupdatetest: -q (COMPRESS) is not supported; continuing without it");
    }
    let port = resolve_port(args.port.as_deref())?;
    let tcp = TcpStream::connect((args.host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {}:{port}: {e}", args.host))?;
    let _ = tcp.set_nodelay(true);
    let mut c = Conn {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
    };
    let mut banner = read_banner(&mut c).await?;
    if args.tls.is_some() {
        if !banner.starttls && args.verbose {
            eprintln!("mupdatetest: the server does not advertise STARTTLS; trying anyway");
        }
        banner = starttls(&mut c, &args, &args.host).await?;
    }
    authenticate(&mut c, &banner, &args).await?;
    out(format!("Security strength factor: {}\n", tls_bits(&c)).as_bytes());
    let result = match &args.file {
        Some(f) => {
            let data = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
            terminal(c, std::io::Cursor::new(data)).await
        }
        None => terminal(c, tokio::io::stdin()).await,
    };
    result.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.password.is_none() && !std::io::stdin().is_terminal() && args.verbose {
        eprintln!("mupdatetest: no -w and stdin is not a terminal: asking on /dev/tty");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mupdatetest: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match rt.block_on(run(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mupdatetest: {e}");
            1
        }
    };
    // A terminal read may still be blocked in a helper thread: leave without waiting for it.
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}
