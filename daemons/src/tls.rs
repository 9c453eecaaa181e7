//! TLS for every daemon and client: rustls with the ring provider, passed explicitly so the
//! whole workspace uses one crypto provider.
//!
//! [`Stream`] is a connection that may be upgraded by STARTTLS (or start in TLS for imaps-style
//! ports), so protocol loops read and write one type whatever the state.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The file holds no usable certificate or key.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        what: &'static str,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(String),
    /// The CAs for client certificates cannot verify anything (`tls_client_ca_file`).
    #[error("client certificate verifier: {0}")]
    ClientVerifier(String),
}

/// The one crypto provider of the workspace.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Io {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "no certificate found",
        });
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| TlsError::Io {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| TlsError::Pem {
            path: path.to_owned(),
            what: "no private key found",
        })
}

/// A server configuration from `tls_server_cert` and `tls_server_key`.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(load_certs(cert)?, load_key(key)?)?;
    Ok(Arc::new(config))
}

/// Whether a server asks TLS clients for a certificate (`tls_client_certs` with
/// `tls_client_ca_file`), and which CAs it trusts for them.
#[derive(Debug, Clone)]
pub struct ClientCertPolicy {
    /// PEM file of the CAs that sign acceptable client certificates.
    pub ca_file: PathBuf,
    /// Refuse clients without a certificate (`require`); otherwise one is asked for but
    /// optional (`optional`, Cyrus's default).
    pub require: bool,
}

/// A server configuration that also asks clients for certificates when `clients` says so.
pub fn server_config_with_clients(
    cert: &Path,
    key: &Path,
    clients: Option<&ClientCertPolicy>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let Some(policy) = clients else {
        return server_config(cert, key);
    };
    let mut roots = RootCertStore::empty();
    for c in load_certs(&policy.ca_file)? {
        roots.add(c)?;
    }
    let builder =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = if policy.require {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    let verifier = builder
        .build()
        .map_err(|e| TlsError::ClientVerifier(e.to_string()))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert)?, load_key(key)?)?;
    Ok(Arc::new(config))
}

/// How a client checks the server's certificate.
#[derive(Debug, Clone)]
pub enum Verify {
    /// Against the CAs in this PEM file (`--cafile`, `tls_server_ca_file`).
    CaFile(PathBuf),
    /// Against every PEM file in this directory (`--capath`, `tls_server_ca_dir`).
    CaDir(PathBuf),
    /// Not at all: for a murder's self-signed test certificates only.
    Insecure,
}

/// A client configuration.
pub fn client_config(verify: &Verify) -> Result<Arc<ClientConfig>, TlsError> {
    client_config_with_cert(verify, None)
}

/// A client's own certificate: the chain and its key, as PEM files (one file may hold both).
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// A client configuration that presents `cert` when the server asks for one.
pub fn client_config_with_cert(
    verify: &Verify,
    cert: Option<&ClientCert>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match verify {
        Verify::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider()))),
        Verify::CaFile(path) => {
            let mut roots = RootCertStore::empty();
            for c in load_certs(path)? {
                roots.add(c)?;
            }
            builder.with_root_certificates(roots)
        }
        Verify::CaDir(dir) => {
            let mut roots = RootCertStore::empty();
            let entries = std::fs::read_dir(dir).map_err(|source| TlsError::Io {
                path: dir.clone(),
                source,
            })?;
            for e in entries.flatten() {
                if let Ok(certs) = load_certs(&e.path()) {
                    for c in certs {
                        let _ = roots.add(c);
                    }
                }
            }
            builder.with_root_certificates(roots)
        }
    };
    let config = match cert {
        None => builder.with_no_client_auth(),
        Some(c) => builder.with_client_auth_cert(load_certs(&c.cert)?, load_key(&c.key)?)?,
    };
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Paths of a generated CA and a server certificate signed by it.
#[derive(Debug, Clone)]
pub struct GeneratedCerts {
    /// The CA certificate (give it to clients as `--cafile`).
    pub ca_cert: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

/// Writes a CA and a certificate for `names` (DNS names or IP addresses) into `dir`, for a local
/// murder and for tests. Existing files are kept, so a murder restarted from the same directory
/// keeps its certificates.
pub fn generate_certs(dir: &Path, names: &[&str]) -> Result<GeneratedCerts, TlsError> {
    let out = GeneratedCerts {
        ca_cert: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    if out.ca_cert.exists() && out.cert.exists() && out.key.exists() {
        return Ok(out);
    }
    let gen = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let ca_key = rcgen::KeyPair::generate().map_err(gen)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(gen)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "murder test CA");
    let ca = ca_params.self_signed(&ca_key).map_err(gen)?;
    let key = rcgen::KeyPair::generate().map_err(gen)?;
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .map_err(gen)?;
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(gen)?;
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for (path, body) in [
        (&out.ca_cert, ca.pem()),
        (&out.cert, cert.pem()),
        (&out.key, key.serialize_pem()),
    ] {
        std::fs::write(path, body).map_err(|source| TlsError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(out)
}

/// A connection that is plain or TLS, server or client side.
pub enum Stream {
    /// Before STARTTLS, or without TLS.
    Plain(TcpStream),
    /// TLS accepted by us.
    Server(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// TLS initiated by us.
    Client(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Placeholder while an upgrade is in progress.
    Upgrading,
}

impl Stream {
    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Server(_) | Stream::Client(_))
    }

    /// Upgrades a plain server connection (STARTTLS, or an implicit-TLS port).
    pub async fn accept_tls(&mut self, config: Arc<ServerConfig>) -> io::Result<()> {
        match std::mem::replace(self, Stream::Upgrading) {
            Stream::Plain(tcp) => {
                let tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
                *self = Stream::Server(Box::new(tls));
                Ok(())
            }
            other => {
                *self = other;
                Err(io::Error::other("TLS is already active"))
            }
        }
    }

    /// Upgrades a plain client connection.
    pub async fn connect_tls(&mut self, config: Arc<ClientConfig>, host: &str) -> io::Result<()> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        match std::mem::replace(self, Stream::Upgrading) {
            Stream::Plain(tcp) => {
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                *self = Stream::Client(Box::new(tls));
                Ok(())
            }
            other => {
                *self = other;
                Err(io::Error::other("TLS is already active"))
            }
        }
    }
}

fn upgrading() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection lost during TLS upgrade",
    )
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn starttls_round_trip_with_generated_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let certs = generate_certs(dir.path(), &["localhost", "127.0.0.1"]).unwrap();
        let server_cfg = server_config(&certs.cert, &certs.key).unwrap();
        let client_cfg = client_config(&Verify::CaFile(certs.ca_cert.clone())).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = Stream::Plain(tcp);
            s.accept_tls(server_cfg).await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.flush().await.unwrap();
        });
        let mut c = Stream::Plain(TcpStream::connect(addr).await.unwrap());
        c.connect_tls(client_cfg, "localhost").await.unwrap();
        assert!(c.is_tls());
        c.write_all(b"hello").await.unwrap();
        c.flush().await.unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        server.await.unwrap();
        // Regeneration keeps existing files.
        let again = generate_certs(dir.path(), &["other"]).unwrap();
        assert_eq!(
            std::fs::read(&again.cert).unwrap(),
            std::fs::read(&certs.cert).unwrap()
        );
    }
}
