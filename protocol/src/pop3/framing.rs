//! Line framing and dot-terminated bodies, shared by POP3 and LMTP.
//!
//! Both protocols are line based and carry message data as a dot-stuffed block that ends with a
//! line holding a single `.` (POP3 multi-line responses, RFC 1939 §3; LMTP/SMTP `DATA`, RFC 5321
//! §4.5.2). [`Framer`] is the one place that splits a byte stream into those pieces:
//!
//! * in line mode it yields one line at a time (CRLF or bare LF), never holding more than the
//!   line limit; an overlong line is reported once as [`FrameError::LineTooLong`] and skipped up
//!   to its end, so the session can answer `-ERR` / `500` and carry on;
//! * after [`Framer::begin_body`] it yields the body in chunks as they arrive, with the stuffing
//!   dots removed, then [`Frame::BodyEnd`], and falls back to line mode. A body over its size
//!   limit yields [`FrameError::BodyTooLarge`] once and is then discarded up to its end, so an
//!   LMTP server can still answer `552` in step with the client.
//!
//! [`DotStuffer`] is the encoder: it stuffs dots, turns bare LF into CRLF and writes the
//! terminating `.\r\n`, also in chunks, so a 50 MB message is never held whole.
//!
//! ```
//! use protocol::pop3::framing::{Frame, Framer};
//!
//! let mut f = Framer::new(255);
//! f.push(b"RETR 1\r\n");
//! assert_eq!(f.next(), Some(Ok(Frame::Line(b"RETR 1".to_vec()))));
//! f.begin_body(None);
//! f.push(b"..dot\r\nbody\r\n.\r\nNOOP\r\n");
//! assert_eq!(f.next(), Some(Ok(Frame::BodyChunk(b".dot\r\nbody\r\n".to_vec()))));
//! assert_eq!(f.next(), Some(Ok(Frame::BodyEnd)));
//! assert_eq!(f.next(), Some(Ok(Frame::Line(b"NOOP".to_vec()))));
//! ```

/// One piece of the input stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole line without its CRLF (or bare LF). A CR inside the line is kept.
    Line(Vec<u8>),
    /// Body bytes with the stuffing dots removed and line endings as received.
    BodyChunk(Vec<u8>),
    /// The terminating `.` line was read; the framer is back in line mode.
    BodyEnd,
}

/// What went wrong while framing. Both variants are recoverable: the framer has already
/// resynchronised and the next call to [`Framer::next`] continues with the following data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A line was longer than the limit (counting its line ending); it was skipped.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The body grew past its limit; the rest is discarded up to the terminating `.` line,
    /// after which [`Frame::BodyEnd`] follows.
    #[error("message larger than {limit} octets")]
    BodyTooLarge {
        /// The limit in force.
        limit: usize,
    },
}

/// Where the body decoder stands relative to line starts; the terminator and stuffing dots can
/// only be recognised at the start of a line, and may be split across chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DotState {
    LineStart,
    Mid,
    /// A `.` at the start of a line, not yet known to be stuffing or the terminator.
    Dot,
    /// `.` then CR at the start of a line.
    DotCr,
}

#[derive(Debug, Clone)]
struct Body {
    state: DotState,
    limit: Option<usize>,
    size: usize,
    oversized: bool,
    error_pending: bool,
    finished: bool,
}

#[derive(Debug, Clone)]
enum Mode {
    /// `discarding` is set while the rest of an overlong line is being skipped.
    Line {
        discarding: bool,
    },
    Body(Body),
}

/// A sans-I/O framer: feed bytes with [`push`](Framer::push), take frames with
/// [`next`](Framer::next) until it returns `None`, then read more.
///
/// Memory stays bounded by the line limit plus whatever one `push` delivered: an unterminated
/// line is dropped as soon as it passes the limit, and body bytes are handed out as soon as they
/// are known not to be part of the terminator.
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed; compacted on the next push to keep removal cheap.
    pos: usize,
    mode: Mode,
    max_line: usize,
}

