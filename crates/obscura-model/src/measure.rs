//! Measurements: the speed figures a page or an application reports (web vitals, per-CDN
//! resource timings, application launch and timing spans).
//!
//! Each measurement is one number of one [`Metric`]; a page's beacon brings several. The
//! catalogue is fixed, so metric names are safe labels and every value has a known unit, a
//! sane range and — for the web vitals — the thresholds of "good" and "poor".

/// The largest value any timing may have: ten minutes, in milliseconds. A longer one is a
/// broken clock or a tab left in the background, not a speed.
pub const MAX_TIMING_MS: f64 = 600_000.0;

/// The largest layout-shift score accepted (the score has no upper bound, but a page whose
/// content moved by more than 100 viewports is a measuring fault).
pub const MAX_CLS: f64 = 100.0;

/// The largest resource count or byte count accepted in one beacon.
pub const MAX_COUNT: f64 = 1e12;

/// What a measurement measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Time to first byte of the page's document, ms.
    Ttfb,
    /// First contentful paint, ms.
    Fcp,
    /// Largest contentful paint, ms.
    Lcp,
    /// Interaction to next paint, ms.
    Inp,
    /// Cumulative layout shift (unitless score).
    Cls,
    /// Page load time (navigation start to the load event's end), ms.
    Load,
    /// A CDN provider's DNS lookup time, ms (mean over the page's resources from it).
    CdnDns,
    /// A CDN provider's connection time (TCP, or QUIC), ms.
    CdnConnect,
    /// A CDN provider's TLS handshake time, ms.
    CdnTls,
    /// A CDN provider's time to first byte (request start to response start), ms.
    CdnTtfb,
    /// A CDN provider's download time (response start to end), ms.
    CdnDownload,
    /// Bytes transferred from a CDN provider on the page.
    CdnBytes,
    /// Resources loaded from a CDN provider on the page.
    CdnResources,
    /// Of those, served from the browser's cache (`transferSize == 0`).
    CdnCacheHits,
    /// Of those, failed (no response).
    CdnFailures,
    /// Of those, without `Timing-Allow-Origin`: their timings are hidden from the page.
    CdnTimingHidden,
    /// An application's launch time, ms (`start` label: cold or warm).
    Launch,
    /// A named timing span of an application (`span` label), ms.
    Span,
    /// An application session's length, ms.
    Session,
}

/// How a metric's values are read and summarised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds: summarised by percentiles.
    Milliseconds,
    /// A unitless score: summarised by percentiles.
    Score,
    /// A count or byte count per page: summarised by sums.
    Count,
}

impl Metric {
    /// Every metric, in display order.
    pub const ALL: [Metric; 19] = [
        Metric::Ttfb,
        Metric::Fcp,
        Metric::Lcp,
        Metric::Inp,
        Metric::Cls,
        Metric::Load,
        Metric::CdnDns,
        Metric::CdnConnect,
        Metric::CdnTls,
        Metric::CdnTtfb,
        Metric::CdnDownload,
        Metric::CdnBytes,
        Metric::CdnResources,
        Metric::CdnCacheHits,
        Metric::CdnFailures,
        Metric::CdnTimingHidden,
        Metric::Launch,
        Metric::Span,
        Metric::Session,
    ];

    /// What applications report: launches, timing spans, sessions.
    pub const APP: [Metric; 3] = [Metric::Launch, Metric::Span, Metric::Session];

    /// The web vitals (and page load) a page's beacon carries.
    pub const VITALS: [Metric; 6] = [Metric::Ttfb, Metric::Fcp, Metric::Lcp, Metric::Inp, Metric::Cls, Metric::Load];

    /// The per-provider CDN figures.
    pub const CDN: [Metric; 10] = [
        Metric::CdnDns,
        Metric::CdnConnect,
        Metric::CdnTls,
        Metric::CdnTtfb,
        Metric::CdnDownload,
        Metric::CdnBytes,
        Metric::CdnResources,
        Metric::CdnCacheHits,
        Metric::CdnFailures,
        Metric::CdnTimingHidden,
    ];

