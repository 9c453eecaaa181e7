//! Users, passwords and SASL for every daemon and client in the murder.
//!
//! [`CredStore`] is our `sasldb`: the file `sasl_sasldb_path` names, one user per line, holding
//! SCRAM secrets (salted, iterated PBKDF2 keys for SHA-256 and SHA-1), never a password. PLAIN
//! and LOGIN are checked against the same secrets, so one record serves every mechanism.
//! `saslpasswd` manages it with saslpasswd2's options.
//!
//! [`ServerAuth`] runs the server side of an exchange through rsasl and reports who
//! authenticated; deciding whether that identity may do what it asks (admins, proxyservers) is
//! each daemon's policy. [`ClientAuth`] is the client side, used by backends towards the MUPDATE
//! master, by proxies towards backends, and by the shell.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use digest::Digest;
use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::mechanisms::scram::properties::ScramStoredPassword;
use rsasl::mechanisms::scram::tools::{derive_keys, hash_password};
use rsasl::mechname::Mechname;
use rsasl::prelude::{SASLClient, SASLConfig, SASLServer, Session, SessionError, State};
use rsasl::property::{AuthId, AuthzId, Password};
use rsasl::validate::{Validate, Validation, ValidationError};

/// PBKDF2 iterations for new secrets. 4096 is RFC 7677's minimum and what Cyrus SASL uses.
pub const SCRAM_ITERATIONS: u32 = 4096;

/// Errors of the credential store and of SASL exchanges.
#[derive(Debug, thiserror::Error)]
pub enum SaslError {
    /// The credential file could not be read or written.
    #[error("sasldb {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A line of the credential file is malformed.
    #[error("sasldb {path}:{line}: malformed entry")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// The mechanism is not offered (unknown, or plaintext without TLS or `allowplaintext`).
    #[error("mechanism {0} is not available")]
    NoMechanism(String),
    /// The peer's data broke the mechanism's rules.
    #[error("authentication exchange failed: {0}")]
    Exchange(String),
    /// A user name that cannot be stored (empty, or with a line break, tab or colon).
    #[error("invalid user name {0:?}")]
    BadUser(String),
}

/// One hash's SCRAM secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramSecret {
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `ServerKey`.
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScramSecret({} iterations, ***)", self.iterations)
    }
}

impl ScramSecret {
    fn derive<D>(password: &[u8], salt: &[u8], iterations: u32) -> Self
    where
        D: Digest + digest::core_api::BlockSizeUser + digest::FixedOutputReset + Clone + Sync,
    {
        let mut salted = digest::Output::<D>::default();
        hash_password::<D>(password, iterations, salt, &mut salted);
        let (client_key, server_key) = derive_keys::<D>(salted.as_slice());
        let stored_key = D::digest(client_key);
        ScramSecret {
            iterations,
            salt: salt.to_vec(),
            stored_key: stored_key.to_vec(),
            server_key: server_key.to_vec(),
        }
    }

    fn matches<D>(&self, password: &[u8]) -> bool
    where
        D: Digest + digest::core_api::BlockSizeUser + digest::FixedOutputReset + Clone + Sync,
    {
        let other = Self::derive::<D>(password, &self.salt, self.iterations);
        constant_time_eq(&other.stored_key, &self.stored_key)
    }

