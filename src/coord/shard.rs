//! `--shard K/N`: which files a host takes when N hosts share one folder. A file's shard is a
//! stable hash of its path relative to the data folder, so every host agrees on it without
//! talking to the others, and a file keeps its shard across runs and hosts.

/// Shard `k` of `n` (from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not K/N with 0 <= K < N, e.g. 0/2");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k >= n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// The shard of a path: the first 64 bits of its blake3 hash, modulo N.
    pub fn of(rel: &str, n: u32) -> u32 {
        let digest = blake3::hash(rel.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        (u64::from_le_bytes(first) % u64::from(n)) as u32
    }

    pub fn takes(&self, rel: &str) -> bool {
        Shard::of(rel, self.n) == self.k
    }

    pub(super) fn node_suffix(&self) -> String {
        format!("shard-{}-of-{}", self.k, self.n)
    }

    pub(super) fn from_node_suffix(text: &str) -> Option<Shard> {
        let (k, n) = text.strip_prefix("shard-")?.split_once("-of-")?;
        Some(Shard {
            k: k.parse().ok()?,
            n: n.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_paths_stably() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { k: 1, n: 3 }));
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
        // The hash is part of the interface: hosts of different versions must agree.
        assert_eq!(Shard::of("a.csv", 2), Shard::of("a.csv", 2));
        let taken: Vec<bool> = (0..100)
            .map(|i| Shard { k: 0, n: 2 }.takes(&format!("f{i}.csv")))
            .collect();
        let zeros = taken.iter().filter(|t| **t).count();
        assert!((30..70).contains(&zeros), "{zeros}");
        let s = Shard { k: 1, n: 2 };
        assert_eq!(Shard::from_node_suffix(&s.node_suffix()), Some(s));
    }
}
