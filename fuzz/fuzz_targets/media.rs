//! Media words (`media NAME WORD`, `--media-list A,B`, topology files).
#![no_main]
use feth_control::port::media;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = media::parse_word("feth0", text);
    let list: Vec<String> = text.split(',').map(str::to_owned).collect();
    let _ = media::apply("feth0", &media::default_media(), Some(&list), list.first().map(String::as_str));
});
