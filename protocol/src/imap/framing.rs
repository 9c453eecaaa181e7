//! Splits an IMAP-style byte stream into whole messages: a line, plus any literals it announces,
//! plus the lines that follow each literal, up to the final line that announces none.
//!
//! Framing comes before parsing so that a malformed command can never desynchronise the stream:
//! even when a message is refused (too long, literal too large), the framer still knows where it
//! ends and the next message starts. MUPDATE uses the same lexical framing as IMAP, so its
//! codec reuses this module.
//!
//! ```
//! use protocol::imap::framing::{Frame, Framer, Limits, Role};
//!
//! let mut f = Framer::new(Role::Server, Limits::default());
//! f.enqueue(b"a1 LOGIN {5}\r\n");
//! assert_eq!(f.next(), Some(Frame::NeedContinuation { len: 5 }));
//! assert_eq!(f.next(), None); // waiting for the literal
//! f.enqueue(b"alice secret\r\n");
//! assert_eq!(f.next(), Some(Frame::Message(b"a1 LOGIN {5}\r\nalice secret\r\n".to_vec())));
//! ```

use std::fmt;

/// Size limits enforced while framing. Exceeding one yields [`Frame::Error`]; the framer never
/// allocates more than these allow, whatever a peer announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest single line, CRLF included, outside literals. Default 64 KiB (Cyrus's `maxword`
    /// and `maxquoted` are 128 KiB, but no legitimate command line comes near either).
    pub max_line: usize,
    /// Largest literal. Default 64 MiB, enough for APPEND of a large message.
    pub max_literal: u64,
    /// Largest whole message (all lines and literals together). Default 80 MiB.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_message: 80 * 1024 * 1024,
        }
    }
}

/// Which side of the connection this framer reads for. It matters for synchronising literals:
/// a client sending `{n}` waits for the server's `+` before the octets, a server never waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We are the server, reading client commands: `{n}` needs a continuation from us.
    Server,
    /// We are the client, reading server responses: literals simply follow.
    Client,
}

/// How a literal was announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralHeader {
    /// Announced length in octets.
    pub len: u64,
    /// `{n}`: the sender waits for a continuation (when it is a client).
    pub sync: bool,
    /// `~{n}`: an RFC 3516 binary literal.
    pub binary: bool,
}

/// One thing the framer found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole message, byte-exact as received: lines with their line ends, literal octets.
    Message(Vec<u8>),
    /// (Server role) the client announced a synchronising literal of this size, within limits;
    /// answer `+ ...` so that it sends the octets. The message continues afterwards.
    NeedContinuation {
        /// The announced literal length.
        len: u64,
    },
    /// The message broke a limit. Its remaining bytes are discarded as they arrive, so the next
    /// frame starts at the next message. The error carries the message's first bytes so the
    /// caller can find the tag and answer `BAD`.
    Error(FrameError),
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// What limit was broken.
    pub kind: FrameErrorKind,
    /// Up to [`FrameError::HEAD_MAX`] first bytes of the message, to recover its tag.
    pub head: Vec<u8>,
}

impl FrameError {
    /// How many leading bytes of a refused message are kept in [`FrameError::head`].
    pub const HEAD_MAX: usize = 1024;
}

