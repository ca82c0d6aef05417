//! A `User-Agent` header: the built-in rules and, when `datafiles/` holds them, uap-core's rules
//! and the robot lists; the automation markers; the bot classifier with nothing else known.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_enrich::bots::Evidence;
use obscura_enrich::user_agent::{ClientHints, looks_automated};
use obscura_fuzz::{builtin_parser, classifier, uap_parser};

fuzz_target!(
    init: {
        // Compiling uap-core's rules and the robot lists takes seconds: not inside a timed run.
        let _ = (uap_parser(), classifier());
    },
    |data: &[u8]| {
        let ua = String::from_utf8_lossy(data);
        let none = ClientHints::default();
        let _ = builtin_parser().parse(&ua, &none);
        if let Some(uap) = uap_parser() {
            let _ = uap.parse(&ua, &none);
        }
        let _ = looks_automated(&ua);
        let _ = classifier().classify(&Evidence { user_agent: &ua, ..Evidence::default() });
    }
);