    /// The stored and API name (`lcp`, `cdn.ttfb`, `launch`, …).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Ttfb => "ttfb",
            Metric::Fcp => "fcp",
            Metric::Lcp => "lcp",
            Metric::Inp => "inp",
            Metric::Cls => "cls",
            Metric::Load => "load",
            Metric::CdnDns => "cdn.dns",
            Metric::CdnConnect => "cdn.connect",
            Metric::CdnTls => "cdn.tls",
            Metric::CdnTtfb => "cdn.ttfb",
            Metric::CdnDownload => "cdn.download",
            Metric::CdnBytes => "cdn.bytes",
            Metric::CdnResources => "cdn.resources",
            Metric::CdnCacheHits => "cdn.cache_hits",
            Metric::CdnFailures => "cdn.failures",
            Metric::CdnTimingHidden => "cdn.timing_hidden",
            Metric::Launch => "launch",
            Metric::Span => "span",
            Metric::Session => "session",
        }
    }

    /// The metric called `name`; `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// How the metric's values are read.
    pub fn unit(self) -> Unit {
        match self {
            Metric::Cls => Unit::Score,
            Metric::CdnBytes
            | Metric::CdnResources
            | Metric::CdnCacheHits
            | Metric::CdnFailures
            | Metric::CdnTimingHidden => Unit::Count,
            _ => Unit::Milliseconds,
        }
    }

    /// The largest value accepted; larger ones are rejected as measuring faults.
    pub fn max_value(self) -> f64 {
        if self == Metric::Session {
            // A session may last a working day; longer ones are a lost "end".
            return 86_400_000.0;
        }
        match self.unit() {
            Unit::Milliseconds => MAX_TIMING_MS,
            Unit::Score => MAX_CLS,
            Unit::Count => MAX_COUNT,
        }
    }

    /// Whether `value` is a possible measurement of this metric: finite, not negative, not
    /// beyond [`Metric::max_value`].
    pub fn accepts(self, value: f64) -> bool {
        value.is_finite() && value >= 0.0 && value <= self.max_value()
    }

    /// The web-vitals thresholds `(good up to, poor above)`, for the metrics that have them:
    /// LCP 2500/4000 ms, INP 200/500 ms, CLS 0.1/0.25, FCP 1800/3000 ms, TTFB 800/1800 ms.
    pub fn thresholds(self) -> Option<(f64, f64)> {
        match self {
            Metric::Lcp => Some((2500.0, 4000.0)),
            Metric::Inp => Some((200.0, 500.0)),
            Metric::Cls => Some((0.1, 0.25)),
            Metric::Fcp => Some((1800.0, 3000.0)),
            Metric::Ttfb => Some((800.0, 1800.0)),
            _ => None,
        }
    }

    /// Whether `value` is good, needs improvement or is poor; `None` for metrics without
    /// thresholds.
    pub fn rate(self, value: f64) -> Option<Rating> {
        let (good, poor) = self.thresholds()?;
        Some(if value <= good {
            Rating::Good
        } else if value <= poor {
            Rating::NeedsImprovement
        } else {
            Rating::Poor
        })
    }
}

/// A web vital's rating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rating {
    /// At or below the "good" threshold.
    Good,
    /// Between the thresholds.
    NeedsImprovement,
    /// Above the "poor" threshold.
    Poor,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_metric_names_round_trip_and_are_unique() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
        }
        assert_eq!(Metric::parse("fid"), None);
        let mut names: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }

    #[test]
    fn measure_ratings_follow_the_web_vitals_thresholds() {
        assert_eq!(Metric::Lcp.rate(2500.0), Some(Rating::Good));
        assert_eq!(Metric::Lcp.rate(2500.1), Some(Rating::NeedsImprovement));
        assert_eq!(Metric::Lcp.rate(4000.1), Some(Rating::Poor));
        assert_eq!(Metric::Cls.rate(0.1), Some(Rating::Good));
        assert_eq!(Metric::Cls.rate(0.26), Some(Rating::Poor));
        assert_eq!(Metric::Inp.rate(201.0), Some(Rating::NeedsImprovement));
        assert_eq!(Metric::Load.rate(10.0), None);
    }

    #[test]
    fn measure_absurd_values_are_not_accepted() {
        assert!(Metric::Lcp.accepts(0.0));
        assert!(Metric::Lcp.accepts(MAX_TIMING_MS));
        for bad in [-1.0, f64::NAN, f64::INFINITY, MAX_TIMING_MS + 1.0] {
            assert!(!Metric::Lcp.accepts(bad), "{bad}");
        }
        assert!(!Metric::Cls.accepts(101.0));
        assert!(Metric::CdnBytes.accepts(5e9));
    }
}
