//! Sharding: which targets this replica schedules and exports when N replicas share one config
//! (`--shard.total N --shard.index I`, or `global.shards`).
//!
//! A target belongs to the shard that jump consistent hashing (Lamping and Veach, 2014) gives
//! its name: the same on every machine and release (a fixed hash, never the standard library's
//! seeded one), even across shards (within a few percent at 100,000 names), and going from N to
//! N+1 replicas moves only the ~1/(N+1) of the targets that the new replica takes. `/probe`
//! answers for every target whatever the shard, so Prometheus may drive it from any replica.

use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};

/// One replica's part: shard `index` (0-based) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

/// Why a shard setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("shard total must be at least 1")]
    NoShards,
    #[error("shard index {index} is out of range; with {total} shards it is 0 to {}", total - 1)]
    OutOfRange { index: u32, total: u32 },
}

impl Shard {
    /// Checks `index < total`, `total >= 1`.
    pub fn new(index: u32, total: u32) -> Result<Shard, ShardError> {
        if total == 0 {
            return Err(ShardError::NoShards);
        }
        if index >= total {
            return Err(ShardError::OutOfRange { index, total });
        }
        Ok(Shard { index, total })
    }

    /// Whether this shard schedules and exports the target called `name`.
    pub fn owns(&self, name: &str) -> bool {
        owner(name, self.total) == self.index
    }
}

/// The shard (0..total) that owns the target called `name`.
pub fn owner(name: &str, total: u32) -> u32 {
    jump(mix(fnv1a(name.as_bytes())), total.max(1))
}

/// FNV-1a, 64 bit: fixed, so every replica and release agrees.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The splitmix64 finaliser: FNV's low-entropy high bits (names that differ only in their last
/// digit) are spread over the whole word, which jump hashing draws from.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Jump consistent hash: the bucket in 0..buckets for `key`. A key only ever moves to the newly
/// added bucket as `buckets` grows. At most ~ln(buckets) rounds.
fn jump(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// `mailbeat_shard_info{index,total}` and `mailbeat_shard_targets`.
#[derive(Clone)]
pub struct ShardGauges {
    info: IntGaugeVec,
    owned: IntGauge,
}

impl ShardGauges {
    /// Creates the gauges and registers them in `registry`; returns their names.
    pub fn register(registry: &Registry) -> prometheus::Result<(Self, Vec<String>)> {
        let info = IntGaugeVec::new(
            Opts::new(
                "mailbeat_shard_info",
                "The shard this instance schedules and exports (index of total); always 1.",
            ),
            &["index", "total"],
        )?;
        let owned = IntGauge::new(
            "mailbeat_shard_targets",
            "Targets this instance's shard owns: the ones it schedules and exports.",
        )?;
        registry.register(Box::new(info.clone()))?;
        registry.register(Box::new(owned.clone()))?;
        let names = vec![
            "mailbeat_shard_info".into(),
            "mailbeat_shard_targets".into(),
        ];
        Ok((ShardGauges { info, owned }, names))
    }

    /// Shows the shard in force (`None`: the only one, 0 of 1) and how many targets it owns.
    pub fn set(&self, shard: Option<Shard>, owned: usize) {
        let s = shard.unwrap_or(Shard { index: 0, total: 1 });
        self.info.reset();
        self.info
            .with_label_values(&[&s.index.to_string(), &s.total.to_string()])
            .set(1);
        self.owned.set(owned as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        (0..100_000)
            .map(|i| format!("mbx-{i:06}@customer{}.example", i % 97))
            .collect()
    }

    #[test]
    fn owners_are_fixed_known_values() {
        // Any change here moves targets between replicas on upgrade: it must never happen.
        let got: Vec<u32> = [
            "nas-gmail",
            "alice-imap",
            "relay-acme",
            "t00000",
            "t00001",
            "",
        ]
        .iter()
        .map(|n| owner(n, 10))
        .collect();
        assert_eq!(got, KNOWN);
        assert_eq!(owner("anything", 1), 0);
        assert_eq!(owner("anything", 0), 0, "no shards reads as one");
    }

    const KNOWN: [u32; 6] = [7, 2, 9, 3, 9, 5];

    #[test]
    fn the_parts_match_their_published_values() {
        // FNV-1a 64 of "a" and "foobar" (the FNV reference test suite).
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        // Jump hash with keys given outright, as other implementations test it.
        assert_eq!(jump(10_863_919_174_838_991, 11), 6);
        assert_eq!(jump(2_016_238_256_797_177_309, 11), 3);
        assert_eq!(jump(1, 1), 0);
    }

    #[test]
    fn shards_are_balanced_within_five_percent() {
        let names = names();
        for total in 2..=10u32 {
            let mut counts = vec![0usize; total as usize];
            for n in &names {
                counts[owner(n, total) as usize] += 1;
            }
            let fair = names.len() as f64 / f64::from(total);
            for (i, c) in counts.iter().enumerate() {
                let off = (*c as f64 - fair).abs() / fair;
                assert!(
                    off <= 0.05,
                    "N={total}: shard {i} has {c}, {:.1} % off",
                    off * 100.0
                );
            }
        }
    }

    #[test]
    fn adding_a_replica_moves_only_what_the_new_one_takes() {
        let names = names();
        for total in 1..=10u32 {
            let moved: Vec<&String> = names
                .iter()
                .filter(|n| owner(n, total) != owner(n, total + 1))
                .collect();
            let share = moved.len() as f64 / names.len() as f64;
            let bound = 1.2 / f64::from(total + 1);
            assert!(
                share <= bound,
                "N={total}→{}: {share:.4} moved > {bound:.4}",
                total + 1
            );
            assert!(
                moved.iter().all(|n| owner(n, total + 1) == total),
                "a moved target goes to the new replica only"
            );
        }
    }

    #[test]
    fn a_shard_is_in_range() {
        assert!(Shard::new(0, 1).is_ok());
        assert_eq!(Shard::new(0, 0), Err(ShardError::NoShards));
        assert_eq!(
            Shard::new(2, 2).unwrap_err().to_string(),
            "shard index 2 is out of range; with 2 shards it is 0 to 1"
        );
        let s = Shard::new(1, 3).unwrap();
        let owned = names().iter().filter(|n| s.owns(n)).count();
        assert!((30_000..36_000).contains(&owned), "{owned}");
    }
}
