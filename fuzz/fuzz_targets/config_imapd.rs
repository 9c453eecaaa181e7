//! `imapd.conf` reader (`protocol::config::imapd::ImapdConf`): arbitrary text, read with and
//! without a service and with `configdirectory` required or not. A conf that reads must encode
//! to text that reads back to the same keys and values, and every typed lookup must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::config::imapd::{ImapdConf, Limits, ParseOptions};

fn kv(conf: &ImapdConf) -> Vec<(String, String)> {
    conf.entries()
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let _ = ImapdConf::parse_str(&text, "imapd.conf");
    let opts = ParseOptions {
        service: match flags % 4 {
            0 => None,
            1 => Some("imap".to_owned()),
            2 => Some("mupdate".to_owned()),
            _ => Some("lmtp".to_owned()),
        },
        limits: if flags & 4 != 0 {
            Limits::default()
        } else {
            Limits {
                max_file_len: 2048,
                max_line_len: 64,
                max_entries: 16,
                max_include_depth: 2,
            }
        },
        require_configdirectory: flags & 8 != 0,
    };
    // `@include` resolves to the same text, to exercise include-once and depth handling.
    let mut include = |_: &str| -> Result<String, std::io::Error> { Ok(text.clone().into_owned()) };
    let Ok(conf) = ImapdConf::parse(&text, "imapd.conf", &mut include, &opts) else {
        return;
    };
    let back = ImapdConf::parse(
        &conf.encode(),
        "imapd.conf",
        &mut ImapdConf::no_includes,
        &ParseOptions {
            limits: Limits::default(),
            ..opts.clone()
        },
    );
    match &back {
        Ok(b) => assert_eq!(kv(b), kv(&conf), "encode/parse changed entries"),
        Err(e) => panic!("encoded conf does not read back: {e}\n{}", conf.encode()),
    }

    // Lookups of every kind on every key present, and the murder helpers.
    for e in conf.entries() {
        let k = e.key.as_str();
        let _ = (
            conf.get_raw(k),
            conf.is_set(k),
            conf.get(k),
            conf.get_str(k),
        );
        let _ = (
            conf.get_switch(k),
            conf.get_int(k),
            conf.get_duration_secs(k),
        );
        let _ = (
            conf.get_duration(k),
            conf.get_bytesize(k),
            conf.get_enum(k),
            conf.get_words(k),
        );
    }
    let _ = (
        conf.configdirectory(),
        conf.servername(),
        conf.admins(),
        conf.proxyservers(),
    );
    let _ = (
        conf.serverlist(),
        conf.defaultpartition(),
        conf.partitions(),
        conf.metapartitions(),
    );
    let _ = (
        conf.sasl_options(),
        conf.password_for_server("be1"),
        conf.mechs_for_server("be1"),
    );
    let _ = (
        conf.mupdate_server(),
        conf.mupdate_endpoint(),
        conf.mupdate_config(),
        conf.role(),
    );
    let _ = (
        conf.is_frontend(),
        conf.is_backend(),
        conf.is_murder(),
        conf.can_run_mupdate_master(),
    );
    let _ = conf.for_service(Some("pop3"));
});
