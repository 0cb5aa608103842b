//! Reading back what landed: a run over many small files asks the table about them in a few
//! queries on every server, however many file ids the question carries.

use crate::util::*;

#[test]
fn many_small_files_are_read_back_in_a_few_queries() {
    let env = Env::new("read_back_many");
    env.q("CREATE TABLE {db}.t (id UInt32) ENGINE = MergeTree ORDER BY id");
    for i in 0..1500 {
        env.write(&format!("f{i:04}.csv"), format!("id\n{i}\n"));
    }
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 0);
    assert_eq!(
        env.q("SELECT count(), uniqExact(id), sum(id) FROM {db}.t")
            .trim(),
        "1500\t1500\t1124250"
    );
    assert_eq!(env.event_count("done"), 1500);
    if env.ch.is_old() {
        // 18.16 binds values as literals, and logs no query but inserts unless asked to.
        return;
    }
    env.q("SYSTEM FLUSH LOGS");
    // 1,500 ids once took one query parameter each, past the server's limit of form fields: the
    // read-back was refused and every file was then finished on its own, with questions of its
    // own.
    let asked = env.q(
        "SELECT count() FROM system.query_log WHERE type = 'QueryFinish' \
         AND query LIKE 'SELECT%' AND query LIKE '%{db}%'",
    );
    let asked: u64 = asked.trim().parse().expect("a count");
    assert!(asked <= 50, "{asked} questions for 1,500 files");
}
