//! Network operator: the organisation owning the autonomous system (AS) an address belongs to.
//!
//! Knowing that visits come from "Deutsche Telekom AG" or "Amazon.com, Inc." helps tell homes
//! from offices and datacentres, and it is shared by millions of addresses, so it identifies no
//! one. The organisation name is what people read and what is stored; the AS number is answered
//! apart ([`AsnDb::asn`]), for telling datacentre networks from people's (P5), and never stored.
//!
//! Two sources are supported, and any number of files may be combined:
//! - MaxMind-format `.mmdb` files with `autonomous_system_organization` (GeoLite2-ASN and the
//!   ip-location-db ASN mmdb packages);
//! - the ip-location-db ASN CSV (`asn-ipv4.csv`, `asn-ipv6.csv`): one
//!   `range_start,range_end,asn,organisation` line per range. These are parsed by hand into
//!   sorted range tables searched by binary search. The real files have about half a million
//!   lines sharing far fewer organisations, so names are interned as [`Arc<str>`].
//!
//! Lookups never fail: anything unexpected answers "unknown".

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde::Deserialize;

/// Network-operator database: range tables from CSV files plus any `.mmdb` readers.
pub struct AsnDb {
    /// (first, last, operator), sorted by first address.
    v4: Vec<(u32, u32, Operator)>,
    v6: Vec<(u128, u128, Operator)>,
    mmdb: Vec<maxminddb::Reader<Vec<u8>>>,
}

/// A range's operator: its AS number (when the file gives one) and its organisation.
#[derive(Clone, Debug)]
struct Operator {
    asn: Option<u32>,
    name: Arc<str>,
}

impl fmt::Debug for AsnDb {
    // Hundreds of thousands of ranges are not worth printing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsnDb")
            .field("v4_ranges", &self.v4.len())
            .field("v6_ranges", &self.v6.len())
            .field("mmdb", &self.mmdb.len())
            .finish()
    }
}

/// The one field read from an ASN `.mmdb` record.
#[derive(Debug, Default, Deserialize)]
struct AsnRecord {
    #[serde(default)]
    autonomous_system_organization: Option<String>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
}

impl AsnDb {
    /// No database: every lookup answers `None`.
    pub fn empty() -> Self {
        Self { v4: Vec::new(), v6: Vec::new(), mmdb: Vec::new() }
    }

    /// Loads `.mmdb` (MaxMind ASN layout) and `.csv` (ip-location-db ASN layout) files.
    /// Malformed CSV lines are skipped with a warning; unreadable files and other extensions
    /// are errors naming the file.
    pub fn open(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut loader = CsvLoader::default();
        let mut mmdb = Vec::new();
        for path in paths {
            let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            match extension.as_deref() {
                Some("mmdb") => {
                    let reader = maxminddb::Reader::open_readfile(path)
                        .with_context(|| format!("opening ASN database {}", path.display()))?;
                    mmdb.push(reader);
                }
                Some("csv") => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading ASN database {}", path.display()))?;
                    let skipped = loader.add(&text);
                    if skipped > 0 {
                        tracing::warn!(
                            file = %path.display(),
                            skipped,
                            "skipped malformed lines in ASN CSV"
                        );
                    }
                }
                _ => anyhow::bail!("unsupported ASN database {} (expected a .mmdb or .csv file)", path.display()),
            }
        }
        let mut db = loader.finish();
        db.mmdb = mmdb;
        Ok(db)
    }

    /// Builds the range tables from ip-location-db ASN CSV text (malformed lines are skipped).
    pub fn from_csv_str(text: &str) -> Self {
        let mut loader = CsvLoader::default();
        loader.add(text);
        loader.finish()
    }

    /// Whether no data is loaded.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty() && self.mmdb.is_empty()
    }

    /// The organisation operating the network `ip` belongs to, if known.
    pub fn lookup(&self, ip: IpAddr) -> Option<String> {
        // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d.
        let ip = ip.to_canonical();
        if let Some(operator) = self.csv_operator(ip) {
            return Some(operator.name.to_string());
        }
        for reader in &self.mmdb {
            // An IPv6 address in an IPv4-only file is an error rather than a miss: move on.
            let Ok(found) = reader.lookup(ip) else {
                continue;
            };
            match found.decode::<AsnRecord>() {
                Ok(Some(AsnRecord { autonomous_system_organization: Some(name), .. })) => {
                    let name = name.trim();
                    if !name.is_empty() {
                        return Some(name.to_owned());
                    }
                }
                Ok(_) => {}
                // The address is deliberately not logged.
                Err(error) => tracing::debug!(%error, "undecodable ASN record"),
            }
        }
        None
    }

    /// The number of the autonomous system `ip` belongs to, if known: kept in memory only, as a
    /// signal (a datacentre's network), never stored.
    pub fn asn(&self, ip: IpAddr) -> Option<u32> {
        let ip = ip.to_canonical();
        if let Some(operator) = self.csv_operator(ip) {
            return operator.asn;
        }
        self.mmdb
            .iter()
            .find_map(|reader| reader.lookup(ip).ok()?.decode::<AsnRecord>().ok().flatten()?.autonomous_system_number)
    }

    /// The operator of the CSV range holding `ip` (canonical), if any.
    fn csv_operator(&self, ip: IpAddr) -> Option<&Operator> {
        match ip {
            IpAddr::V4(v4) => find_range(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => find_range(&self.v6, u128::from(v6)),
        }
    }
}