    fn encode(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(&self.stored_key),
            B64.encode(&self.server_key)
        )
    }

    fn decode<'a>(parts: &mut impl Iterator<Item = &'a str>) -> Option<Self> {
        Some(ScramSecret {
            iterations: parts.next()?.parse().ok()?,
            salt: B64.decode(parts.next()?).ok()?,
            stored_key: B64.decode(parts.next()?).ok()?,
            server_key: B64.decode(parts.next()?).ok()?,
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What is stored for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSecrets {
    /// For SCRAM-SHA-256, PLAIN and LOGIN.
    pub sha256: ScramSecret,
    /// For SCRAM-SHA-1.
    pub sha1: ScramSecret,
}

impl UserSecrets {
    /// Derives fresh secrets with a random salt.
    pub fn from_password(password: &str) -> Self {
        let salt: [u8; 16] = rand::random();
        UserSecrets {
            sha256: ScramSecret::derive::<sha2::Sha256>(
                password.as_bytes(),
                &salt,
                SCRAM_ITERATIONS,
            ),
            sha1: ScramSecret::derive::<sha1::Sha1>(password.as_bytes(), &salt, SCRAM_ITERATIONS),
        }
    }

    /// Whether `password` is this user's password.
    pub fn check_password(&self, password: &[u8]) -> bool {
        self.sha256.matches::<sha2::Sha256>(password)
    }
}

/// The key a user is stored under: `user` or `user@realm` (saslpasswd2's `-u`).
pub fn user_key(user: &str, realm: Option<&str>) -> Result<String, SaslError> {
    let key = match realm {
        Some(r) if !r.is_empty() => format!("{user}@{r}"),
        _ => user.to_owned(),
    };
    if user.is_empty() || key.contains(['\n', '\r', '\t', ':', '\0']) {
        return Err(SaslError::BadUser(key));
    }
    Ok(key)
}

/// The credential file. Readers reload it when it changes on disk, so `saslpasswd` takes effect
/// without restarting a daemon; writers replace it atomically (write, fsync, rename).
pub struct CredStore {
    path: PathBuf,
    /// The parsed file and the mtime it was read at.
    cache: Mutex<Option<(Option<SystemTime>, Users)>>,
    /// Passwords verified lately (see [`CredStore::verify_password`]).
    verified: Mutex<Verified>,
}

/// Recently verified plaintext passwords, as saslauthd's credential cache (`-c`) keeps them.
/// Checking a PLAIN or LOGIN password against a SCRAM secret costs a 4096-round PBKDF2, and
/// a murder pays it twice per proxied session (the client at the frontend, the proxy user at
/// the backend), always for the same few identities. Entries are keyed by a hash of a random
/// per-process key, the stored key (so a password change misses at once) and the password,
/// so the table holds nothing a guess could be checked against without this process's key.
struct Verified {
    key: [u8; 32],
    seen: HashMap<[u8; 32], std::time::Instant>,
}

/// How long a verified password is trusted without a new PBKDF2.
const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// At most this many entries; the table is emptied when full (a flood of distinct logins
/// only costs the PBKDF2s it would have cost anyway).
const VERIFIED_MAX: usize = 10_000;

impl Verified {
    fn new() -> Self {
        Verified {
            key: rand::random(),
            seen: HashMap::new(),
        }
    }

    fn entry(&self, secret: &ScramSecret, password: &[u8]) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        h.update(self.key);
        h.update((secret.stored_key.len() as u64).to_be_bytes());
        h.update(&secret.stored_key);
        h.update(password);
        h.finalize().into()
    }
}

type Users = Arc<HashMap<String, UserSecrets>>;

const FILE_HEADER: &str = "# murder sasldb v1: user:scram-sha-256 iter:salt:stored:server:scram-sha-1 iter:salt:stored:server";

impl CredStore {
    /// A store at `path` (the file need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CredStore {
            path: path.into(),
            cache: Mutex::new(None),
            verified: Mutex::new(Verified::new()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> SaslError {
        SaslError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn load(&self) -> Result<Users, SaslError> {
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, users)) = cache.as_ref() {
            if *seen == mtime && mtime.is_some() {
                return Ok(users.clone());
            }
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.io(e)),
        };
        let users = Arc::new(self.parse(&text)?);
        *cache = Some((mtime, users.clone()));
        Ok(users)
    }

    fn parse(&self, text: &str) -> Result<HashMap<String, UserSecrets>, SaslError> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = || SaslError::Malformed {
                path: self.path.clone(),
                line: n + 1,
            };
            let mut parts = line.split(':');
            let user = parts
                .next()
                .filter(|u| !u.is_empty())
                .ok_or_else(malformed)?;
            if parts.next() != Some("scram-sha-256") {
                return Err(malformed());
            }
            let sha256 = ScramSecret::decode(&mut parts).ok_or_else(malformed)?;
            if parts.next() != Some("scram-sha-1") {
                return Err(malformed());
            }
            let sha1 = ScramSecret::decode(&mut parts).ok_or_else(malformed)?;
            users.insert(user.to_owned(), UserSecrets { sha256, sha1 });
        }
        Ok(users)
    }

    /// The secrets of `authid` (`user` or `user@realm`), if the user exists.
    pub fn lookup(&self, authid: &str) -> Result<Option<UserSecrets>, SaslError> {
        Ok(self.load()?.get(authid).cloned())
    }

    /// Whether `password` was verified as `authid`'s password in the last few minutes (and
    /// still is: a changed secret misses). Cheap (no PBKDF2), so callers on an async thread
    /// can try it before handing [`CredStore::verify_password`] to a blocking thread.
    pub fn recently_verified(&self, authid: &str, password: &[u8]) -> bool {
        let Ok(Some(secrets)) = self.lookup(authid) else {
            return false;
        };
        let v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        let entry = v.entry(&secrets.sha256, password);
        v.seen
            .get(&entry)
            .is_some_and(|t| t.elapsed() < VERIFIED_TTL)
    }

    /// Whether `password` is `authid`'s password: the PBKDF2 check, skipped when the same
    /// password was verified against the same secret in the last few minutes.
    pub fn verify_password(&self, authid: &str, password: &[u8]) -> Result<bool, SaslError> {
        let Some(secrets) = self.lookup(authid)? else {
            return Ok(false);
        };
        let entry = {
            let v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            let entry = v.entry(&secrets.sha256, password);
            if v.seen
                .get(&entry)
                .is_some_and(|t| t.elapsed() < VERIFIED_TTL)
            {
                return Ok(true);
            }
            entry
        };
        if !secrets.check_password(password) {
            return Ok(false);
        }
        let mut v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if v.seen.len() >= VERIFIED_MAX {
            v.seen.clear();
        }
        v.seen.insert(entry, std::time::Instant::now());
        Ok(true)
    }

    /// Every stored user key, sorted.
    pub fn users(&self) -> Result<Vec<String>, SaslError> {
        let mut v: Vec<_> = self.load()?.keys().cloned().collect();
        v.sort();
        Ok(v)
    }

    /// Creates or replaces a user's secrets.
    pub fn set_password(&self, key: &str, password: &str) -> Result<(), SaslError> {
        let secrets = UserSecrets::from_password(password);
        self.update(|users| {
            users.insert(key.to_owned(), secrets);
        })
    }

    /// Removes a user; whether it existed.
    pub fn delete(&self, key: &str) -> Result<bool, SaslError> {
        let mut existed = false;
        self.update(|users| existed = users.remove(key).is_some())?;
        Ok(existed)
    }

    fn update(&self, f: impl FnOnce(&mut HashMap<String, UserSecrets>)) -> Result<(), SaslError> {
        // Read the file afresh: another process may have changed it since we cached it.
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let mut users = (*self.load()?).clone();
        f(&mut users);
        let mut keys: Vec<_> = users.keys().collect();
        keys.sort();
        let mut text = String::from(FILE_HEADER);
        text.push('\n');
        for k in keys {
            let s = &users[k];
            text.push_str(&format!(
                "{k}:scram-sha-256:{}:scram-sha-1:{}\n",
                s.sha256.encode(),
                s.sha1.encode()
            ));
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o640))?;
            }
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io(e)
        })?;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }
}

