//! Speed figures: percentiles through a mergeable quantile sketch, web-vitals ratings and sums,
//! per group of measurements.
//!
//! A backend answers a measure query with a histogram — per group, metric and 3-significant-
//! digit value bucket, how many measurements and their exact sum — which [`MeasureCells`] turns
//! into one [`MeasureCell`] per group and metric. Each cell's percentiles come from a DDSketch
//! (relative accuracy [`SKETCH_ACCURACY`]); sketches merge, so cells of several days or of
//! several backends' answers add up without the rows.

use std::collections::HashMap;

use obscura_model::{Metric, Rating};
use sketches_ddsketch::{Config, DDSketch};

/// The sketch's relative accuracy: a percentile is within 0.5% of a value of the data (the
/// 3-significant-digit buckets add at most 0.05%), so the figures shown are within 1%.
pub const SKETCH_ACCURACY: f64 = 0.005;

/// The most bins a sketch keeps (the lowest collapse beyond it): at 0.5% accuracy, 2048 bins
/// span values from 1 µs to over an hour. With the crate's default smallest value this is the
/// configuration its binary format decodes to, so stored sketches merge with fresh ones.
const SKETCH_BINS: u32 = 2048;
const SKETCH_MIN_VALUE: f64 = 1e-9;

/// Up to this many (value, times) entries a sketch keeps them exactly: most groups of a fine
/// grouping (a province × network × provider over a month) hold a few hundred measurements,
/// and appending to a list, sorted once when read, is several times cheaper than a DDSketch's
/// logarithm per value; 512 entries take 8 KiB, about a DDSketch's bins.
const EXACT_VALUES: usize = 512;

/// A mergeable quantile sketch of one metric's values: exact while the values are few, a
/// DDSketch beyond.
#[derive(Clone)]
pub struct Sketch(Inner);

#[derive(Clone)]
enum Inner {
    /// (value, times) in the order added (a value may repeat), at most [`EXACT_VALUES`]
    /// entries: appending is cheaper than keeping them sorted, and reading sorts a copy.
    Exact(Vec<(f64, u64)>),
    Approximate(DDSketch),
}

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sketch({} values)", self.count())
    }
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch(Inner::Exact(Vec::new()))
    }
}

fn empty_ddsketch() -> DDSketch {
    DDSketch::new(Config::new(SKETCH_ACCURACY, SKETCH_BINS, SKETCH_MIN_VALUE))
}

/// A DDSketch of `values`: the smallest and largest first, so its bins are laid out once
/// instead of growing and re-centring value by value.
fn ddsketch_of(values: &[(f64, u64)]) -> DDSketch {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut sketch = empty_ddsketch();
    let ends = [0, sorted.len().saturating_sub(1)];
    for &i in ends.iter().take(sorted.len().min(2)) {
        sketch.add_with_count(sorted[i].0, sorted[i].1);
    }
    for &(value, times) in sorted.iter().take(sorted.len().saturating_sub(1)).skip(1) {
        sketch.add_with_count(value, times);
    }
    sketch
}

impl Sketch {
    /// Adds `value` `times` times.
    pub fn add(&mut self, value: f64, times: u64) {
        if times == 0 {
            return;
        }
        match &mut self.0 {
            Inner::Exact(values) => {
                values.push((value, times));
                if values.len() > EXACT_VALUES {
                    self.0 = Inner::Approximate(ddsketch_of(values));
                }
            }
            Inner::Approximate(sketch) => sketch.add_with_count(value, times),
        }
    }

