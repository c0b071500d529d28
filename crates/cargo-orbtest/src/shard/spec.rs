//! `--shard K/N`: which of N shards this run is, 1-based like nextest's `hash:K/N`.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`, `1 <= index <= count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("`{0}` is not K/N (for example 2/4: shard 2 of 4)")]
    Shape(String),
    #[error("`{0}`: shards are numbered from 1 to N, like nextest's hash:K/N (shard 0 does not exist)")]
    Zero(String),
    #[error("`{0}`: shard {1} of {2} does not exist (K must be at most N)")]
    OutOfRange(String, u32, u32),
}

impl FromStr for ShardSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| SpecError::Shape(s.to_string()))?;
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| SpecError::Shape(s.to_string()));
        let (index, count) = (parse(k)?, parse(n)?);
        if index == 0 || count == 0 {
            return Err(SpecError::Zero(s.to_string()));
        }
        if index > count {
            return Err(SpecError::OutOfRange(s.to_string(), index, count));
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard a test goes to by hash of its tier and id: stable across machines, runs and
/// orbtest versions (SHA-256, not Rust's randomized hasher), 1-based.
pub fn hash_shard(tier: &str, id: &str, count: u32) -> u32 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(tier.as_bytes());
    h.update([0]);
    h.update(id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_based_k_of_n() {
        assert_eq!("2/4".parse::<ShardSpec>().unwrap(), ShardSpec { index: 2, count: 4 });
        assert_eq!(" 1/1 ".parse::<ShardSpec>().unwrap().to_string(), "1/1");
        assert!(matches!("0/4".parse::<ShardSpec>(), Err(SpecError::Zero(_))));
        assert!(matches!("5/4".parse::<ShardSpec>(), Err(SpecError::OutOfRange(..))));
        for bad in ["", "2", "2/", "/4", "a/b", "-1/4", "2/4/8"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hashing_is_stable_and_spreads() {
        // Fixed values (SHA-256 of tier, NUL, id; first 8 bytes big-endian, mod N, plus 1): a
        // change here moves tests between shards of every user's CI.
        assert_eq!(hash_shard("fast", "pkg::tests::a", 4), 3);
        assert_eq!(hash_shard("it", "pkg::it::login", 4), 1);
        assert_eq!(hash_shard("", "python", 3), 2);
        let mut seen = [0u32; 4];
        for i in 0..400 {
            let k = hash_shard("fast", &format!("pkg::t{i}"), 4);
            assert!((1..=4).contains(&k));
            seen[(k - 1) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }
}
