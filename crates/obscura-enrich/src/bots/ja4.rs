//! JA4, the TLS client fingerprint (FoxIO's specification, BSD-3-Clause): a ClientHello read
//! into `t13d1516h2_8daaf6152771_e5627efa2ab1` — protocol, version, SNI, counts and ALPN, then
//! a hash of the sorted cipher suites, then a hash of the sorted extensions and the signature
//! algorithms. Browsers of one family and version share it, automation libraries have their
//! own, so it tells a script that claims to be Chrome from Chrome.
//!
//! JA4 describes a client's TLS library, not a person: the same value is shared by everyone
//! with that browser version. Obscura still keeps it only in memory, as one signal.

use sha2::{Digest, Sha256};

/// Why no fingerprint could be read from the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ja4Error {
    /// Not a TLS handshake record carrying a ClientHello.
    NotClientHello,
    /// The ClientHello ends before its length says, or a field overruns it.
    Truncated,
}

impl std::fmt::Display for Ja4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ja4Error::NotClientHello => "not a TLS ClientHello",
            Ja4Error::Truncated => "the ClientHello is truncated or malformed",
        })
    }
}

/// How much of a connection's first bytes [`client_hello_len`] needs at most: a ClientHello
/// larger than this is refused (real ones are under 2 KiB; post-quantum key shares included).
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

/// Whether `text` has the form of a JA4 fingerprint (`t13d1516h2_8daaf6152771_02713d6af862`):
/// what a trusted proxy passes in a header is checked before it is believed.
pub fn is_fingerprint(text: &str) -> bool {
    let parts: Vec<&str> = text.split('_').collect();
    let hex12 = |p: &str| p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let [a, b, c] = parts[..] else { return false };
    let a = a.as_bytes();
    a.len() == 10
        && matches!(a[0], b't' | b'q' | b'd')
        && matches!(a[3], b'd' | b'i')
        && (a[1..3].iter().all(u8::is_ascii_digit) || matches!(&a[1..3], b"s3" | b"s2" | b"d1" | b"d2" | b"d3"))
        && a[4..8].iter().all(u8::is_ascii_digit)
        && a[8..].iter().all(|x| x.is_ascii_alphanumeric())
        && hex12(b)
        && hex12(c)
}

/// GREASE values (RFC 8701) are random placeholders; JA4 leaves them out everywhere.
fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// The handshake message (type, length, body) carried by the TLS records at the start of
/// `bytes`, once every record it spans has arrived: `Ok(None)` while more bytes are needed.
pub fn client_hello_message(bytes: &[u8]) -> Result<Option<Vec<u8>>, Ja4Error> {
    let mut message = Vec::new();
    let mut rest = bytes;
    loop {
        let Some(header) = rest.get(..5) else { return Ok(None) };
        if header[0] != 22 || header[1] != 3 {
            return Err(Ja4Error::NotClientHello);
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(fragment) = rest.get(5..5 + len) else { return Ok(None) };
        message.extend_from_slice(fragment);
        rest = &rest[5 + len..];
        if message.len() >= 4 {
            if message[0] != 1 {
                return Err(Ja4Error::NotClientHello);
            }
            let body = usize::from(message[1]) << 16 | usize::from(message[2]) << 8 | usize::from(message[3]);
            if body + 4 > MAX_CLIENT_HELLO {
                return Err(Ja4Error::Truncated);
            }
            if message.len() >= body + 4 {
                message.truncate(body + 4);
                return Ok(Some(message));
            }
        }
        if len == 0 || message.len() > MAX_CLIENT_HELLO {
            return Err(Ja4Error::Truncated);
        }
    }
}

/// The transport a ClientHello came over: JA4's first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP (`t`).
    Tcp,
    /// QUIC (`q`).
    Quic,
}

/// The parts of a ClientHello JA4 reads.
struct Hello {
    legacy_version: u16,
    ciphers: Vec<u16>,
    /// Extension types in wire order, GREASE left out.
    extensions: Vec<u16>,
    supported_versions: Vec<u16>,
    first_alpn: Option<Vec<u8>>,
    signature_algorithms: Vec<u16>,
}