impl Framer {
    /// A framer in line mode whose lines may be at most `max_line` octets including the line
    /// ending (POP3 commands: 255 by RFC 2449; SMTP/LMTP commands: 512 by RFC 5321).
    pub fn new(max_line: usize) -> Self {
        Framer {
            buf: Vec::new(),
            pos: 0,
            mode: Mode::Line { discarding: false },
            max_line: max_line.max(1),
        }
    }

    /// The line limit in force.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Change the line limit (for example while reading long SASL responses).
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line.max(1);
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Switch to body mode: the following bytes are a dot-terminated block. `limit` caps the
    /// decoded size (`None`: no cap). Call it right after the line that announces the body
    /// (`+OK` to RETR/TOP/LIST/UIDL/CAPA, or after sending `354` to DATA).
    pub fn begin_body(&mut self, limit: Option<usize>) {
        self.mode = Mode::Body(Body {
            state: DotState::LineStart,
            limit,
            size: 0,
            oversized: false,
            error_pending: false,
            finished: false,
        });
    }

    /// True while a body is being read.
    pub fn in_body(&self) -> bool {
        matches!(self.mode, Mode::Body(_))
    }

    /// Bytes received but not yet framed. After STARTTLS/STLS these must be discarded (see
    /// [`clear`](Framer::clear)): anything a client pipelined before the handshake was sent in
    /// clear text and must not be acted upon.
    pub fn buffered(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Drop buffered input and return to line mode.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.mode = Mode::Line { discarding: false };
    }

    /// The next frame, or `None` when more input is needed.
    #[allow(clippy::should_implement_trait)] // not an Iterator: `None` means "need more input"
    pub fn next(&mut self) -> Option<Result<Frame, FrameError>> {
        match self.mode {
            Mode::Line { discarding } => self.next_line(discarding),
            Mode::Body(_) => self.next_body(),
        }
    }

    fn next_line(&mut self, mut discarding: bool) -> Option<Result<Frame, FrameError>> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    let end = self.pos.saturating_add(lf).saturating_add(1);
                    if discarding {
                        // The error was reported when the line passed the limit.
                        self.pos = end;
                        discarding = false;
                        self.mode = Mode::Line { discarding: false };
                        continue;
                    }
                    let total = lf.saturating_add(1);
                    let line = rest.get(..lf).unwrap_or_default();
                    let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
                    self.pos = end;
                    if total > self.max_line {
                        return Some(Err(FrameError::LineTooLong {
                            limit: self.max_line,
                        }));
                    }
                    return Some(Ok(Frame::Line(line)));
                }
                None => {
                    if discarding {
                        self.pos = self.buf.len();
                        return None;
                    }
                    // Without a LF the line will be at least one octet longer than this.
                    if rest.len() >= self.max_line {
                        self.pos = self.buf.len();
                        self.mode = Mode::Line { discarding: true };
                        return Some(Err(FrameError::LineTooLong {
                            limit: self.max_line,
                        }));
                    }
                    return None;
                }
            }
        }
    }

    fn next_body(&mut self) -> Option<Result<Frame, FrameError>> {
        let Mode::Body(body) = &mut self.mode else {
            return None;
        };
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let mut out = Vec::new();
        let mut used = 0usize;
        if !body.finished {
            for &b in rest {
                used = used.saturating_add(1);
                if body.step(b, &mut out) {
                    body.finished = true;
                    break;
                }
            }
        }
        self.pos = self.pos.saturating_add(used);
        if !out.is_empty() {
            return Some(Ok(Frame::BodyChunk(out)));
        }
        if body.error_pending {
            body.error_pending = false;
            return Some(Err(FrameError::BodyTooLarge {
                limit: body.limit.unwrap_or(0),
            }));
        }
        if body.finished {
            self.mode = Mode::Line { discarding: false };
            return Some(Ok(Frame::BodyEnd));
        }
        None
    }
}

