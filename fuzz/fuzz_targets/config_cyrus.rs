//! `cyrus.conf` reader (`protocol::config::cyrus::CyrusConf`): arbitrary text, with default
//! or small limits. A conf that reads must encode to text that reads back to the same entries
//! (line numbers and warnings aside).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::config::cyrus::{CyrusConf, Limits};

fn model(conf: &CyrusConf) -> CyrusConf {
    let mut c = conf.clone();
    c.warnings.clear();
    c.start.iter_mut().for_each(|e| e.line = 0);
    c.services.iter_mut().for_each(|e| e.line = 0);
    c.events.iter_mut().for_each(|e| e.line = 0);
    c.daemons.iter_mut().for_each(|e| e.line = 0);
    c
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let limits = if flags & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_file_len: 1024,
            max_line_len: 64,
            ..Limits::default()
        }
    };
    let Ok(conf) = CyrusConf::parse_with_limits(&text, "cyrus.conf", &limits) else {
        return;
    };
    let _ = (conf.service("imap"), conf.unknown_args());
    let encoded = conf.encode();
    match CyrusConf::parse(&encoded, "cyrus.conf") {
        Ok(back) => assert_eq!(model(&back), model(&conf), "via {encoded}"),
        Err(e) => panic!("encoded conf does not read back: {e}\n{encoded}"),
    }
});
