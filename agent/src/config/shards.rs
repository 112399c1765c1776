//! `global.shards: {total, index}`: this instance's part when N replicas share the config (the
//! command line's `--shard.total`/`--shard.index` win over it). See [`crate::shard`].

use super::raw::RawShards;
use super::validator::{loc, Validator};
use crate::shard::Shard;

impl Validator<'_> {
    pub(super) fn shards(&mut self, raw: Option<&RawShards>) -> Option<Shard> {
        let raw = raw?;
        match Shard::new(raw.index.value, raw.total.value) {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(loc(&raw.index), "global.shards", e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::shard::Shard;
    use std::path::Path;

    #[test]
    fn global_shards_is_read_and_checked() {
        let ok = parse(
            "global: {shards: {total: 3, index: 2}}\n",
            "s.yml",
            Path::new("."),
            &[],
        )
        .unwrap();
        assert_eq!(ok.global.shards, Some(Shard { index: 2, total: 3 }));
        let err = parse(
            "global:\n  shards: {total: 3, index: 3}\n",
            "s.yml",
            Path::new("."),
            &[],
        )
        .unwrap_err()
        .to_string();
        // The first line is the problem; its snippet follows.
        assert_eq!(
            err.lines().next().unwrap_or_default(),
            "s.yml:2:29: global.shards: shard index 3 is out of range; with 3 shards it is 0 to 2"
        );
    }
}