/// Who authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The authentication id (whose password was checked).
    pub authid: String,
    /// The authorization id asked for, when it differs from `authid`. Whether it is allowed is
    /// the daemon's decision.
    pub authzid: Option<String>,
}

impl Identity {
    /// The user the session acts as.
    pub fn user(&self) -> &str {
        self.authzid.as_deref().unwrap_or(&self.authid)
    }
}

/// Why an exchange ended without an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown user or wrong password (reported alike to the peer, as Cyrus does).
    BadCredentials,
    /// The client cancelled with `*`.
    Cancelled,
}

struct Outcome;
impl Validation for Outcome {
    type Value = Result<Identity, AuthFailure>;
}

struct StoreCallback {
    store: Arc<CredStore>,
}

impl StoreCallback {
    fn identity(context: &Context) -> Option<Identity> {
        let authid = context.get_ref::<AuthId>()?.to_owned();
        let authzid = context
            .get_ref::<AuthzId>()
            .filter(|z| !z.is_empty() && *z != authid)
            .map(str::to_owned);
        Some(Identity { authid, authzid })
    }
}

impl SessionCallback for StoreCallback {
    fn callback(
        &self,
        _session_data: &SessionData,
        context: &Context,
        request: &mut Request,
    ) -> Result<(), SessionError> {
        // SCRAM asks for the stored secret of the user it was told about.
        if let Some(authid) = context.get_ref::<AuthId>() {
            if let Ok(Some(secrets)) = self.store.lookup(authid) {
                let mech = _session_data.mechanism().mechanism.as_str();
                let s = if mech == "SCRAM-SHA-1" {
                    &secrets.sha1
                } else {
                    &secrets.sha256
                };
                request.satisfy::<ScramStoredPassword>(&ScramStoredPassword::new(
                    s.iterations,
                    &s.salt,
                    &s.stored_key,
                    &s.server_key,
                ))?;
            }
        }
        Ok(())
    }

