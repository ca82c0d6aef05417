//! UA Client Hints against the `User-Agent` they came with. The input is one header value a
//! line (header values hold no newline): `User-Agent`, `Sec-CH-UA`, `Sec-CH-UA-Mobile`,
//! `Sec-CH-UA-Platform`, `Sec-CH-UA-Model`, `Sec-CH-UA-Platform-Version`, then a JA4 text as a
//! trusted proxy would pass it; a missing line is a header not sent.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_enrich::bots::client_hints::check;
use obscura_enrich::bots::{Evidence, ja4};
use obscura_enrich::user_agent::ClientHints;
use obscura_fuzz::{builtin_parser, classifier, uap_parser};

fuzz_target!(
    init: {
        let _ = (uap_parser(), classifier());
    },
    |data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let mut lines = text.split('\n');
        let user_agent = lines.next().unwrap_or_default();
        let mut header = || lines.next().map(str::to_owned);
        let hints = ClientHints {
            ua: header(),
            mobile: header(),
            platform: header(),
            model: header(),
            platform_version: header(),
        };
        // Only a fingerprint of the right form is believed, as from a proxy's header.
        let fingerprint = lines.next().filter(|j| ja4::is_fingerprint(j));
        for secure in [true, false] {
            let _ = check(user_agent, Some(&hints), secure);
        }
        let _ = builtin_parser().parse(user_agent, &hints);
        if let Some(uap) = uap_parser() {
            let _ = uap.parse(user_agent, &hints);
        }
        let evidence =
            Evidence { user_agent, hints: Some(&hints), secure: true, ja4: fingerprint, ..Evidence::default() };
        let _ = classifier().classify(&evidence);
    }
);