impl Body {
    /// Feed one byte; returns true when it completed the terminator line.
    fn step(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        match self.state {
            DotState::LineStart => {
                if b == b'.' {
                    self.state = DotState::Dot;
                } else {
                    self.emit(b, out);
                    self.state = if b == b'\n' {
                        DotState::LineStart
                    } else {
                        DotState::Mid
                    };
                }
            }
            DotState::Mid => {
                self.emit(b, out);
                if b == b'\n' {
                    self.state = DotState::LineStart;
                }
            }
            DotState::Dot => match b {
                b'\r' => self.state = DotState::DotCr,
                b'\n' => return true,
                _ => {
                    // The leading dot was stuffing: drop it, keep the rest of the line.
                    self.emit(b, out);
                    self.state = DotState::Mid;
                }
            },
            DotState::DotCr => {
                if b == b'\n' {
                    return true;
                }
                // "." CR <other>: not the terminator; the dot was stuffing, the CR is data.
                self.emit(b'\r', out);
                self.emit(b, out);
                self.state = DotState::Mid;
            }
        }
        false
    }

    fn emit(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.oversized {
            return;
        }
        if let Some(limit) = self.limit {
            if self.size >= limit {
                self.oversized = true;
                self.error_pending = true;
                return;
            }
        }
        self.size = self.size.saturating_add(1);
        out.push(b);
    }
}

/// Streaming encoder for a dot-terminated body.
///
/// Writes data with a `.` doubled at the start of every line, bare LF turned into CRLF, and on
/// [`finish`](DotStuffer::finish) a final CRLF if the data did not end with one, then `.\r\n`.
/// A bare CR not followed by LF is passed through (it carries no line break in RFC 5322 terms);
/// a CR at the very end of the data is completed to CRLF.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    at_line_start: bool,
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A new encoder, positioned at the start of a line.
    pub fn new() -> Self {
        DotStuffer {
            at_line_start: true,
            pending_cr: false,
        }
    }

    /// Encode one chunk of message data into `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        out.reserve(data.len().saturating_add(data.len() / 32));
        for &b in data {
            match b {
                b'\r' => {
                    if self.pending_cr {
                        out.push(b'\r');
                        self.at_line_start = false;
                    }
                    self.pending_cr = true;
                }
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.pending_cr = false;
                    self.at_line_start = true;
                }
                _ => {
                    if self.pending_cr {
                        out.push(b'\r');
                        self.pending_cr = false;
                        self.at_line_start = false;
                    }
                    if self.at_line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.at_line_start = false;
                }
            }
        }
    }

    /// Complete the last line and write the terminator.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// Encode a whole message as a dot-terminated body (see [`DotStuffer`]).
pub fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    let mut s = DotStuffer::new();
    s.push(message, out);
    s.finish(out);
}

/// Encode lines (without line endings) as a dot-terminated body, as for a CAPA, LIST or UIDL
/// listing.
pub fn encode_lines<I, S>(lines: I, out: &mut Vec<u8>)
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut s = DotStuffer::new();
    for line in lines {
        s.push(line.as_ref(), out);
        s.push(b"\r\n", out);
    }
    s.finish(out);
}