/// The limit a refused message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// A line without its CRLF grew beyond [`Limits::max_line`].
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A literal was announced larger than [`Limits::max_literal`].
    LiteralTooLarge {
        /// Announced size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The message as a whole grew beyond [`Limits::max_message`].
    MessageTooLarge {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for FrameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameErrorKind::LineTooLong { max } => write!(f, "line too long (limit {max} octets)"),
            FrameErrorKind::LiteralTooLarge { len, max } => {
                write!(f, "literal of {len} octets too large (limit {max})")
            }
            FrameErrorKind::MessageTooLarge { max } => {
                write!(f, "command too large (limit {max} octets)")
            }
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for FrameError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a line of the current message.
    Line,
    /// Reading the octets of a literal.
    Literal { remaining: u64 },
    /// Discarding the rest of a refused message: the current line...
    SkipLine,
    /// ...or a literal's octets, after which lines are skipped again.
    SkipLiteral { remaining: u64 },
}

/// The incremental framer. Feed bytes with [`Framer::enqueue`], take frames with [`Framer::next`]
/// until it returns `None` (it needs more input).
#[derive(Debug, Clone)]
pub struct Framer {
    role: Role,
    limits: Limits,
    buf: Vec<u8>,
    /// Start of unconsumed input in `buf`; consumed bytes are dropped lazily to keep `next` O(n).
    pos: usize,
    state: State,
    /// The message being assembled.
    msg: Vec<u8>,
    /// Where the current line starts in `msg` (or, when skipping, the tail kept to spot a
    /// literal announcement at the end of a skipped line).
    line_start: usize,
    /// Bytes of the current line already scanned for LF without finding one.
    scanned: usize,
    /// Tail of a line being skipped, to recognise `{n}` at its end.
    skip_tail: Vec<u8>,
    /// A continuation to report before anything else.
    pending_continuation: Option<u64>,
}

/// Longest tail of a skipped line kept to recognise a literal announcement (`~{` + 20 digits +
/// `+}` + CRLF fits).
const SKIP_TAIL: usize = 32;

impl Framer {
    /// A framer for one direction of one connection.
    pub fn new(role: Role, limits: Limits) -> Self {
        Framer {
            role,
            limits,
            buf: Vec::new(),
            pos: 0,
            state: State::Line,
            msg: Vec::new(),
            line_start: 0,
            scanned: 0,
            skip_tail: Vec::new(),
            pending_continuation: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Adds received bytes.
    pub fn enqueue(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 64 * 1024 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a returned frame (including a partial message).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos + self.msg.len()
    }

    /// Whether the framer is between messages (nothing partial held).
    pub fn is_idle(&self) -> bool {
        self.msg.is_empty() && self.state == State::Line && self.pos == self.buf.len()
    }

    /// Takes every byte not yet framed, leaving the framer empty and between messages.
    ///
    /// Used when the stream changes hands: after STARTTLS the plaintext that was pipelined must
    /// be thrown away, and a proxy that stops parsing passes the rest through untouched.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.msg);
        out.extend_from_slice(&self.buf[self.pos..]);
        self.buf.clear();
        self.pos = 0;
        self.state = State::Line;
        self.line_start = 0;
        self.scanned = 0;
        self.skip_tail.clear();
        self.pending_continuation = None;
        out
    }

    /// The next frame, or `None` when more input is needed.
    #[allow(clippy::should_implement_trait)] // not an Iterator: `None` means "feed me", not "done"
    pub fn next(&mut self) -> Option<Frame> {
        if let Some(len) = self.pending_continuation.take() {
            return Some(Frame::NeedContinuation { len });
        }
        loop {
            match self.state {
                State::Line => {
                    let avail = &self.buf[self.pos..];
                    let from = self.scanned.min(avail.len());
                    match memchr::memchr(b'\n', &avail[from..]) {
                        Some(i) => {
                            let end = from + i + 1;
                            let line_len = self.msg.len() - self.line_start + end;
                            if line_len > self.limits.max_line {
                                return Some(self.refuse_in_line(FrameErrorKind::LineTooLong {
                                    max: self.limits.max_line,
                                }));
                            }
                            self.msg.extend_from_slice(&avail[..end]);
                            self.pos += end;
                            self.scanned = 0;
                            if self.msg.len() > self.limits.max_message {
                                let max = self.limits.max_message;
                                let line = self.msg[self.line_start..].to_vec();
                                return Some(self.refuse_after_line(
                                    FrameErrorKind::MessageTooLarge { max },
                                    &line,
                                ));
                            }
                            match literal_header(&self.msg[self.line_start..]) {
                                None => {
                                    self.line_start = 0;
                                    return Some(Frame::Message(std::mem::take(&mut self.msg)));
                                }
                                Some(h) => {
                                    if h.len > self.limits.max_literal
                                        || (self.msg.len() as u64).saturating_add(h.len)
                                            > self.limits.max_message as u64
                                    {
                                        let kind = if h.len > self.limits.max_literal {
                                            FrameErrorKind::LiteralTooLarge {
                                                len: h.len,
                                                max: self.limits.max_literal,
                                            }
                                        } else {
                                            FrameErrorKind::MessageTooLarge {
                                                max: self.limits.max_message,
                                            }
                                        };
                                        return Some(self.refuse_literal(kind, h));
                                    }
                                    self.state = State::Literal { remaining: h.len };
                                    if h.sync && self.role == Role::Server {
                                        return Some(Frame::NeedContinuation { len: h.len });
                                    }
                                }
                            }
                        }
                        None => {
                            let line_len = self.msg.len() - self.line_start + avail.len();
                            if line_len > self.limits.max_line {
                                return Some(self.refuse_in_line(FrameErrorKind::LineTooLong {
                                    max: self.limits.max_line,
                                }));
                            }
                            self.scanned = avail.len();
                            return None;
                        }
                    }
                }
                State::Literal { remaining } => {
                    let avail = &self.buf[self.pos..];
                    if avail.is_empty() {
                        return None;
                    }
                    let take = remaining.min(avail.len() as u64) as usize;
                    self.msg.extend_from_slice(&avail[..take]);
                    self.pos += take;
                    let left = remaining - take as u64;
                    if left > 0 {
                        self.state = State::Literal { remaining: left };
                        return None;
                    }
                    self.state = State::Line;
                    self.line_start = self.msg.len();
                    self.scanned = 0;
                }
                State::SkipLine => {
                    let avail = &self.buf[self.pos..];
                    match memchr::memchr(b'\n', avail) {
                        Some(i) => {
                            let end = i + 1;
                            push_tail(&mut self.skip_tail, &avail[..end]);
                            self.pos += end;
                            match literal_header(&self.skip_tail) {
                                Some(h) if !(h.sync && self.role == Role::Server) => {
                                    self.state = State::SkipLiteral { remaining: h.len };
                                }
                                _ => {
                                    // The refused message ends here (a synchronising literal
                                    // from a client never comes: we did not send `+`).
                                    self.state = State::Line;
                                }
                            }
                            self.skip_tail.clear();
                        }
                        None => {
                            push_tail(&mut self.skip_tail, avail);
                            self.pos = self.buf.len();
                            return None;
                        }
                    }
                }
                State::SkipLiteral { remaining } => {
                    let avail = self.buf.len() - self.pos;
                    if avail == 0 {
                        return None;
                    }
                    let take = remaining.min(avail as u64) as usize;
                    self.pos += take;
                    let left = remaining - take as u64;
                    if left > 0 {
                        self.state = State::SkipLiteral { remaining: left };
                        return None;
                    }
                    self.state = State::SkipLine;
                }
            }
        }
    }

    /// The first bytes of a message refused mid-line: what is assembled plus the current line
    /// up to the line limit. Every one of those bytes is already buffered when the limit trips,
    /// so the head does not depend on how the input was chunked.
    fn head(&self) -> Vec<u8> {
        let mut head = self.msg[..self.msg.len().min(FrameError::HEAD_MAX)].to_vec();
        let line_so_far = self.msg.len() - self.line_start;
        let rest = &self.buf[self.pos..];
        let more = (FrameError::HEAD_MAX - head.len())
            .min(self.limits.max_line.saturating_sub(line_so_far))
            .min(rest.len());
        head.extend_from_slice(&rest[..more]);
        head
    }

    /// Refuses the message while its current line is still incomplete in the buffer.
    fn refuse_in_line(&mut self, kind: FrameErrorKind) -> Frame {
        let head = self.head();
        self.msg.clear();
        self.line_start = 0;
        self.scanned = 0;
        self.skip_tail.clear();
        self.state = State::SkipLine;
        Frame::Error(FrameError { kind, head })
    }

    /// Refuses the message after a whole line has been taken into `msg`.
    fn refuse_after_line(&mut self, kind: FrameErrorKind, line: &[u8]) -> Frame {
        let head = self.msg[..self.msg.len().min(FrameError::HEAD_MAX)].to_vec();
        self.msg.clear();
        self.line_start = 0;
        self.skip_tail.clear();
        match literal_header(line) {
            Some(h) if !(h.sync && self.role == Role::Server) => {
                self.state = State::SkipLiteral { remaining: h.len };
            }
            _ => self.state = State::Line,
        }
        Frame::Error(FrameError { kind, head })
    }

    fn refuse_literal(&mut self, kind: FrameErrorKind, h: LiteralHeader) -> Frame {
        let head = self.msg[..self.msg.len().min(FrameError::HEAD_MAX)].to_vec();
        self.msg.clear();
        self.line_start = 0;
        self.skip_tail.clear();
        self.state = if h.sync && self.role == Role::Server {
            // The client waits for our `+`, which it will not get: the message ends here.
            State::Line
        } else {
            State::SkipLiteral { remaining: h.len }
        };
        Frame::Error(FrameError { kind, head })
    }
}

fn push_tail(tail: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() >= SKIP_TAIL {
        tail.clear();
        tail.extend_from_slice(&bytes[bytes.len() - SKIP_TAIL..]);
    } else {
        tail.extend_from_slice(bytes);
        if tail.len() > SKIP_TAIL {
            tail.drain(..tail.len() - SKIP_TAIL);
        }
    }
}

/// The literal announced at the end of `line` (which ends in LF), if any: `{n}`, `{n+}`, `~{n}`
/// (and `~{n+}`). Lengths that overflow `u64` are not literals.
pub fn literal_header(line: &[u8]) -> Option<LiteralHeader> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let (inner, sync) = match inner.strip_suffix(b"+") {
        Some(rest) => (rest, false),
        None => (inner, true),
    };
    let digits_start = inner.iter().rposition(|b| !b.is_ascii_digit())?;
    if inner[digits_start] != b'{' {
        return None;
    }
    let digits = &inner[digits_start + 1..];
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut len: u64 = 0;
    for &d in digits {
        len = len.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    let binary = digits_start > 0 && inner[digits_start - 1] == b'~';
    Some(LiteralHeader { len, sync, binary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(role: Role, limits: Limits, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(role, limits);
        let mut out = Vec::new();
        for c in chunks {
            f.enqueue(c);
            while let Some(fr) = f.next() {
                out.push(fr);
            }
        }
        out
    }

    fn at_every_split(role: Role, limits: Limits, input: &[u8]) -> Vec<Frame> {
        let whole = frames(role, limits, &[input]);
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(frames(role, limits, &[a, b]), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frames(role, limits, &bytes), whole, "byte at a time");
        whole
    }

    fn msg(b: &[u8]) -> Frame {
        Frame::Message(b.to_vec())
    }

    #[test]
    fn plain_lines_are_messages() {
        let got = at_every_split(Role::Server, Limits::default(), b"a NOOP\r\nb CAPABILITY\n");
        assert_eq!(got, vec![msg(b"a NOOP\r\n"), msg(b"b CAPABILITY\n")]);
    }

    #[test]
    fn sync_literal_asks_for_continuation_on_server() {
        let got = at_every_split(
            Role::Server,
            Limits::default(),
            b"A003 APPEND saved-messages (\\Seen) {10}\r\n0123456789\r\nA004 NOOP\r\n",
        );
        assert_eq!(
            got,
            vec![
                Frame::NeedContinuation { len: 10 },
                msg(b"A003 APPEND saved-messages (\\Seen) {10}\r\n0123456789\r\n"),
                msg(b"A004 NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn client_role_never_asks() {
        let got = at_every_split(
            Role::Client,
            Limits::default(),
            b"* 12 FETCH (BODY[HEADER] {3}\r\nab\n)\r\n",
        );
        assert_eq!(got, vec![msg(b"* 12 FETCH (BODY[HEADER] {3}\r\nab\n)\r\n")]);
    }

    #[test]
    fn non_sync_and_binary_literals() {
        let got = at_every_split(
            Role::Server,
            Limits::default(),
            b"a LOGIN {5+}\r\nalice ~{3}\r\nx\r\n\r\n",
        );
        assert_eq!(
            got,
            vec![
                Frame::NeedContinuation { len: 3 },
                msg(b"a LOGIN {5+}\r\nalice ~{3}\r\nx\r\n\r\n")
            ]
        );
        let h = literal_header(b"x ~{3}\r\n").unwrap();
        assert!(h.binary && h.sync && h.len == 3);
    }

    #[test]
    fn literal_bytes_may_contain_line_ends_and_braces() {
        let got = at_every_split(
            Role::Client,
            Limits::default(),
            b"* X {7}\r\n{2}\r\n\r\n\r\n",
        );
        assert_eq!(got, vec![msg(b"* X {7}\r\n{2}\r\n\r\n\r\n")]);
    }

    #[test]
    fn huge_sync_literal_is_refused_without_allocation() {
        let got = at_every_split(
            Role::Server,
            Limits::default(),
            b"a APPEND INBOX {1073741824}\r\nb NOOP\r\n",
        );
        assert_eq!(got.len(), 2);
        match &got[0] {
            Frame::Error(e) => {
                assert!(matches!(
                    e.kind,
                    FrameErrorKind::LiteralTooLarge {
                        len: 1073741824,
                        ..
                    }
                ));
                assert!(e.head.starts_with(b"a APPEND"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(got[1], msg(b"b NOOP\r\n"));
    }

    #[test]
    fn huge_non_sync_literal_is_skipped_to_the_end_of_the_message() {
        let limits = Limits {
            max_literal: 4,
            ..Limits::default()
        };
        let got = at_every_split(
            Role::Server,
            limits,
            b"a APPEND INBOX {6+}\r\nhello\n more {2+}\r\nxy\r\nb NOOP\r\n",
        );
        assert!(
            matches!(&got[0], Frame::Error(e) if matches!(e.kind, FrameErrorKind::LiteralTooLarge { len: 6, max: 4 }))
        );
        assert_eq!(&got[1..], &[msg(b"b NOOP\r\n")]);
    }

    #[test]
    fn long_line_is_refused_and_the_stream_recovers() {
        let limits = Limits {
            max_line: 16,
            ..Limits::default()
        };
        let mut input = b"a LOGIN ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 40));
        input.extend_from_slice(b" {3+}\r\nabc\r\nb NOOP\r\n");
        let got = at_every_split(Role::Server, limits, &input);
        assert!(matches!(&got[0], Frame::Error(e) if e.head.starts_with(b"a LOGIN")));
        assert_eq!(&got[1..], &[msg(b"b NOOP\r\n")]);
    }

    #[test]
    fn message_limit_counts_literals() {
        let limits = Limits {
            max_message: 20,
            ..Limits::default()
        };
        let got = at_every_split(
            Role::Client,
            limits,
            b"* A {30}\r\n012345678901234567890123456789\r\n* OK\r\n",
        );
        assert!(
            matches!(&got[0], Frame::Error(e) if matches!(e.kind, FrameErrorKind::MessageTooLarge { .. }))
        );
        assert_eq!(&got[1..], &[msg(b"* OK\r\n")]);
    }

    #[test]
    fn take_buffered_returns_the_unframed_rest() {
        let mut f = Framer::new(Role::Server, Limits::default());
        f.enqueue(b"a STARTTLS\r\nb LOGIN x y\r\nc NO");
        assert_eq!(f.next(), Some(msg(b"a STARTTLS\r\n")));
        assert_eq!(f.take_buffered(), b"b LOGIN x y\r\nc NO".to_vec());
        assert!(f.is_idle());
        assert_eq!(f.next(), None);
    }

    #[test]
    fn literal_header_rejects_non_literals() {
        for l in [
            &b"a {}\r\n"[..],
            b"a {x}\r\n",
            b"a {1}x\r\n",
            b"a 1}\r\n",
            b"no newline {1}",
            b"{99999999999999999999999}\r\n",
        ] {
            assert_eq!(literal_header(l), None, "{:?}", String::from_utf8_lossy(l));
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_and_all_bytes_are_accounted(data in proptest::collection::vec(any::<u8>(), 0..2048), split in 0usize..2048) {
            let limits = Limits { max_line: 64, max_literal: 128, max_message: 512 };
            for role in [Role::Server, Role::Client] {
                let s = split.min(data.len());
                let a = frames(role, limits, &[&data]);
                let b = frames(role, limits, &[&data[..s], &data[s..]]);
                prop_assert_eq!(&a, &b);
                for fr in &a {
                    if let Frame::Message(m) = fr {
                        prop_assert!(m.len() <= 512);
                    }
                }
            }
        }

        #[test]
        fn messages_concatenate_back_to_the_input(lines in proptest::collection::vec("[a-zA-Z0-9 ]{0,20}", 1..10)) {
            let mut input = Vec::new();
            for l in &lines {
                input.extend_from_slice(l.as_bytes());
                input.extend_from_slice(b"\r\n");
            }
            let out = frames(Role::Client, Limits::default(), &[&input]);
            let mut joined = Vec::new();
            for fr in out {
                if let Frame::Message(m) = fr { joined.extend(m) }
            }
            prop_assert_eq!(joined, input);
        }
    }
}
