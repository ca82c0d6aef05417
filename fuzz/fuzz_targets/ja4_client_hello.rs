//! A connection's first bytes as the TLS listener reads them: TLS records reassembled into the
//! ClientHello, then its JA4 fingerprint. Input starting with a handshake message rather than a
//! record (QUIC carries no records) is fingerprinted directly too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_enrich::bots::ja4::{Transport, client_hello_message, is_fingerprint, ja4};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(message)) = client_hello_message(data) {
        let _ = ja4(&message, Transport::Tcp);
    }
    let _ = ja4(data, Transport::Quic);
    let _ = is_fingerprint(&String::from_utf8_lossy(data));
});