/// A bounds-checked reader over a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Ja4Error> {
        let Some(head) = self.0.get(..n) else { return Err(Ja4Error::Truncated) };
        self.0 = &self.0[n..];
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Ja4Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Ja4Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Result<&'a [u8], Ja4Error> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    fn vec16(&mut self) -> Result<&'a [u8], Ja4Error> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    bytes.chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]])).collect()
}

/// Reads a ClientHello handshake message (type 1, a 3-byte length, the body). The message's
/// outline — version, cipher suites, the extensions block — is read with `tls-parser`; the
/// extensions are walked here, because JA4 needs every extension's type as sent, known or not,
/// and a malformed body of one extension must not hide the others.
fn parse(message: &[u8]) -> Result<Hello, Ja4Error> {
    use tls_parser::{TlsMessage, TlsMessageHandshake};
    let (_, parsed) = tls_parser::parse_tls_message_handshake(message)
        .map_err(|_| if message.first() == Some(&1) { Ja4Error::Truncated } else { Ja4Error::NotClientHello })?;
    let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) = parsed else {
        return Err(Ja4Error::NotClientHello);
    };
    let mut out = Hello {
        legacy_version: hello.version.0,
        ciphers: hello.ciphers.iter().map(|c| c.0).filter(|c| !is_grease(*c)).collect(),
        extensions: Vec::new(),
        supported_versions: Vec::new(),
        first_alpn: None,
        signature_algorithms: Vec::new(),
    };
    let mut block = Reader(hello.ext.unwrap_or_default());
    while !block.0.is_empty() {
        let kind = block.u16()?;
        let data = block.vec16()?;
        if is_grease(kind) {
            continue;
        }
        out.extensions.push(kind);
        let mut body = Reader(data);
        match kind {
            0x002b => out.supported_versions = body.vec8().map(u16s).unwrap_or_default(),
            0x000d => out.signature_algorithms = body.vec16().map(u16s).unwrap_or_default(),
            0x0010 => {
                out.first_alpn = body.vec16().ok().and_then(|list| Reader(list).vec8().ok()).map(<[u8]>::to_vec);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The first and last character of the first ALPN value: as they are when both are ASCII
/// letters or digits, else the first and last hex digit of the whole value.
fn alpn_code(alpn: Option<&[u8]>) -> String {
    let Some((&first, &last)) = alpn.and_then(|v| v.first().zip(v.last())) else { return "00".to_owned() };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        format!("{}{}", char::from(first), char::from(last))
    } else {
        let hex = |nibble: u8| char::from_digit(u32::from(nibble), 16).expect("a nibble");
        format!("{}{}", hex(first >> 4), hex(last & 0x0f))
    }
}

fn hash12(text: &str) -> String {
    if text.is_empty() {
        return "000000000000".to_owned();
    }
    hex_prefix(&Sha256::digest(text.as_bytes()))
}

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn hex_list(values: &[u16]) -> String {
    values.iter().map(|v| format!("{v:04x}")).collect::<Vec<_>>().join(",")
}

/// The JA4 fingerprint of a ClientHello handshake message (see [`client_hello_message`]).
pub fn ja4(message: &[u8], transport: Transport) -> Result<String, Ja4Error> {
    let hello = parse(message)?;
    let version =
        hello.supported_versions.iter().copied().filter(|v| !is_grease(*v)).max().unwrap_or(hello.legacy_version);
    let sni = if hello.extensions.contains(&0x0000) { 'd' } else { 'i' };
    let mut ciphers = hello.ciphers.clone();
    ciphers.sort_unstable();
    let mut extensions: Vec<u16> = hello.extensions.iter().copied().filter(|e| *e != 0x0000 && *e != 0x0010).collect();
    extensions.sort_unstable();
    let signatures: Vec<u16> = hello.signature_algorithms.iter().copied().filter(|s| !is_grease(*s)).collect();
    let extension_text = if extensions.is_empty() {
        String::new()
    } else if signatures.is_empty() {
        hex_list(&extensions)
    } else {
        format!("{}_{}", hex_list(&extensions), hex_list(&signatures))
    };
    Ok(format!(
        "{}{}{}{:02}{:02}{}_{}_{}",
        match transport {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
        },
        version_code(version),
        sni,
        hello.ciphers.len().min(99),
        hello.extensions.len().min(99),
        alpn_code(hello.first_alpn.as_deref()),
        hash12(&hex_list(&ciphers)),
        hash12(&extension_text),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a ClientHello handshake message: TLS 1.2 legacy version, the given cipher suites
    /// and, when `extensions` is `Some`, that extensions block.
    fn hello(legacy: u16, ciphers: &[u16], extensions: Option<&[(u16, Vec<u8>)]>) -> Vec<u8> {
        let mut body = legacy.to_be_bytes().to_vec();
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend(((ciphers.len() * 2) as u16).to_be_bytes());
        ciphers.iter().for_each(|c| body.extend(c.to_be_bytes()));
        body.extend([1, 0]); // compression: null
        if let Some(extensions) = extensions {
            let mut block = Vec::new();
            for (kind, data) in extensions {
                block.extend(kind.to_be_bytes());
                block.extend((data.len() as u16).to_be_bytes());
                block.extend(data);
            }
            body.extend((block.len() as u16).to_be_bytes());
            body.extend(block);
        }
        let mut message = vec![1, (body.len() >> 16) as u8, (body.len() >> 8) as u8, body.len() as u8];
        message.extend(body);
        message
    }

    fn list16(values: &[u16]) -> Vec<u8> {
        let mut out = ((values.len() * 2) as u16).to_be_bytes().to_vec();
        values.iter().for_each(|v| out.extend(v.to_be_bytes()));
        out
    }

    fn alpn(values: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for v in values {
            list.push(v.len() as u8);
            list.extend(*v);
        }
        let mut out = (list.len() as u16).to_be_bytes().to_vec();
        out.extend(list);
        out
    }

    /// The specification's worked example: Chrome's ClientHello, extensions in wire order.
    fn spec_example() -> Vec<u8> {
        let ciphers = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d,
            0x002f, 0x0035,
        ];
        let sigs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
        let mut versions = vec![4u8];
        versions.extend([0x3a, 0x3a, 0x03, 0x04]);
        let extensions: Vec<(u16, Vec<u8>)> = vec![
            (0x1a1a, vec![]),
            (0x001b, vec![]),
            (0x0000, vec![]),
            (0x0033, vec![]),
            (0x0010, alpn(&[b"h2", b"http/1.1"])),
            (0x4469, vec![]),
            (0x0017, vec![]),
            (0x002d, vec![]),
            (0x000d, list16(&sigs)),
            (0x0005, vec![]),
            (0x0023, vec![]),
            (0x0012, vec![]),
            (0x002b, versions),
            (0xff01, vec![]),
            (0x000b, vec![]),
            (0x000a, vec![]),
            (0x0015, vec![]),
            (0x2a2a, vec![]),
        ];
        let mut with_grease = vec![0x0a0a];
        with_grease.extend(ciphers);
        hello(0x0303, &with_grease, Some(&extensions))
    }

    #[test]
    fn ja4_of_the_specification_example() {
        assert_eq!(ja4(&spec_example(), Transport::Tcp).unwrap(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(ja4(&spec_example(), Transport::Quic).unwrap(), "q13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn ja4_edge_cases_follow_the_specification() {
        let one = [0x002f];
        assert_eq!(ja4(&hello(0x0303, &one, None), Transport::Tcp).unwrap(), "t12i010000_ba72b8082249_000000000000");
        assert_eq!(ja4(&hello(0x0303, &[], None), Transport::Tcp).unwrap(), "t12i000000_000000000000_000000000000");
        assert_eq!(ja4(&hello(0x0301, &one, None), Transport::Tcp).unwrap(), "t10i010000_ba72b8082249_000000000000");
        assert!(ja4(&hello(0x0999, &one, None), Transport::Tcp).unwrap().starts_with("t00i"), "unknown version");
        let with_alpn = |value: &[u8]| {
            let message = hello(0x0303, &[0x1301], Some(&[(0x0010, alpn(&[value]))]));
            ja4(&message, Transport::Tcp).unwrap()[8..10].to_owned()
        };
        assert_eq!(with_alpn(b"h2"), "h2");
        assert_eq!(with_alpn(b"http/1.1"), "h1");
        assert_eq!(with_alpn(b"a"), "aa", "one byte: first and last are the same");
        assert_eq!(with_alpn(&[0xba, 0xad]), "bd", "not alphanumeric: hex digits");
        assert_eq!(with_alpn(&[0x30, 0xab]), "3b");
        assert_eq!(with_alpn(&[0x30, 0xab, 0xcd, 0x31]), "01", "both ends alphanumeric");
        assert_eq!(with_alpn(b""), "00");
        // GREASE signature algorithms (Chrome 152 and later) are left out like every GREASE.
        let sigs = |list: &[u16]| ja4(&hello(0x0303, &[0x1301], Some(&[(0x000d, list16(list))])), Transport::Tcp);
        assert_eq!(sigs(&[0x0403, 0x0804]).unwrap(), sigs(&[0xbaba, 0x0403, 0x0804]).unwrap());
        // Only GREASE in supported_versions: the legacy version answers.
        let versions = |v: &[u8]| ja4(&hello(0x0303, &[0x1301], Some(&[(0x002b, v.to_vec())])), Transport::Tcp);
        assert!(versions(&[2, 0x3a, 0x3a]).unwrap().starts_with("t12"));
        assert!(versions(&[4, 0x03, 0x04, 0x03, 0x03]).unwrap().starts_with("t13"));
        let many: Vec<u16> = (1..=120).collect();
        assert!(ja4(&hello(0x0303, &many, None), Transport::Tcp).unwrap().starts_with("t12i9900"), "counts stop at 99");
    }

    #[test]
    fn ja4_records_are_reassembled_and_bad_input_is_refused() {
        let message = spec_example();
        let record = |part: &[u8]| {
            let mut r = vec![22, 3, 1, (part.len() >> 8) as u8, part.len() as u8];
            r.extend(part);
            r
        };
        let mut two_records = record(&message[..100]);
        two_records.extend(record(&message[100..]));
        assert_eq!(client_hello_message(&two_records).unwrap().as_deref(), Some(&message[..]));
        assert_eq!(client_hello_message(&two_records[..50]).unwrap(), None, "more bytes to come");
        assert_eq!(client_hello_message(b"GET / HTTP/1.1\r\n"), Err(Ja4Error::NotClientHello));
        assert_eq!(client_hello_message(&record(&[2, 0, 0, 0])), Err(Ja4Error::NotClientHello));
        // Truncated or garbled hellos never panic, whatever byte they stop at.
        for end in 0..message.len() {
            let _ = ja4(&message[..end], Transport::Tcp);
        }
        assert_eq!(ja4(&message[..60], Transport::Tcp), Err(Ja4Error::Truncated));
        let mut garbled = message.clone();
        for i in (40..garbled.len()).step_by(7) {
            garbled[i] = garbled[i].wrapping_mul(31).wrapping_add(17);
            let _ = ja4(&garbled, Transport::Tcp);
        }
    }

    #[test]
    fn bots_ja4_text_from_a_proxy_is_believed_only_in_the_fingerprint_form() {
        assert!(is_fingerprint("t13d1516h2_8daaf6152771_02713d6af862"));
        assert!(is_fingerprint("q13i0310h3_55b375c5d22e_cd85d2d88918"));
        // Every version [`version_code`] writes: SSL 3 and DTLS hellos too.
        for version in [0x0304, 0x0300, 0x0002, 0xfeff, 0xfefd, 0xfefc, 0x1234] {
            let text = format!("t{}d1516h2_8daaf6152771_02713d6af862", version_code(version));
            assert!(is_fingerprint(&text), "{text}");
        }
        for bad in [
            "tx3d1516h2_8daaf6152771_02713d6af862",
            "",
            "t13d1516h2_8daaf6152771",
            "x13d1516h2_8daaf6152771_02713d6af862",
            "t13d1516h2_8DAAF6152771_02713d6af862",
            "t13d1516h2_8daaf6152771_02713d6af862_1",
            "t13d1516h2\n_8daaf6152771_02713d6af86",
        ] {
            assert!(!is_fingerprint(bad), "{bad:?}");
        }
    }
}
