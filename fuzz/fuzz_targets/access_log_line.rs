//! Access-log lines of `obscura import logs`: the first byte picks the format (see `mode`):
//! `0` nginx combined, `1` Apache combined or common, `2` Caddy JSON. The rest is one line, read
//! as the importer reads it (invalid UTF-8 replaced); a page view then crosses the privacy
//! boundary like a live hit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{desensitize_hit, mode};
use obscura_ingest::decode::access_log::{Line, LogFormat, read_line};

const FORMATS: [LogFormat; 3] = [LogFormat::Nginx, LogFormat::Apache, LogFormat::CaddyJson];

fuzz_target!(|data: &[u8]| {
    let Some((format, line)) = mode(data, FORMATS.len()) else { return };
    let line = String::from_utf8_lossy(line);
    if let Ok(Line::Page(hit)) = read_line(FORMATS[format], &line, "example.org") {
        desensitize_hit(*hit);
    }
});