    /// Sorts exact values and adds up repeated ones, so reading percentiles sorts nothing.
    pub fn settle(&mut self) {
        if let Inner::Exact(values) = &mut self.0 {
            values.sort_by(|a, b| a.0.total_cmp(&b.0));
            values.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    kept.1 += later.1;
                }
                same
            });
        }
    }

    /// The sketch in DDSketch's portable binary format (as its Java and Go versions write it).
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.0 {
            Inner::Exact(values) => ddsketch_of(values).to_java_bytes(),
            Inner::Approximate(sketch) => sketch.to_java_bytes(),
        }
    }

    /// A sketch from [`Sketch::to_bytes`]; `None` for bytes that are not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Sketch> {
        DDSketch::from_java_bytes(bytes).ok().map(|s| Sketch(Inner::Approximate(s)))
    }

    /// Adds every value of `other`; false (and nothing added) when `other` was made with
    /// another accuracy, as a stored sketch from elsewhere might be.
    pub fn merge(&mut self, other: &Sketch) -> bool {
        match (&mut self.0, &other.0) {
            (_, Inner::Exact(values)) => {
                for &(value, times) in values {
                    self.add(value, times);
                }
                true
            }
            (Inner::Approximate(mine), Inner::Approximate(theirs)) => mine.merge(theirs).is_ok(),
            (Inner::Exact(values), Inner::Approximate(theirs)) => {
                let mut merged = theirs.clone();
                for &(value, times) in values.iter() {
                    merged.add_with_count(value, times);
                }
                self.0 = Inner::Approximate(merged);
                true
            }
        }
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        match &self.0 {
            Inner::Exact(values) => values.iter().map(|(_, n)| n).sum(),
            Inner::Approximate(sketch) => sketch.count() as u64,
        }
    }

    /// The value at quantile `q` (0 to 1); `None` when the sketch is empty. Exact values
    /// follow DDSketch's rank rule: the value below which `q × (count − 1)` values lie.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let q = q.clamp(0.0, 1.0);
        match &self.0 {
            Inner::Exact(values) => {
                let rank = (q * (self.count().checked_sub(1)? as f64)) as u64;
                let sorted = if values.is_sorted_by(|a, b| a.0 <= b.0) {
                    std::borrow::Cow::Borrowed(values)
                } else {
                    let mut copy = values.clone();
                    copy.sort_by(|a, b| a.0.total_cmp(&b.0));
                    std::borrow::Cow::Owned(copy)
                };
                let mut seen = 0;
                sorted
                    .iter()
                    .find(|(_, n)| {
                        seen += n;
                        seen > rank
                    })
                    .map(|(v, _)| *v)
            }
            Inner::Approximate(sketch) => sketch.quantile(q).ok().flatten(),
        }
    }
}

/// The figures of one metric in one group of measurements.
#[derive(Clone, Debug, Default)]
pub struct MeasureCell {
    /// The values of the query's dimensions that make the group (none when not grouped).
    pub keys: Vec<String>,
    /// The metric's name.
    pub metric: String,
    /// How many measurements.
    pub samples: u64,
    /// Their exact sum (for counts: the total; for timings: the mean's numerator).
    pub sum: f64,
    /// Measurements rated good, needs improvement and poor (zeros for metrics without
    /// thresholds).
    pub ratings: [u64; 3],
    /// The values' sketch, for percentiles.
    pub sketch: Sketch,
}

impl MeasureCell {
    /// The `q` percentile (0 to 100) of the values; `None` without values.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q / 100.0)
    }

    /// The mean of the values; `None` without values.
    pub fn mean(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.sum / self.samples as f64)
    }

    /// Adds a stored cell given by its parts; false (and nothing added) when its sketch does
    /// not merge.
    pub fn add_parts(&mut self, samples: u64, sum: f64, ratings: [u64; 3], sketch: &Sketch) -> bool {
        if !self.sketch.merge(sketch) {
            return false;
        }
        self.samples += samples;
        self.add_totals(sum, ratings);
        true
    }

    /// Adds a stored cell given by its values — (value, count) pairs, every count part of the
    /// cell's samples — with its exact sum and ratings.
    pub fn add_values(&mut self, sum: f64, ratings: [u64; 3], values: &[(f64, u64)]) {
        for &(value, n) in values {
            self.sketch.add(value, n);
            self.samples += n;
        }
        self.add_totals(sum, ratings);
    }

    fn add_totals(&mut self, sum: f64, ratings: [u64; 3]) {
        self.sum += sum;
        for (mine, theirs) in self.ratings.iter_mut().zip(ratings) {
            *mine += theirs;
        }
    }
}

/// One histogram row of a backend's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramRow {
    /// The group's dimension values, as many as the query has dimensions.
    pub keys: Vec<String>,
    /// The metric's name.
    pub metric: String,
    /// The bucket's value.
    pub bucket: f64,
    /// 0 good, 1 needs improvement, 2 poor, anything else: no rating.
    pub rating: u8,
    /// How many measurements fell in the bucket.
    pub n: u64,
    /// Their exact sum.
    pub total: f64,
}

/// Builds cells from histogram rows, then hands them out in group order.
#[derive(Default)]
pub struct MeasureCells {
    /// Per metric, per group: looked up by borrowed keys, so adding to a known group allocates
    /// nothing (a long range merges hundreds of thousands of stored cells).
    cells: HashMap<String, HashMap<Vec<String>, MeasureCell>>,
}