    fn validate(
        &self,
        session_data: &SessionData,
        context: &Context,
        validate: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        let mech = session_data.mechanism().mechanism.as_str();
        let result = match Self::identity(context) {
            None => Err(AuthFailure::BadCredentials),
            Some(id) if mech.starts_with("SCRAM-") => {
                // rsasl has verified the proof against the secret we supplied.
                Ok(id)
            }
            Some(id) => {
                let password = context.get_ref::<Password>().unwrap_or_default();
                match self.store.verify_password(&id.authid, password) {
                    Ok(true) => Ok(id),
                    _ => Err(AuthFailure::BadCredentials),
                }
            }
        };
        validate.with::<Outcome, _>(|| Ok(result))?;
        Ok(())
    }
}

/// Mechanisms that send the password itself; offered only over TLS or with `allowplaintext`.
pub const PLAINTEXT_MECHS: [&str; 2] = ["PLAIN", "LOGIN"];
/// Mechanisms we serve, strongest first.
pub const SERVER_MECHS: [&str; 4] = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN"];

/// The server side of SASL for one daemon.
#[derive(Clone)]
pub struct ServerAuth {
    store: Arc<CredStore>,
    config: Arc<SASLConfig>,
    /// `sasl_mech_list` from imapd.conf, upper-cased; `None` offers every mechanism we have.
    mech_list: Option<Vec<String>>,
}

impl ServerAuth {
    /// Server SASL over `store`, limited to `mech_list` when given (imapd.conf's `sasl_mech_list`).
    pub fn new(store: Arc<CredStore>, mech_list: Option<&str>) -> Result<Self, SaslError> {
        let config = SASLConfig::builder()
            .with_defaults()
            .with_callback(StoreCallback {
                store: store.clone(),
            })
            .map_err(|e| SaslError::Exchange(e.to_string()))?;
        let mech_list = mech_list.map(|l| {
            l.split_whitespace()
                .map(|m| m.to_ascii_uppercase())
                .collect()
        });
        Ok(ServerAuth {
            store,
            config,
            mech_list,
        })
    }

    /// The credential store.
    pub fn store(&self) -> &Arc<CredStore> {
        &self.store
    }

    /// The mechanisms to advertise now. `plaintext_ok` is true over TLS or with `allowplaintext`.
    pub fn mechanisms(&self, plaintext_ok: bool) -> Vec<&'static str> {
        SERVER_MECHS
            .iter()
            .copied()
            .filter(|m| plaintext_ok || !PLAINTEXT_MECHS.contains(m))
            .filter(|m| {
                self.mech_list
                    .as_ref()
                    .is_none_or(|l| l.iter().any(|x| x == m))
            })
            .collect()
    }

    /// Checks a password directly (IMAP LOGIN, POP3 USER/PASS). Blocking: it may run a PBKDF2.
    pub fn check_login(&self, user: &str, password: &str) -> Result<bool, SaslError> {
        self.store.verify_password(user, password.as_bytes())
    }

    /// [`ServerAuth::check_login`]'s answer when it is known without a PBKDF2 (the password
    /// was verified lately): a login then needs no trip to a blocking thread.
    pub fn login_recently_verified(&self, user: &str, password: &str) -> bool {
        self.store.recently_verified(user, password.as_bytes())
    }

    /// Starts an exchange for `mech` (case-insensitive).
    pub fn start(&self, mech: &str, plaintext_ok: bool) -> Result<ServerExchange, SaslError> {
        let upper = mech.to_ascii_uppercase();
        let offered = self.mechanisms(plaintext_ok);
        if !offered.iter().any(|m| *m == upper) {
            return Err(SaslError::NoMechanism(mech.to_owned()));
        }
        let name = Mechname::parse(upper.as_bytes())
            .map_err(|_| SaslError::NoMechanism(mech.to_owned()))?;
        let session = SASLServer::<Outcome>::new(self.config.clone())
            .start_suggested(name)
            .map_err(|_| SaslError::NoMechanism(mech.to_owned()))?;
        Ok(ServerExchange {
            session,
            started: false,
        })
    }
}

