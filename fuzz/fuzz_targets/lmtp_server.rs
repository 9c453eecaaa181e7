//! LMTP server side (`protocol::lmtp::ServerCodec`): arbitrary bytes read as commands, with
//! DATA mode begun after each `DATA` (as a server does after sending 354) and SASL lines read
//! by a fuzzer-chosen pattern, must give the same events whole, split at a fuzzer-chosen point
//! and a byte at a time (data chunks compared after concatenation). Every command read must
//! round-trip, and every error must map to a reply that reads back.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, Input};
use libfuzzer_sys::fuzz_target;
use protocol::lmtp::{ClientCodec, Command, Error, Limits, SaslResponse, ServerCodec, ServerEvent};

#[derive(Debug, PartialEq)]
enum Item {
    Event(Result<ServerEvent, Error>),
    Sasl(Result<SaslResponse, Error>),
}

fn read(limits: Limits, mask: u16, data_limit: Option<usize>, chunks: &[&[u8]]) -> Vec<Item> {
    let mut s = ServerCodec::new(limits);
    let mut out: Vec<Item> = Vec::new();
    for c in chunks {
        s.push(c);
        loop {
            let sasl = !s.in_data() && mask & (1 << (out.len() % 16)) != 0;
            let item = if sasl {
                s.next_sasl_response().map(Item::Sasl)
            } else {
                s.next().map(Item::Event)
            };
            let Some(item) = item else { break };
            if let Item::Event(Ok(ServerEvent::Command(Command::Data))) = &item {
                s.begin_data(data_limit);
            }
            if let (
                Some(Item::Event(Ok(ServerEvent::DataChunk(prev)))),
                Item::Event(Ok(ServerEvent::DataChunk(more))),
            ) = (out.last_mut(), &item)
            {
                prev.extend_from_slice(more);
                continue;
            }
            out.push(item);
        }
    }
    let _ = s.buffered();
    s.clear();
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = if input.flag() {
        Limits::default()
    } else {
        Limits {
            command_line: usize::from(input.u16() % 4096),
            sasl_line: usize::from(input.u16() % 4096),
            ..Limits::default()
        }
    };
    let mask = input.u16();
    let data_limit = match input.u16() {
        0 => None,
        n => Some(usize::from(n % 4096)),
    };
    let chosen = input.u16();
    let data = input.rest();
    let at = split_at(data.len(), chosen);
    assert_split_invariant(data, at, 2048, "lmtp ServerCodec", |chunks| {
        read(limits, mask, data_limit, chunks)
    });
    for item in read(limits, mask, data_limit, &[data]) {
        match item {
            Item::Event(Ok(ServerEvent::Command(cmd))) => {
                let _ = cmd.verb();
                let mut wire = Vec::new();
                cmd.encode(&mut wire);
                let line = wire
                    .strip_suffix(b"\r\n")
                    .expect("encoded command ends in CRLF");
                assert_eq!(
                    Command::parse(line).as_ref(),
                    Ok(&cmd),
                    "round trip via {:?}",
                    String::from_utf8_lossy(&wire)
                );
            }
            Item::Event(Err(e)) | Item::Sasl(Err(e)) => {
                let reply = e.reply();
                let mut c = ClientCodec::new(Limits::default());
                c.push(&reply.to_bytes());
                assert_eq!(c.next_reply(), Some(Ok(reply)), "error reply for {e:?}");
            }
            _ => {}
        }
    }
});