impl MeasureCells {
    /// The cell of a group and metric, empty when new.
    fn cell(&mut self, keys: &[String], metric: &str) -> &mut MeasureCell {
        if !self.cells.contains_key(metric) {
            self.cells.insert(metric.to_owned(), HashMap::new());
        }
        let groups = self.cells.get_mut(metric).expect("inserted above");
        if !groups.contains_key(keys) {
            let cell = MeasureCell { keys: keys.to_vec(), metric: metric.to_owned(), ..MeasureCell::default() };
            groups.insert(keys.to_vec(), cell);
        }
        groups.get_mut(keys).expect("inserted above")
    }

    /// Adds one histogram row to its group's cell.
    pub fn add(&mut self, row: HistogramRow) {
        let cell = self.cell(&row.keys, &row.metric);
        cell.samples += row.n;
        cell.sum += row.total;
        if let Some(r) = cell.ratings.get_mut(usize::from(row.rating)) {
            *r += row.n;
        }
        cell.sketch.add(row.bucket, row.n);
    }

    /// Adds a whole cell (from another day or backend) to its group's cell; false when its
    /// sketch does not merge.
    pub fn merge(&mut self, cell: MeasureCell) -> bool {
        self.merge_parts(&cell.keys, &cell.metric, cell.samples, cell.sum, cell.ratings, &cell.sketch)
    }

    /// Adds a stored cell given by its parts. False (and nothing added) when the sketch does
    /// not merge.
    pub fn merge_parts(
        &mut self,
        keys: &[String],
        metric: &str,
        samples: u64,
        sum: f64,
        ratings: [u64; 3],
        sketch: &Sketch,
    ) -> bool {
        let cell = self.cell(keys, metric);
        let merged = cell.add_parts(samples, sum, ratings, sketch);
        if cell.samples == 0 {
            // A group made only for this cell, which did not merge: leave no trace of it.
            if let Some(groups) = self.cells.get_mut(metric) {
                groups.remove(keys);
            }
        }
        merged
    }

    /// The cells, ordered by group, then metric name.
    pub fn into_cells(self) -> Vec<MeasureCell> {
        let mut out: Vec<MeasureCell> = self.cells.into_values().flat_map(HashMap::into_values).collect();
        for cell in &mut out {
            cell.sketch.settle();
        }
        out.sort_by(|a, b| a.keys.cmp(&b.keys).then_with(|| a.metric.cmp(&b.metric)));
        out
    }
}

/// Which rating index a web vital's value falls in; for tests and for the backends that rate
/// values in code.
pub fn rating_index(metric: Metric, value: f64) -> u8 {
    match metric.rate(value) {
        Some(Rating::Good) => 0,
        Some(Rating::NeedsImprovement) => 1,
        Some(Rating::Poor) => 2,
        None => 3,
    }
}

