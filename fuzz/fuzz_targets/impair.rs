//! Impairment settings as users spell them (probabilities, rates, sizes, durations, a
//! topology file's table) and as the record stores them.
#![no_main]
use feth_control::port::impair::{self, Impairment, Spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = impair::parse_probability("feth0", "loss", text);
    let _ = impair::parse_rate("feth0", text);
    let _ = impair::parse_size("feth0", text);
    let _ = impair::parse_duration("delay", text);
    let some = Some(text.to_owned());
    let spec = Spec {
        loss: some.clone(),
        loss_every: text.parse().ok(),
        corrupt: some.clone(),
        duplicate: some.clone(),
        rate: some.clone(),
        burst: some.clone(),
        delay: some.clone(),
        jitter: some,
    };
    if let Ok(i) = spec.apply("feth0", Impairment::default()) {
        let _ = i.describe();
        assert_eq!(Impairment::decode(&i.encode()), Some(i.clone()), "{text:?}");
    }
    if let Some(i) = Impairment::decode(text) {
        let _ = i.describe();
        assert_eq!(Impairment::decode(&i.encode()), Some(i.clone()), "{text:?}");
    }
});