/// Split a decoded body into lines (CRLF or LF separated, the last line ending optional).
pub fn body_lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let empty = body.is_empty();
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(move |_| !empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Run the framer over `input` pushed in the given pieces; collapse adjacent body chunks
    /// so results compare independent of chunking.
    fn run(
        pieces: &[&[u8]],
        max_line: usize,
        body_after_line: Option<Option<usize>>,
    ) -> Vec<Result<Frame, FrameError>> {
        let mut f = Framer::new(max_line);
        let mut out: Vec<Result<Frame, FrameError>> = Vec::new();
        for p in pieces {
            f.push(p);
            while let Some(r) = f.next() {
                if let (Ok(Frame::Line(_)), Some(limit)) = (&r, body_after_line) {
                    if !f.in_body() && !out.iter().any(|x| matches!(x, Ok(Frame::Line(_)))) {
                        f.begin_body(limit);
                    }
                }
                match (out.last_mut(), r) {
                    (Some(Ok(Frame::BodyChunk(prev))), Ok(Frame::BodyChunk(more))) => {
                        prev.extend(more)
                    }
                    (_, r) => out.push(r),
                }
            }
        }
        out
    }

    fn every_split(
        input: &[u8],
        max_line: usize,
        body: Option<Option<usize>>,
    ) -> Vec<Result<Frame, FrameError>> {
        let whole = run(&[input], max_line, body);
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run(&[a, b], max_line, body), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytes, max_line, body), whole, "byte at a time");
        whole
    }

    #[test]
    fn lines_accept_crlf_and_bare_lf() {
        let r = every_split(b"USER a\r\nPASS b c\nQUIT\r\n", 255, None);
        assert_eq!(
            r,
            vec![
                Ok(Frame::Line(b"USER a".to_vec())),
                Ok(Frame::Line(b"PASS b c".to_vec())),
                Ok(Frame::Line(b"QUIT".to_vec())),
            ]
        );
    }

    #[test]
    fn overlong_line_is_reported_once_and_skipped() {
        let mut input = vec![b'x'; 40];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let r = every_split(&input, 10, None);
        assert_eq!(
            r,
            vec![
                Err(FrameError::LineTooLong { limit: 10 }),
                Ok(Frame::Line(b"NOOP".to_vec()))
            ]
        );
    }

    #[test]
    fn line_exactly_at_limit_is_accepted() {
        // 8 octets + CRLF = 10 = limit.
        assert_eq!(
            every_split(b"12345678\r\n", 10, None),
            vec![Ok(Frame::Line(b"12345678".to_vec()))]
        );
        assert_eq!(
            every_split(b"123456789\n", 10, None),
            vec![Ok(Frame::Line(b"123456789".to_vec()))]
        );
        assert_eq!(
            every_split(b"123456789\r\n", 10, None),
            vec![Err(FrameError::LineTooLong { limit: 10 })]
        );
    }

    #[test]
    fn unterminated_overlong_line_does_not_grow_the_buffer() {
        let mut f = Framer::new(100);
        f.push(&[b'a'; 150]);
        assert_eq!(f.next(), Some(Err(FrameError::LineTooLong { limit: 100 })));
        for _ in 0..1000 {
            f.push(&[b'a'; 1000]);
            assert_eq!(f.next(), None);
            assert!(f.buffered().is_empty());
        }
        f.push(b"\r\nQUIT\r\n");
        assert_eq!(f.next(), Some(Ok(Frame::Line(b"QUIT".to_vec()))));
    }

    #[test]
    fn body_is_unstuffed_and_ends_at_dot_line() {
        let input = b"+OK\r\nline1\r\n..dot\r\n...two\r\n.x\r\n\r\n.\r\nNEXT\r\n";
        let r = every_split(input, 255, Some(None));
        assert_eq!(
            r,
            vec![
                Ok(Frame::Line(b"+OK".to_vec())),
                Ok(Frame::BodyChunk(
                    b"line1\r\n.dot\r\n..two\r\nx\r\n\r\n".to_vec()
                )),
                Ok(Frame::BodyEnd),
                Ok(Frame::Line(b"NEXT".to_vec())),
            ]
        );
    }

    #[test]
    fn empty_body_and_bare_lf_terminator() {
        assert_eq!(
            every_split(b"+OK\r\n.\r\n", 255, Some(None)),
            vec![Ok(Frame::Line(b"+OK".to_vec())), Ok(Frame::BodyEnd)]
        );
        assert_eq!(
            every_split(b"+OK\na\n.\nQ\n", 255, Some(None)),
            vec![
                Ok(Frame::Line(b"+OK".to_vec())),
                Ok(Frame::BodyChunk(b"a\n".to_vec())),
                Ok(Frame::BodyEnd),
                Ok(Frame::Line(b"Q".to_vec())),
            ]
        );
    }

    #[test]
    fn dot_cr_without_lf_is_data() {
        assert_eq!(
            every_split(b"+OK\r\n.\rx\r\n.\r\n", 255, Some(None)),
            vec![
                Ok(Frame::Line(b"+OK".to_vec())),
                Ok(Frame::BodyChunk(b"\rx\r\n".to_vec())),
                Ok(Frame::BodyEnd),
            ]
        );
    }

    #[test]
    fn oversized_body_reports_once_then_finds_the_end() {
        let input = b"DATA\r\n0123456789\r\nabcdef\r\n.\r\nQUIT\r\n";
        let r = every_split(input, 255, Some(Some(8)));
        assert_eq!(
            r,
            vec![
                Ok(Frame::Line(b"DATA".to_vec())),
                Ok(Frame::BodyChunk(b"01234567".to_vec())),
                Err(FrameError::BodyTooLarge { limit: 8 }),
                Ok(Frame::BodyEnd),
                Ok(Frame::Line(b"QUIT".to_vec())),
            ]
        );
        // Exactly at the limit is fine.
        let r = every_split(b"DATA\r\n123456\r\n.\r\n", 255, Some(Some(8)));
        assert_eq!(
            r,
            vec![
                Ok(Frame::Line(b"DATA".to_vec())),
                Ok(Frame::BodyChunk(b"123456\r\n".to_vec())),
                Ok(Frame::BodyEnd)
            ]
        );
    }

    #[test]
    fn body_lines_are_never_subject_to_the_line_limit() {
        let mut input = b"+OK\r\n".to_vec();
        input.extend_from_slice(&[b'z'; 5000]);
        input.extend_from_slice(b"\r\n.\r\n");
        let r = run(&[&input], 10, Some(None));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn stuffing_known_answers() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a\n.b\n.\n", b"a\r\n..b\r\n..\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b"x\ry", b"x\ry\r\n.\r\n"),
            (b"x\r", b"x\r\n.\r\n"),
            (b"\r\r\n", b"\r\r\n.\r\n"),
        ];
        for (input, want) in cases {
            let mut out = Vec::new();
            dot_stuff(input, &mut out);
            assert_eq!(&out, want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn encode_lines_stuffs_each_line() {
        let mut out = Vec::new();
        encode_lines(["TOP", ".hidden"], &mut out);
        assert_eq!(out, b"TOP\r\n..hidden\r\n.\r\n");
        assert_eq!(
            body_lines(b"TOP\r\n.hidden\r\n").collect::<Vec<_>>(),
            vec![&b"TOP"[..], b".hidden"]
        );
        assert_eq!(body_lines(b"").count(), 0);
    }

    /// Reference normalisation matching the encoder: bare LF -> CRLF, last line completed.
    fn normalised(m: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < m.len() {
            match m[i] {
                b'\n' => out.extend_from_slice(b"\r\n"),
                b'\r' if m.get(i + 1) == Some(&b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    i += 1;
                }
                b => out.push(b),
            }
            i += 1;
        }
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            if out.ends_with(b"\r") {
                out.push(b'\n');
            } else {
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    proptest! {
        #[test]
        fn stuff_then_decode_gives_normalised_message(
            msg in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(0usize..400, 0..4),
        ) {
            let mut enc = Vec::new();
            let mut s = DotStuffer::new();
            // Encode in pieces too: the encoder is streaming.
            let mut last = 0;
            let mut cuts = cuts.into_iter().map(|c| c.min(msg.len())).collect::<Vec<_>>();
            cuts.sort_unstable();
            for c in cuts {
                s.push(&msg[last..c], &mut enc);
                last = c;
            }
            s.push(&msg[last..], &mut enc);
            s.finish(&mut enc);
            let mut f = Framer::new(16);
            f.begin_body(None);
            f.push(&enc);
            f.push(b"AFTER\r\n");
            let mut body = Vec::new();
            loop {
                match f.next() {
                    Some(Ok(Frame::BodyChunk(c))) => body.extend(c),
                    Some(Ok(Frame::BodyEnd)) => break,
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            prop_assert_eq!(body, normalised(&msg));
            prop_assert_eq!(f.next(), Some(Ok(Frame::Line(b"AFTER".to_vec()))));
        }

        #[test]
        fn framer_never_panics_and_stays_bounded(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10),
            limit in 1usize..64,
            body_limit in proptest::option::of(0usize..100),
        ) {
            let mut f = Framer::new(limit);
            for (i, p) in pieces.iter().enumerate() {
                f.push(p);
                if i % 3 == 1 && !f.in_body() {
                    f.begin_body(body_limit);
                }
                while let Some(r) = f.next() {
                    if let Ok(Frame::Line(l)) = r {
                        prop_assert!(l.len() < limit);
                    }
                }
                prop_assert!(f.buffered().len() <= limit);
            }
        }
    }
}