/// The 3-significant-digit bucket of `v`, as the backends compute it in SQL.
pub fn bucket_of(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powf(v.log10().floor() - 2.0);
    (v / scale).round() * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A deterministic log-normal-ish generator: page loads of a day, median about `median` ms.
    fn day_of_timings(seed: u64, n: usize, median: f64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                let mut u = [0.0f64; 2];
                for ui in &mut u {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    *ui = ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                }
                // Box-Muller: a normal deviate, exponentiated.
                let z = (-2.0 * u[0].ln()).sqrt() * (2.0 * std::f64::consts::PI * u[1]).cos();
                (median * (0.8 * z).exp()).round().max(1.0)
            })
            .collect()
    }

    fn exact(sorted: &[f64], q: f64) -> f64 {
        // The same rank rule as the sketch: the value below which a share q lies.
        let rank = (q * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank]
    }

    #[test]
    fn sketch_percentiles_of_merged_daily_sketches_are_within_one_percent_of_exact() {
        let mut all = Vec::new();
        let mut merged = MeasureCells::default();
        for day in 0..30u64 {
            let values = day_of_timings(day + 1, 5_000 + day as usize * 100, 1_500.0 + day as f64 * 40.0);
            // Each day goes the way the backends send it: a 3-significant-digit histogram.
            let mut histogram: BTreeMap<(u64, u8), (u64, f64)> = BTreeMap::new();
            for &v in &values {
                let entry = histogram.entry((bucket_of(v).to_bits(), rating_index(Metric::Lcp, v))).or_insert((0, 0.0));
                entry.0 += 1;
                entry.1 += v;
            }
            let mut daily = MeasureCells::default();
            for ((bucket, rating), (n, total)) in histogram {
                daily.add(HistogramRow {
                    keys: vec![],
                    metric: "lcp".into(),
                    bucket: f64::from_bits(bucket),
                    rating,
                    n,
                    total,
                });
            }
            for cell in daily.into_cells() {
                merged.merge(cell);
            }
            all.extend(values);
        }
        all.sort_by(f64::total_cmp);
        let cells = merged.into_cells();
        assert_eq!(cells.len(), 1);
        let cell = &cells[0];
        assert_eq!(cell.samples as usize, all.len());
        assert!((cell.sum - all.iter().sum::<f64>()).abs() < 1e-6 * cell.sum, "sums are exact");
        for q in [50.0, 75.0, 95.0] {
            let (estimate, truth) = (cell.percentile(q).unwrap(), exact(&all, q / 100.0));
            let error = (estimate - truth).abs() / truth;
            assert!(error <= 0.01, "p{q}: {estimate} vs exact {truth}: {:.3}% off", error * 100.0);
        }
        let good = all.iter().filter(|v| **v <= 2500.0).count() as u64;
        let poor = all.iter().filter(|v| **v > 4000.0).count() as u64;
        assert_eq!(cell.ratings, [good, all.len() as u64 - good - poor, poor], "ratings are exact");
    }

    #[test]
    fn sketch_bytes_round_trip_and_merge_with_fresh_sketches() {
        let mut stored = Sketch::default();
        stored.add(1200.0, 3);
        stored.add(0.05, 2);
        let back = Sketch::from_bytes(&stored.to_bytes()).expect("decodes");
        assert_eq!(back.count(), 5);
        let mut fresh = Sketch::default();
        fresh.add(4000.0, 5);
        fresh.merge(&back);
        assert_eq!(fresh.count(), 10, "a stored sketch merges with a new one");
        assert!((fresh.quantile(0.5).unwrap() - 1200.0).abs() <= 12.0);
        assert!(Sketch::from_bytes(b"not a sketch").is_none());
    }

    #[test]
    fn sketch_exact_values_answer_like_the_ddsketch_they_become() {
        let mut few = Sketch::default();
        let mut many = Sketch::default();
        for (i, v) in [120.0, 80.0, 3000.0, 80.0, 950.0, 0.0].into_iter().enumerate() {
            few.add(v, i as u64 + 1);
        }
        for i in 0..600 {
            many.add(f64::from(i) * 10.0, 1);
        }
        let as_ddsketch = Sketch::from_bytes(&few.to_bytes()).unwrap();
        assert_eq!(few.count(), 21);
        for q in [0.0, 0.1, 0.5, 0.75, 0.95, 1.0] {
            let (exact, approx) = (few.quantile(q).unwrap(), as_ddsketch.quantile(q).unwrap());
            assert!((exact - approx).abs() <= exact * 0.011, "q{q}: exact {exact}, DDSketch {approx}");
        }
        assert_eq!(few.quantile(0.5), Some(80.0), "ranks 6 to 11 of 0–20 hold 80");
        assert!(matches!(many.0, Inner::Approximate(_)), "beyond {EXACT_VALUES} entries: a DDSketch");
        assert!((many.quantile(0.75).unwrap() - 4490.0).abs() <= 4490.0 * 0.01);
        let mut merged = few.clone();
        assert!(merged.merge(&many) && merged.count() == 621);
        let mut other_way = many.clone();
        assert!(other_way.merge(&few) && other_way.count() == 621);
        let mut settled = few.clone();
        settled.settle();
        assert!(matches!(&settled.0, Inner::Exact(v) if v.len() == 5), "the two 80s are one entry");
        for q in [0.0, 0.3, 0.5, 0.9, 1.0] {
            assert_eq!(settled.quantile(q), few.quantile(q), "q{q}");
        }
        assert_eq!(Sketch::default().quantile(0.5), None);
    }

    #[test]
    fn sketch_buckets_keep_three_significant_digits() {
        assert_eq!(bucket_of(0.0), 0.0);
        assert_eq!(bucket_of(2504.0), 2500.0);
        assert_eq!(bucket_of(2505.0), 2510.0);
        assert_eq!(bucket_of(87.0), 87.0);
        assert!((bucket_of(0.12345) - 0.123).abs() < 1e-12);
        for v in [1.0, 17.3, 999.9, 12_345.0, 599_999.0] {
            assert!((bucket_of(v) - v).abs() / v <= 0.005);
        }
    }
}
