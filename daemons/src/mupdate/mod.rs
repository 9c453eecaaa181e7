//! MUPDATE master and slave (RFC 3656 as Cyrus 3.6 speaks it).
//!
//! * [`store`]: the master's state rules, the group-committing writer, stream fan-out;
//! * [`server`]: one server connection (master or slave);
//! * [`slave`]: following the master into the local mailboxes.db, and the kick socket;
//! * [`client`]: the client side, for slaves, backends, `ctl_mboxlist` and the shell.

pub mod client;
pub mod server;
pub mod slave;
pub mod store;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use protocol::config::imapd::{ImapdConf, MupdateConfig as ConfMupdateConfig};
use protocol::mupdate::{Limits, StringForm};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::mboxdb::MailboxDb;
use crate::net::{serve, ConnCounter};
use crate::sasl::{CredStore, ServerAuth};

/// Client credentials for MUPDATE from imapd.conf (`mupdate_authname`, `mupdate_username`,
/// `mupdate_password`, and the mechanism list of `<shorthost>_mechs` or
/// `force_sasl_client_mech`).
pub fn credentials(conf: &ImapdConf) -> Result<client::Credentials, String> {
    let authname = conf
        .get_str("mupdate_authname")
        .ok_or("mupdate_authname is not set")?;
    let password = conf
        .get_str("mupdate_password")
        .ok_or("mupdate_password is not set")?;
    let host = conf.mupdate_endpoint().map(|(h, _)| h).unwrap_or_default();
    Ok(client::Credentials {
        authname,
        username: conf.get_str("mupdate_username").filter(|u| !u.is_empty()),
        password,
        mechs: conf
            .mechs_for_server(&host)
            .or_else(|| conf.get_str("force_sasl_client_mech")),
    })
}

/// TLS client configuration for outgoing connections, when the conf names a CA
/// (`tls_server_ca_file`/`tls_server_ca_dir`) or `tls_client_insecure` is set (tests).
pub fn client_tls(conf: &ImapdConf) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
    use crate::tls::{client_config, Verify};
    let verify = if let Some(f) = conf.get_str("tls_server_ca_file") {
        Verify::CaFile(f.into())
    } else if let Some(d) = conf.get_str("tls_server_ca_dir") {
        Verify::CaDir(d.into())
    } else if conf
        .get_raw("tls_client_insecure")
        .is_some_and(|v| matches!(v, "1" | "yes" | "on" | "true" | "t" | "y"))
    {
        Verify::Insecure
    } else {
        return Ok(None);
    };
    client_config(&verify).map(Some).map_err(|e| e.to_string())
}

/// STARTTLS configuration from `tls_server_cert`/`tls_server_key`, if set; client
/// certificates are asked for with `tls_client_ca_file` and `tls_client_certs`.
pub fn server_tls(conf: &ImapdConf) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    match (
        conf.get_str("tls_server_cert"),
        conf.get_str("tls_server_key"),
    ) {
        (Some(c), Some(k)) => {
            // Client certificates are asked for when a CA for them is configured and
            // `tls_client_certs` (Cyrus: off, optional, require; default optional) allows.
            let mode = conf.get_str("tls_client_certs");
            let clients = conf
                .get_str("tls_client_ca_file")
                .filter(|f| !f.is_empty() && mode.as_deref() != Some("off"))
                .map(|f| crate::tls::ClientCertPolicy {
                    ca_file: f.into(),
                    require: mode.as_deref() == Some("require"),
                });
            crate::tls::server_config_with_clients(Path::new(&c), Path::new(&k), clients.as_ref())
                .map(Some)
                .map_err(|e| e.to_string())
        }
        _ => Ok(None),
    }
}

/// Runs an MUPDATE server (`master` true for `-m`) on `listener` until `shutdown`.
pub async fn run(
    conf: &ImapdConf,
    master: bool,
    listener: TcpListener,
    max_connections: Option<usize>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let configdir = conf.configdirectory().ok_or("configdirectory is not set")?;
    let configdir = std::path::PathBuf::from(configdir);
    let db = MailboxDb::open_in(&configdir).map_err(|e| e.to_string())?;
    let store = Arc::new(CredStore::new(crate::conf::sasldb_path(conf)));
    let auth = ServerAuth::new(store, conf.get_raw("sasl_mech_list")).map_err(|e| e.to_string())?;
    let streams = Arc::new(store::Streams::default());
    let servername = conf.servername().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into())
    });
    let (resync_tx, resync_rx) = watch::channel(0u64);
    let (synced_tx, mut synced_rx) = watch::channel(master);

    let (role, writer) = if master {
        let cfg = match conf.mupdate_config() {
            ConfMupdateConfig::Replicated => store::MupdateConfig::Replicated,
            ConfMupdateConfig::Unified => {
                return Err("cannot run mupdate master on a unified server".into())
            }
            _ => store::MupdateConfig::Standard,
        };
        tokio::spawn(slave::placebo_kick(configdir.clone(), shutdown.clone()));
        (
            server::Role::Master,
            Some(store::Writer::spawn(db.clone(), streams.clone(), cfg)),
        )
    } else {
        let (host, port) = conf
            .mupdate_endpoint()
            .ok_or("couldn't get mupdate server name (mupdate_server is not set)")?;
        let display = conf
            .get_str("mupdate_server")
            .unwrap_or_else(|| host.clone());
        let retry = conf.mupdate_retry_delay();
        if retry < 2 {
            return Err(format!(
                "mupdate_retry_delay is {retry}: it must be at least 2 seconds"
            ));
        }
        let upstream = slave::Upstream {
            host,
            port,
            display: display.clone(),
            creds: credentials(conf)?,
            tls: client_tls(conf)?,
            retry_delay: Duration::from_secs(retry as u64),
            timeout: conf.client_timeout(),
        };
        tokio::spawn(slave::run(
            db.clone(),
            streams.clone(),
            upstream,
            configdir.clone(),
            resync_tx,
            synced_tx,
            shutdown.clone(),
        ));
        (server::Role::Slave { upstream: display }, None)
    };

    let form = match conf.get_raw("mupdate_string_form") {
        Some("quoted") => StringForm::Quoted,
        _ => StringForm::Literal,
    };
    let ctx = Arc::new(server::ServerContext {
        role,
        db,
        writer,
        streams,
        auth,
        admins: conf.admins(),
        allowplaintext: conf.allowplaintext(),
        tls: server_tls(conf)?,
        servername,
        form,
        limits: Limits::default(),
        max_connections: max_connections.unwrap_or_else(|| {
            conf.get_int("mupdate_connections_max")
                .map(|n| n.max(1) as usize)
                .unwrap_or(128)
        }),
        connections: Arc::new(ConnCounter::default()),
        failed_login_pause: conf
            .get_duration("failedloginpause")
            .unwrap_or(Duration::from_secs(3)),
        idle_timeout: Duration::from_secs(180 * 60),
        resync: resync_rx,
    });

    // A slave serves nobody until its first sync (Cyrus blocks in service_init the same way).
    while !*synced_rx.borrow_and_update() {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = synced_rx.changed() => if r.is_err() { return Err("the slave stopped".into()) },
        }
    }
    let counter = ctx.connections.clone();
    serve(listener, shutdown, counter, move |stream, peer, guard| {
        server::handle(ctx.clone(), stream, peer, guard)
    })
    .await;
    Ok(())
}