/// What to do after feeding the server side.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerStep {
    /// Send this challenge and wait for the client's response.
    Challenge(Vec<u8>),
    /// The exchange is over. `final_data` (SCRAM's server signature) goes with the OK where the
    /// protocol allows it.
    Done {
        /// The identity, or why there is none.
        result: Result<Identity, AuthFailure>,
        /// Additional data with success.
        final_data: Option<Vec<u8>>,
    },
}

/// One server-side exchange.
pub struct ServerExchange {
    session: Session<Outcome>,
    started: bool,
}

impl ServerExchange {
    /// Feeds the client's data: the initial response (`None` when the client sent none) on the
    /// first call, then each response.
    pub fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, SaslError> {
        let first = !self.started;
        self.started = true;
        if first && input.is_none() && !self.session.are_we_first() {
            // A client-first mechanism without an initial response: ask for it with an empty
            // challenge (RFC 4422 §5).
            return Ok(ServerStep::Challenge(Vec::new()));
        }
        let mut out = Vec::new();
        let state = match self.session.step(input, &mut out) {
            Ok(s) => s,
            Err(e) => {
                return match self.session.validation() {
                    Some(result @ Err(_)) => Ok(ServerStep::Done {
                        result,
                        final_data: None,
                    }),
                    _ => Err(SaslError::Exchange(e.to_string())),
                }
            }
        };
        match state {
            State::Running => Ok(ServerStep::Challenge(out)),
            State::Finished(sent) => {
                let result = self
                    .session
                    .validation()
                    .unwrap_or(Err(AuthFailure::BadCredentials));
                let final_data = if sent == rsasl::prelude::MessageSent::Yes && result.is_ok() {
                    Some(out)
                } else {
                    None
                };
                Ok(ServerStep::Done { result, final_data })
            }
        }
    }
}

/// The client side of SASL: our own connections to masters, backends and servers.
pub struct ClientAuth {
    session: Session,
    mech: String,
}

