//! Connection plumbing shared by every daemon: the accept loop, and a framed connection that
//! reads whole IMAP-style messages (lines plus literals) through the protocol crate's framer.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use protocol::imap::framing::{Frame, Framer, Limits, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::tls::Stream;

/// Counts live connections, for limits and for status reports.
#[derive(Debug, Default)]
pub struct ConnCounter(AtomicUsize);

impl ConnCounter {
    /// Live connections now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Held for the life of one connection; decrements the counter when dropped.
pub struct ConnGuard(Arc<ConnCounter>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts connections on `listener` until `shutdown` fires, running `handle` for each in its
/// own task. A panic or error in one connection never reaches the others.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    shutdown: CancellationToken,
    counter: Arc<ConnCounter>,
    handle: F,
) where
    F: Fn(Stream, SocketAddr, ConnGuard) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                counter.0.fetch_add(1, Ordering::Relaxed);
                let guard = ConnGuard(counter.clone());
                tokio::spawn(handle(Stream::Plain(tcp), peer, guard));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A connection read as framed messages.
pub struct FramedConn {
    /// The byte stream (plain or TLS).
    pub stream: Stream,
    framer: Framer,
    read_buf: Box<[u8]>,
    /// Output not yet flushed.
    out: Vec<u8>,
}

impl FramedConn {
    /// Wraps a stream; `role` says which side we are.
    pub fn new(stream: Stream, role: Role, limits: Limits) -> Self {
        FramedConn {
            stream,
            framer: Framer::new(role, limits),
            read_buf: vec![0u8; 16 * 1024].into_boxed_slice(),
            out: Vec::with_capacity(4096),
        }
    }

    /// The next frame; `Ok(None)` at end of stream.
    pub async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(f) = self.framer.next() {
                return Ok(Some(f));
            }
            let n = self.stream.read(&mut self.read_buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.framer.enqueue(&self.read_buf[..n]);
        }
    }

    /// Reads one raw line (SASL responses and the like go through the same framer, so a line
    /// is simply a message without literals).
    pub async fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.next_frame().await? {
            None => Ok(None),
            Some(Frame::Message(m)) => Ok(Some(m)),
            Some(Frame::Error(e)) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            // A literal in a SASL response line is not something any client sends.
            Some(Frame::NeedContinuation { .. }) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected literal",
            )),
        }
    }

    /// Queues bytes for sending.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The output buffer, to encode into directly.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Sends what is queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await
    }

    /// Queues and sends.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.queue(bytes);
        self.flush().await
    }

    /// Drops input received but not framed (pipelined after STARTTLS, which must be ignored).
    pub fn discard_input(&mut self) {
        let _ = self.framer.take_buffered();
    }

    /// Whether input is waiting to be framed.
    pub fn has_buffered_input(&self) -> bool {
        !self.framer.is_idle()
    }
}

/// Parses `--listen` values: `HOST:PORT`, `[V6]:PORT` or a bare port (all interfaces).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot listen on {s:?}: expected HOST:PORT or PORT"))
}