/// The range containing `key` in a table sorted by start. Ranges in the source data do not
/// overlap, so the candidate is the last range starting at or before `key`.
fn find_range<T: Copy + Ord>(ranges: &[(T, T, Operator)], key: T) -> Option<&Operator> {
    let after = ranges.partition_point(|(start, _, _)| *start <= key);
    let (_, end, name) = ranges.get(after.checked_sub(1)?)?;
    (key <= *end).then_some(name)
}

/// Accumulates CSV ranges from one or more files, interning organisation names.
#[derive(Default)]
struct CsvLoader {
    v4: Vec<(u32, u32, Operator)>,
    v6: Vec<(u128, u128, Operator)>,
    names: HashSet<Arc<str>>,
}

impl CsvLoader {
    /// Adds every line of `text`; returns how many non-empty lines were malformed.
    fn add(&mut self, text: &str) -> usize {
        let mut skipped = 0;
        for line in text.lines() {
            // `lines` leaves the '\r' of CRLF files; trimming removes it.
            let line = line.trim();
            if !line.is_empty() && !self.add_line(line) {
                skipped += 1;
            }
        }
        skipped
    }

    fn add_line(&mut self, line: &str) -> bool {
        let Some([start, end, asn, organisation]) = split_fields(line) else {
            return false;
        };
        // `13335` or `AS13335`; a range without a readable number keeps its organisation.
        let asn = asn.trim().trim_start_matches("AS").parse::<u32>().ok();
        let organisation = organisation.trim();
        if organisation.is_empty() {
            return false;
        }
        let (Ok(start), Ok(end)) = (start.trim().parse::<IpAddr>(), end.trim().parse::<IpAddr>()) else {
            return false;
        };
        match (start, end) {
            (IpAddr::V4(start), IpAddr::V4(end)) => {
                let (start, end) = (u32::from(start), u32::from(end));
                if start > end {
                    return false;
                }
                let name = self.intern(organisation);
                self.v4.push((start, end, Operator { asn, name }));
            }
            (IpAddr::V6(start), IpAddr::V6(end)) => {
                let (start, end) = (u128::from(start), u128::from(end));
                if start > end {
                    return false;
                }
                let name = self.intern(organisation);
                self.v6.push((start, end, Operator { asn, name }));
            }
            _ => return false,
        }
        true
    }

    /// One allocation per distinct organisation, shared by all its ranges.
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(existing) = self.names.get(name) {
            return Arc::clone(existing);
        }
        let name: Arc<str> = Arc::from(name);
        self.names.insert(Arc::clone(&name));
        name
    }

    fn finish(self) -> AsnDb {
        let CsvLoader { mut v4, mut v6, .. } = self;
        // The files are sorted already, but several files (or a hand-edited one) may not be.
        v4.sort_unstable_by_key(|(start, _, _)| *start);
        v6.sort_unstable_by_key(|(start, _, _)| *start);
        v4.shrink_to_fit();
        v6.shrink_to_fit();
        AsnDb { v4, v6, mmdb: Vec::new() }
    }
}

/// Splits a CSV record into exactly four fields. Fields may be double-quoted (needed when they
/// contain a comma), with `""` standing for a quote inside. `None` when malformed.
fn split_fields(line: &str) -> Option<[Cow<'_, str>; 4]> {
    let (a, rest) = next_field(line)?;
    let (b, rest) = next_field(rest?)?;
    let (c, rest) = next_field(rest?)?;
    let (d, rest) = next_field(rest?)?;
    if rest.is_some() {
        return None;
    }
    Some([a, b, c, d])
}

