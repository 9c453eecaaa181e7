//! MIME value codecs (`protocol::mime`): base64, quoted-printable, charsets, RFC 2047 encoded
//! words, dates, address lists and header fields, on arbitrary bytes. Encoders must invert
//! the decoders: base64 exactly, quoted-printable up to line ends (bare LF becomes CRLF),
//! encoded words, dates, and address lists that were parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::mime::codec::{
    decode_base64, decode_quoted_printable, encode_base64, encode_quoted_printable, to_utf8,
};
use protocol::mime::header::{fields, filter, first, last, split, unfold};
use protocol::mime::{
    contains_ignore_case, decode_words, encode_words, format_date, headers, parse_addresses,
    parse_date, plain_addresses, unix_time, write_addresses, TransferEncoding,
};

/// Bare LF made CRLF: what a quoted-printable round trip preserves.
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 8);
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // Transfer encodings.
    let _ = decode_base64(data);
    assert_eq!(
        decode_base64(&encode_base64(data)),
        data,
        "base64 round trip"
    );
    let _ = decode_quoted_printable(data);
    let qp = encode_quoted_printable(data);
    assert_eq!(
        decode_quoted_printable(&qp),
        crlf(data),
        "quoted-printable round trip via {:?}",
        String::from_utf8_lossy(&qp)
    );
    if let Some(te) = TransferEncoding::from_name(data) {
        let _ = te.decode(data);
    }
    for cs in [
        &b"utf-8"[..],
        b"iso-8859-1",
        b"us-ascii",
        b"x-unknown",
        data,
    ] {
        let _ = to_utf8(cs, data);
    }

    // Encoded words.
    let text = String::from_utf8_lossy(data);
    let _ = decode_words(data);
    let enc = encode_words(&text);
    assert_eq!(
        decode_words(enc.as_bytes()),
        text,
        "encoded word via {enc:?}"
    );

    // Dates.
    if let Ok(d) = parse_date(data) {
        let _ = unix_time(d);
        let printed = format_date(d);
        assert_eq!(
            parse_date(printed.as_bytes()),
            Ok(d),
            "date via {printed:?}"
        );
    }

    // Address lists.
    let addrs = parse_addresses(data);
    let _ = plain_addresses(data);
    let written = write_addresses(&addrs);
    assert_eq!(
        parse_addresses(&written),
        addrs,
        "addresses via {:?}",
        String::from_utf8_lossy(&written)
    );

    // Header fields.
    let (h, _) = split(data);
    for f in fields(h) {
        let _ = (
            f.name(),
            f.raw_value(),
            f.raw(),
            f.value(),
            f.is(b"subject"),
        );
    }
    let _ = (
        headers(data),
        unfold(data),
        first(h, b"From"),
        last(h, b"Date"),
    );
    let names = vec![b"Subject".to_vec(), b"X-".to_vec()];
    let kept = filter(h, &names, false);
    let dropped = filter(h, &names, true);
    assert!(kept.ends_with(b"\r\n") && dropped.ends_with(b"\r\n"));

    // Case-insensitive search.
    if let Some((hay, needle)) = text.split_once('\u{0}') {
        let _ = contains_ignore_case(hay, needle);
    }
});
