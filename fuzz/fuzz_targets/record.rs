//! The record in a wire end's alias: anyone with CAP_NET_ADMIN can write it, and every
//! command reads it. Parsing refuses or succeeds, never panics; what it accepts encodes back
//! to a record that parses to the same.
#![no_main]
use feth_control::port::record::{Record, Recorded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|alias: &str| {
    let (record, recorded) = Record::parse(Some(alias));
    if recorded == Recorded::Current {
        let text = record.encode();
        let (again, how) = Record::parse(Some(&text));
        assert_eq!(how, Recorded::Current, "{alias:?} parsed, its encoding {text:?} did not");
        assert_eq!(again, record, "{alias:?} -> {text:?} changed on the way back");
    }
});