/// Reads one field from the start of `s`. Returns the field and what follows its separating
/// comma, or `None` as the remainder when the field ends the line.
fn next_field(s: &str) -> Option<(Cow<'_, str>, Option<&str>)> {
    let trimmed = s.trim_start();
    let Some(quoted) = trimmed.strip_prefix('"') else {
        return Some(match s.split_once(',') {
            Some((field, rest)) => (Cow::Borrowed(field), Some(rest)),
            None => (Cow::Borrowed(s), None),
        });
    };

    // Quoted: copy only if an escaped quote ("") forces us to.
    let mut unescaped: Option<String> = None;
    let mut pos = 0;
    loop {
        let close = pos + quoted[pos..].find('"')?;
        if quoted[close + 1..].starts_with('"') {
            let buffer = unescaped.get_or_insert_with(String::new);
            buffer.push_str(&quoted[pos..=close]);
            pos = close + 2;
            continue;
        }
        let field = match unescaped {
            Some(mut buffer) => {
                buffer.push_str(&quoted[pos..close]);
                Cow::Owned(buffer)
            }
            None => Cow::Borrowed(&quoted[..close]),
        };
        let after = quoted[close + 1..].trim_start();
        return match after.strip_prefix(',') {
            Some(rest) => Some((field, Some(rest))),
            None if after.is_empty() => Some((field, None)),
            // Text between the closing quote and the comma.
            None => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
8.8.8.0,8.8.8.255,15169,Google LLC
1.0.4.0,1.0.7.255,38803,Wirefreebroadband Pty Ltd
1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"
2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC
\"10.0.0.0\",\"10.0.0.255\",64512,\"Say \"\"hi\"\", Ltd\"\r
garbage
1.2.3.4,1.2.3.0,5,Backwards
1.2.3.4,::1,5,Mixed families
1.1.1.0,1.1.1.255,13335,\"unterminated
9.9.9.0,9.9.9.255,19281,
5.5.5.0,5.5.5.255,1,\"quoted\" trailing
6.6.6.0,6.6.6.255,1,Too,many
";

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid ip")
    }

    #[test]
    fn csv_lookup() {
        let db = AsnDb::from_csv_str(SAMPLE);
        assert!(!db.is_empty());
        assert_eq!(db.v4.len(), 4);
        assert_eq!(db.v6.len(), 1);

        assert_eq!(db.lookup(ip("1.0.0.1")).as_deref(), Some("Cloudflare, Inc."));
        assert_eq!(db.lookup(ip("1.0.0.0")).as_deref(), Some("Cloudflare, Inc."));
        assert_eq!(db.lookup(ip("1.0.0.255")).as_deref(), Some("Cloudflare, Inc."));
        assert_eq!(db.lookup(ip("1.0.1.0")), None, "gap between ranges");
        assert_eq!(db.lookup(ip("1.0.5.5")).as_deref(), Some("Wirefreebroadband Pty Ltd"));
        assert_eq!(db.lookup(ip("8.8.8.8")).as_deref(), Some("Google LLC"));
        assert_eq!(db.lookup(ip("::ffff:8.8.8.8")).as_deref(), Some("Google LLC"));
        assert_eq!(db.lookup(ip("2001:4860:4860::8888")).as_deref(), Some("Google LLC"));
        assert_eq!(db.lookup(ip("10.0.0.7")).as_deref(), Some("Say \"hi\", Ltd"));
        assert_eq!(db.lookup(ip("0.0.0.0")), None);
        assert_eq!(db.lookup(ip("255.255.255.255")), None);
        assert_eq!(db.lookup(ip("9.9.9.9")), None, "empty organisation skipped");
        assert_eq!(db.lookup(ip("1.1.1.1")), None, "unterminated quote skipped");
        assert_eq!(db.lookup(ip("5.5.5.5")), None);
        assert_eq!(db.lookup(ip("6.6.6.6")), None);
        assert_eq!(db.lookup(ip("::")), None);
        assert_eq!(db.lookup(ip("ffff::1")), None);
    }

    #[test]
    fn bots_asn_numbers_are_read_from_the_ranges() {
        let db = AsnDb::from_csv_str(SAMPLE);
        assert_eq!(db.asn(ip("1.0.0.1")), Some(13335));
        assert_eq!(db.asn(ip("::ffff:8.8.8.8")), Some(15169));
        assert_eq!(db.asn(ip("2001:4860:4860::8888")), Some(15169));
        assert_eq!(db.asn(ip("1.0.1.0")), None, "no range");
        let prefixed =
            AsnDb::from_csv_str("3.0.0.0,3.0.0.255,AS16509,\"Amazon.com, Inc.\"\n4.0.0.0,4.0.0.255,x,Nameless");
        assert_eq!(prefixed.asn(ip("3.0.0.9")), Some(16509));
        assert_eq!((prefixed.asn(ip("4.0.0.9")), prefixed.lookup(ip("4.0.0.9")).as_deref()), (None, Some("Nameless")));
    }

    #[test]
    fn csv_ranges_are_sorted_and_names_interned() {
        let db = AsnDb::from_csv_str(SAMPLE);
        assert!(db.v4.windows(2).all(|w| w[0].0 <= w[1].0));
        let google_v4 = &db.v4.iter().find(|r| &*r.2.name == "Google LLC").expect("v4 range").2.name;
        assert!(Arc::ptr_eq(google_v4, &db.v6[0].2.name));
    }

    #[test]
    fn malformed_lines_are_counted() {
        let mut loader = CsvLoader::default();
        assert_eq!(loader.add(SAMPLE), 7);
        assert_eq!(loader.add(""), 0);
        assert_eq!(loader.add("\n\r\n  \n"), 0);
    }

    #[test]
    fn field_splitting() {
        let fields = split_fields("a, \"b,c\" ,\"\",d").expect("four fields");
        assert_eq!(fields.map(Cow::into_owned), ["a", "b,c", "", "d"].map(String::from));
        assert!(split_fields("a,b,c").is_none());
        assert!(split_fields("a,b,c,d,e").is_none());
        assert!(split_fields("a,b,c,\"d").is_none());
        assert!(split_fields("a,b,c,\"d\"\"").is_none());
        let escaped = split_fields("a,b,c,\"x\"\"y\"\"\"").expect("escaped quotes");
        assert_eq!(escaped[3], "x\"y\"");
    }

    #[test]
    fn empty_database_knows_nothing() {
        let db = AsnDb::empty();
        assert!(db.is_empty());
        assert_eq!(db.lookup(ip("8.8.8.8")), None);
        assert_eq!(db.lookup(ip("2001:4860::1")), None);
    }

    fn asn_mmdb() -> Vec<u8> {
        use mmdb_writer::ipnet::IpNet;
        use mmdb_writer::{Value, Writer};

        let mut writer = Writer::new("GeoLite2-ASN");
        let google = Value::map([
            ("autonomous_system_number", Value::from(15169_u32)),
            ("autonomous_system_organization", Value::from("Google LLC")),
        ]);
        let nameless = Value::map([("autonomous_system_number", Value::from(64512_u32))]);
        let net: IpNet = "142.250.0.0/15".parse().expect("valid network");
        writer.insert_value(net, google).expect("insert");
        let net: IpNet = "2a00:1450::/32".parse().expect("valid network");
        let google_v6 = Value::map([("autonomous_system_organization", Value::from("Google LLC"))]);
        writer.insert_value(net, google_v6).expect("insert");
        let net: IpNet = "9.9.9.0/24".parse().expect("valid network");
        writer.insert_value(net, nameless).expect("insert");
        writer.to_bytes().expect("serialize")
    }

    #[test]
    fn open_mmdb_and_csv_together() {
        let dir = std::env::temp_dir();
        let id = std::process::id();
        let mmdb_path = dir.join(format!("obscura-enrich-asn-{id}.mmdb"));
        let csv_path = dir.join(format!("obscura-enrich-asn-{id}.CSV"));
        std::fs::write(&mmdb_path, asn_mmdb()).expect("write mmdb");
        std::fs::write(&csv_path, SAMPLE).expect("write csv");
        let db = AsnDb::open(&[mmdb_path.clone(), csv_path.clone()]);
        std::fs::remove_file(&mmdb_path).ok();
        std::fs::remove_file(&csv_path).ok();
        let db = db.expect("open");

        // CSV ranges.
        assert_eq!(db.lookup(ip("1.0.0.1")).as_deref(), Some("Cloudflare, Inc."));
        // mmdb, IPv4 and IPv6.
        assert_eq!(db.lookup(ip("142.251.1.1")).as_deref(), Some("Google LLC"));
        assert_eq!(db.lookup(ip("2a00:1450::1")).as_deref(), Some("Google LLC"));
        // A record without an organisation is unknown.
        assert_eq!(db.lookup(ip("9.9.9.9")), None);
        assert_eq!(db.lookup(ip("203.0.113.1")), None);
    }

    #[test]
    fn open_rejects_unknown_and_missing_files() {
        let dir = std::env::temp_dir();
        let unknown = dir.join("obscura-enrich-asn.txt");
        let err = AsnDb::open(std::slice::from_ref(&unknown)).unwrap_err();
        assert!(format!("{err:#}").contains(&*unknown.to_string_lossy()));

        let missing = dir.join("obscura-enrich-no-such-file.csv");
        let err = AsnDb::open(std::slice::from_ref(&missing)).unwrap_err();
        assert!(format!("{err:#}").contains(&*missing.to_string_lossy()));

        let missing = dir.join("obscura-enrich-no-such-file.mmdb");
        let err = AsnDb::open(std::slice::from_ref(&missing)).unwrap_err();
        assert!(format!("{err:#}").contains(&*missing.to_string_lossy()));
    }
}
