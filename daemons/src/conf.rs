//! Reading `imapd.conf` from disk for a daemon or tool, as Cyrus does: `-C FILE`, else
//! `$CYRUS_PREFIX/etc/imapd.conf`... we keep Cyrus's default of `/etc/imapd.conf`, with the
//! service name (the cyrus.conf entry, exported by `master` as `CYRUS_SERVICE`) selecting
//! `<service>_<option>` overrides.

use std::path::{Path, PathBuf};

use protocol::config::imapd::{ImapdConf, ParseOptions};

/// Cyrus's default location of imapd.conf.
pub const DEFAULT_IMAPD_CONF: &str = "/etc/imapd.conf";

/// A configuration problem, said as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is malformed (the message names file:line).
    #[error("{0}")]
    Parse(String),
    /// A required setting is missing or wrong.
    #[error("{path}: {message}")]
    Setting {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The path a program should read: `-C` if given, else the default.
pub fn conf_path(cli: Option<&Path>) -> PathBuf {
    cli.map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_IMAPD_CONF))
}

/// Loads imapd.conf for `service` (default: `CYRUS_SERVICE` from the environment).
pub fn load(path: &Path, service: Option<&str>) -> Result<ImapdConf, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    let env_service = std::env::var("CYRUS_SERVICE").ok();
    let opts = ParseOptions {
        service: service.map(str::to_owned).or(env_service),
        ..ParseOptions::default()
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut include = |p: &str| {
        let p = Path::new(p);
        std::fs::read_to_string(if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        })
    };
    ImapdConf::parse(&text, &path.display().to_string(), &mut include, &opts)
        .map_err(|e| ConfigError::Parse(e.to_string()))
}

/// `configdirectory` as a path (parse already insists that it is set).
pub fn configdirectory(conf: &ImapdConf, path: &Path) -> Result<PathBuf, ConfigError> {
    conf.configdirectory()
        .map(PathBuf::from)
        .ok_or_else(|| ConfigError::Setting {
            path: path.to_owned(),
            message: "configdirectory is not set".into(),
        })
}

/// The credential store's path: `sasl_sasldb_path`, default `/etc/sasldb2`.
pub fn sasldb_path(conf: &ImapdConf) -> PathBuf {
    PathBuf::from(
        conf.get_str("sasl_sasldb_path")
            .unwrap_or_else(|| "/etc/sasldb2".into()),
    )
}