impl ClientAuth {
    /// Chooses the best mechanism among `offered` (or `force`, when given) and starts it.
    /// Returns the exchange and the initial response to send with the AUTHENTICATE command.
    pub fn start(
        offered: &[String],
        force: Option<&str>,
        authid: &str,
        authzid: Option<&str>,
        password: &str,
    ) -> Result<(ClientAuth, Option<Vec<u8>>), SaslError> {
        let config = SASLConfig::with_credentials(
            authzid.filter(|z| !z.is_empty()).map(str::to_owned),
            authid.to_owned(),
            password.to_owned(),
        )
        .map_err(|e| SaslError::Exchange(e.to_string()))?;
        let wanted: Vec<String> = match force {
            Some(f) => f
                .split_whitespace()
                .map(str::to_ascii_uppercase)
                .filter(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m)))
                .collect(),
            None => offered
                .iter()
                .map(|m| m.trim_matches('"').to_ascii_uppercase())
                .collect(),
        };
        let names: Vec<&Mechname> = wanted
            .iter()
            .filter_map(|m| Mechname::parse(m.as_bytes()).ok())
            .collect();
        let mut session = SASLClient::new(config)
            .start_suggested_iter(names.iter().copied())
            .map_err(|_| {
                SaslError::NoMechanism(if wanted.is_empty() {
                    "(none offered)".into()
                } else {
                    wanted.join(" ")
                })
            })?;
        let mech = session.get_mechname().as_str().to_owned();
        let initial = if session.are_we_first() {
            let mut out = Vec::new();
            session
                .step(None, &mut out)
                .map_err(|e| SaslError::Exchange(e.to_string()))?;
            Some(out)
        } else {
            None
        };
        Ok((ClientAuth { session, mech }, initial))
    }

    /// The mechanism chosen.
    pub fn mechanism(&self) -> &str {
        &self.mech
    }

    /// Answers a server challenge.
    pub fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        let mut out = Vec::new();
        self.session
            .step(Some(challenge), &mut out)
            .map_err(|e| SaslError::Exchange(e.to_string()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Arc<CredStore>) {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(CredStore::new(dir.path().join("sasldb")));
        s.set_password("alice", "alicepw").unwrap();
        s.set_password("admin", "secret").unwrap();
        (dir, s)
    }

    fn run(
        auth: &ServerAuth,
        mech: &str,
        user: &str,
        authz: Option<&str>,
        pw: &str,
    ) -> Result<Identity, AuthFailure> {
        let (mut client, initial) =
            ClientAuth::start(&[mech.to_owned()], None, user, authz, pw).unwrap();
        let mut server = auth.start(mech, true).unwrap();
        let mut input = initial;
        loop {
            match server.step(input.as_deref()).unwrap() {
                ServerStep::Challenge(c) => input = Some(client.step(&c).unwrap()),
                ServerStep::Done { result, final_data } => {
                    if let Some(d) = final_data {
                        client.step(&d).unwrap();
                    }
                    return result;
                }
            }
        }
    }

    #[test]
    fn every_mechanism_accepts_the_right_password_and_only_that() {
        let (_d, s) = store();
        let auth = ServerAuth::new(s, None).unwrap();
        for mech in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1", "LOGIN"] {
            let ok = run(&auth, mech, "alice", None, "alicepw");
            assert_eq!(ok.unwrap().user(), "alice", "{mech}");
            assert!(run(&auth, mech, "alice", None, "wrong").is_err(), "{mech}");
            assert!(run(&auth, mech, "nobody", None, "x").is_err(), "{mech}");
        }
        for mech in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1"] {
            let id = run(&auth, mech, "admin", Some("alice"), "secret").unwrap();
            assert_eq!(
                (id.authid.as_str(), id.user()),
                ("admin", "alice"),
                "{mech}"
            );
        }
    }

    #[test]
    fn plaintext_needs_tls_or_allowplaintext() {
        let (_d, s) = store();
        let auth = ServerAuth::new(s, None).unwrap();
        assert_eq!(auth.mechanisms(false), ["SCRAM-SHA-256", "SCRAM-SHA-1"]);
        assert!(auth.start("PLAIN", false).is_err());
        let limited = ServerAuth::new(auth.store().clone(), Some("plain")).unwrap();
        assert_eq!(limited.mechanisms(true), ["PLAIN"]);
    }

    #[test]
    fn verified_passwords_are_remembered_until_the_password_changes() {
        let (_d, s) = store();
        assert!(!s.recently_verified("alice", b"alicepw"));
        assert!(s.verify_password("alice", b"alicepw").unwrap());
        assert!(s.recently_verified("alice", b"alicepw"));
        assert!(!s.recently_verified("alice", b"alicepw2"));
        assert!(!s.recently_verified("nobody", b"alicepw"));
        // Now from the cache; a wrong password and an unknown user still fail.
        assert!(s.verify_password("alice", b"alicepw").unwrap());
        assert!(!s.verify_password("alice", b"alicepw2").unwrap());
        assert!(!s.verify_password("nobody", b"alicepw").unwrap());
        // A new password (new salt, new stored key) voids what was remembered.
        std::thread::sleep(std::time::Duration::from_millis(20));
        s.set_password("alice", "other").unwrap();
        assert!(!s.recently_verified("alice", b"alicepw"));
        assert!(!s.verify_password("alice", b"alicepw").unwrap());
        assert!(s.verify_password("alice", b"other").unwrap());
    }

    #[test]
    fn the_file_holds_no_password_and_reloads_after_changes() {
        let (_d, s) = store();
        let text = std::fs::read_to_string(s.path()).unwrap();
        assert!(!text.contains("alicepw"));
        let other = CredStore::new(s.path());
        assert!(other.lookup("alice").unwrap().is_some());
        assert!(s.delete("alice").unwrap());
        assert!(other.lookup("alice").unwrap().is_none());
        assert_eq!(other.users().unwrap(), ["admin"]);
    }

    #[test]
    fn a_malformed_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        std::fs::write(&p, "# c\nbob:nonsense\n").unwrap();
        let err = CredStore::new(&p).lookup("bob").unwrap_err().to_string();
        assert!(err.ends_with(":2: malformed entry"), "{err}");
    }
}
