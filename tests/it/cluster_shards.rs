//! Hosts of different shards meeting the same content under two names at the same moment (a
//! copy whose path hashes to the other shard): each content is claimed in ZooKeeper by one run,
//! left by the other, and found ingested by its next run — every record once. On the real
//! cluster of `cluster_harness.rs` (ClickHouse 18.16; the 26.9 server cannot replicate).

use crate::cluster::CEnv;
use crate::cluster_harness::{cluster, runs_here};
use crate::util::{assert_code, reviews_csv};
use std::process::Stdio;

/// The shard of a path, as `ingest --shard K/N` computes it (part of its interface).
fn shard_of(rel: &str, n: u64) -> u64 {
    let digest = blake3::hash(rel.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first) % n
}

/// A name for the copy of content `i` in shard `k` of 2.
fn name_in(k: u64, i: u64) -> String {
    (0..)
        .map(|v| format!("s{k}/copy{i}-{v}.csv"))
        .find(|rel| shard_of(rel, 2) == k)
        .unwrap()
}

#[test]
fn copies_of_one_content_in_two_shards_are_ingested_once_by_hosts_at_work_together() {
    if !runs_here() {
        return;
    }
    let (_one, cl) = cluster();
    let env = CEnv::new(cl, "copies");
    env.reviews_with_provenance("local", "dist");
    env.reference();
    for i in 0..8 {
        let csv = reviews_csv(i * 1000, if i % 3 == 0 { 2500 } else { 200 });
        env.write(&name_in(0, i), &csv);
        env.write(&name_in(1, i), &csv);
        env.add_reference(&csv);
    }
    let args = |shard: &str| env.shard_args(shard);
    let hosts: [(&[usize], &str); 2] = [(&[0, 1], "0/2"), (&[2, 3], "1/2")];
    for _ in 0..2 {
        let children: Vec<_> = hosts
            .iter()
            .map(|(nodes, shard)| {
                env.command(nodes)
                    .args(args(shard))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    cl.sync(&format!("{}.local", env.db));
    env.assert_exactly_once(0, "dist");
    env.assert_exactly_once(2, "dist");
    // Every copy is ingested or a duplicate by now: a third pair of runs has nothing to do.
    for (nodes, shard) in hosts {
        let mut a = args(shard);
        a.extend(["--output".to_owned(), "json".to_owned()]);
        let out = env.ingest(nodes, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_code(&out, 0);
        let summary: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
        let files = &summary["files"];
        assert_eq!(files["ingested"], 0, "{}", out.stdout);
        assert_eq!(files["unsettled"], 0, "{}", out.stdout);
        assert_eq!(files["failed"], 0, "{}", out.stdout);
    }
}
