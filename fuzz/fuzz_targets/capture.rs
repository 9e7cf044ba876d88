//! pcap and pcapng files `gen --pcap` replays: refused in one sentence, never a panic, a hang
//! or an allocation out of proportion to the file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = feth_bench::traffic::parse_capture("fuzz.pcap", bytes);
});
