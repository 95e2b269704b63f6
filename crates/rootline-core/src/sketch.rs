//! Which requests a message was written in, kept small: a bottom-k sketch of the trace ids of
//! a template's records. Two sketches estimate how much two messages share their requests,
//! which tells one code path (every request that writes the first writes the second) from two
//! paths that merely run as often.

/// Trace hashes a template keeps: the smallest ones of all its records' traces. 32 estimates a
/// share of 0.9 within about ±0.05, and costs 256 bytes per template.
pub const TRACE_SKETCH_SIZE: usize = 32;

/// A stable, well-spread 64-bit hash of a trace id (FNV-1a, then a SplitMix64 finaliser so that
/// ids differing in their last bytes land far apart, as the bottom-k estimate needs).
pub fn trace_hash(trace_id: &str) -> u64 {
    let mut h = crate::hash::fnv1a(trace_id.bytes());
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d049bb133111eb);
    h ^ (h >> 31)
}

/// Seconds a template's seconds sketch keeps: enough to tell one burst (a handful of seconds,
/// counted exactly) from a steady message (estimated within about ±20 %).
pub const SECONDS_SKETCH_SIZE: usize = 32;

/// The hash of the second `ts_ns` falls in: a sketch of these counts the distinct seconds a
/// message was written in, which tells a steady message from one burst of many lines.
pub fn second_hash(ts_ns: i64) -> u64 {
    splitmix(ts_ns.div_euclid(1_000_000_000) as u64)
}

fn splitmix(mut h: u64) -> u64 {
    h = h.wrapping_add(0x9e3779b97f4a7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d049bb133111eb);
    h ^ (h >> 31)
}

/// Distinct items a bottom-k sketch of `k` stands for: exact below `k`, otherwise the classic
/// `(k - 1) / largest kept hash` estimate (hashes read as fractions of 2^64), within about
/// ±20 % at `k` = 32.
pub fn sketch_distinct(sketch: &[u64], k: usize) -> f64 {
    match sketch.last() {
        Some(&max) if sketch.len() >= k && k > 1 => {
            (k as f64 - 1.0) / ((max as f64 + 1.0) / 18_446_744_073_709_551_616.0)
        }
        _ => sketch.len() as f64,
    }
}

/// Adds `hash` to a sorted bottom-k sketch, keeping at most `k` of the smallest distinct hashes.
pub fn sketch_insert(sketch: &mut Vec<u64>, hash: u64, k: usize) {
    if sketch.len() >= k && sketch.last().is_some_and(|&max| hash >= max) {
        return;
    }
    if let Err(at) = sketch.binary_search(&hash) {
        sketch.insert(at, hash);
        sketch.truncate(k);
    }
}

/// The bottom-k sketch of the union of the two sets `a` and `b` sketch.
pub fn sketch_union(a: &[u64], b: &[u64], k: usize) -> Vec<u64> {
    let mut out = a.to_vec();
    for &h in b {
        sketch_insert(&mut out, h, k);
    }
    out
}

/// Estimated share of the requests of either message that wrote both (Jaccard similarity of
/// the two trace sets), from their bottom-k sketches. `None` when either has no traces.
pub fn shared_requests(a: &[u64], b: &[u64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let k = a.len().max(b.len());
    let union = sketch_union(a, b, k);
    let both = union
        .iter()
        .filter(|h| a.binary_search(h).is_ok() && b.binary_search(h).is_ok())
        .count();
    Some(both as f64 / union.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch_of(ids: impl Iterator<Item = String>) -> Vec<u64> {
        let mut s = Vec::new();
        for id in ids {
            sketch_insert(&mut s, trace_hash(&id), TRACE_SKETCH_SIZE);
        }
        s
    }

    #[test]
    fn distinct_seconds_are_counted_exactly_when_few_and_estimated_when_many() {
        let mut burst = Vec::new();
        // 2,000 lines within two seconds: two seconds.
        for i in 0..2_000i64 {
            sketch_insert(
                &mut burst,
                second_hash(1_000_000_000 * 50 + i * 1_000_000),
                32,
            );
        }
        assert_eq!(sketch_distinct(&burst, 32), 2.0);
        let mut steady = Vec::new();
        for s in 0..5_000i64 {
            sketch_insert(&mut steady, second_hash(s * 1_000_000_000 + 7), 32);
        }
        let estimate = sketch_distinct(&steady, 32);
        assert!((3_500.0..6_500.0).contains(&estimate), "{estimate}");
        assert_eq!(sketch_distinct(&[], 32), 0.0);
    }

    #[test]
    fn keeps_the_smallest_distinct_hashes_in_order() {
        let mut s = Vec::new();
        for h in [9, 3, 7, 3, 1, 8] {
            sketch_insert(&mut s, h, 3);
        }
        assert_eq!(s, vec![1, 3, 7]);
    }

    #[test]
    fn one_code_path_shares_its_requests_and_two_paths_do_not() {
        let path: Vec<String> = (0..500).map(|i| format!("trace-{i}")).collect();
        let first = sketch_of(path.iter().cloned());
        // The second message of the same path, missing from a tenth of the requests.
        let second = sketch_of(path.iter().skip(50).cloned());
        let share = shared_requests(&first, &second).unwrap();
        assert!((0.8..=1.0).contains(&share), "{share}");
        // Another endpoint's message, as frequent, in other requests.
        let other = sketch_of((0..500).map(|i| format!("other-{i}")));
        assert!(shared_requests(&first, &other).unwrap() < 0.2);
        assert_eq!(shared_requests(&first, &[]), None);
    }
}
