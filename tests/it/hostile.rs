//! A hostile data folder: whoever can drop files there cannot crash the tool for good, make it
//! read, write or move anything outside the folder, hang it, or learn a secret from it.

use crate::util::*;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the command to its end, or kills it and fails the test if it takes longer than `secs`.
fn run_within(cmd: &mut Command, secs: u64) -> Output {
    finish_within(spawn(cmd), secs)
}

/// Starts the command with its output read on threads of their own, so that it never blocks.
fn spawn(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ingest");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    Running {
        child,
        stdout,
        stderr,
    }
}

struct Running {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn finish_within(mut r: Running, secs: u64) -> Output {
    let until = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = r.child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > until {
            let _ = r.child.kill();
            let _ = r.child.wait();
            panic!(
                "ingest hung for {secs}s:\n{}{}",
                r.stdout.join().unwrap(),
                r.stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: r.stdout.join().unwrap(),
        stderr: r.stderr.join().unwrap(),
    }
}

/// Waits until the run reaches the rendezvous `name` armed with `hooks` as its folder.
fn reached(hooks: &Path, name: &str, child: &mut Running) {
    let until = Instant::now() + Duration::from_secs(60);
    while !hooks.join(format!("{name}.reached")).exists() {
        if let Some(status) = child.child.try_wait().expect("wait") {
            panic!("ingest ended ({status}) before reaching {name}");
        }
        assert!(Instant::now() < until, "ingest never reached {name}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn go(hooks: &Path, name: &str) {
    std::fs::write(hooks.join(format!("{name}.go")), "").unwrap();
}

fn hooks(env: &Env) -> PathBuf {
    let dir = env.dir.path().join("hooks");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mtime(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// Writes `content` over the file in place, keeping its size and modification time.
fn rewrite_in_place(path: &Path, content: &str) {
    let before = mtime(path);
    assert_eq!(std::fs::metadata(path).unwrap().len(), content.len() as u64);
    std::fs::write(path, content).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(before)
        .unwrap();
}

/// Everything in a folder and below it, as relative paths.
fn contents(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1).follow_links(false) {
        let e = e.unwrap();
        out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
    }
    out.sort();
    out
}

/// `(path, status, detail)` of every file in a run's JSON summary.
fn outcomes(out: &Output) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not a JSON summary ({e}):\n{}", out.all()));
    v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let field = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
            (field("path"), field("status"), field("detail"))
        })
        .collect()
}

fn deep(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn a_deeply_nested_record_fails_its_file_alone_and_the_others_land() {
    let env = Env::new("hostile_deep");
    env.q("CREATE TABLE {db}.t (id Int64, tags String) ENGINE = MergeTree ORDER BY id");
    env.write("a.jsonl", "{\"id\": 1, \"tags\": \"x\"}\n");
    // A 7 KB line nested a few thousand deep overflowed the stack before.
    let line = format!("{{\"id\": 2, \"tags\": {}}}\n", deep(3500));
    env.write(
        "b.jsonl",
        format!("{{\"id\": 20, \"tags\": \"ok\"}}\n{line}"),
    );
    env.write(
        "c.json",
        format!("[{{\"id\": 3, \"tags\": {}}}]", deep(5000)),
    );
    env.write(
        "d.jsonl",
        format!("{{\"id\": 4, \"tags\": {}}}\n", deep(64)),
    );
    env.write("e.jsonl", "{\"id\": 5, \"tags\": \"y\"}\n");
    for args in [vec!["--table", "t", "--dry-run"], vec!["--table", "t"]] {
        let out = env.ingest(&args);
        assert_code(&out, 3);
        for (file, line) in [("b.jsonl", 2), ("c.json", 1), ("d.jsonl", 1)] {
            let error = format!(
                "{file}:{line}: arrays and objects nested more than 64 levels deep (the limit)"
            );
            assert!(out.stdout.contains(&error), "{error}:\n{}", out.all());
        }
    }
    assert_eq!(
        env.q("SELECT groupArray(id) FROM (SELECT id FROM {db}.t ORDER BY id)")
            .trim(),
        "[1,5]"
    );
    // Nested up to the limit is fine.
    env.write(
        "f.jsonl",
        format!("{{\"id\": 6, \"tags\": {}}}\n", deep(63)),
    );
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 3);
}

#[test]
fn a_planted_lock_symlink_or_fifo_is_refused_and_its_target_untouched() {
    let env = Env::new("hostile_lock");
    create_reviews(&env, "reviews");
    env.write("a.csv", reviews_csv(0, 5));
    let target = env.dir.path().join("precious.txt");
    std::fs::write(&target, "secret contents\n").unwrap();
    symlink(&target, env.path(".ingest.lock")).unwrap();
    // Someone holds a lock on the target: the message once printed its contents.
    let held = std::fs::File::open(&target).unwrap();
    held.lock().unwrap();
    let out = run_within(env.command("run").args(["--table", "reviews"]), 60);
    assert_code(&out, 1);
    assert!(
        out.stderr
            .contains("is a symbolic link, which is never followed"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("secret contents"));
    assert_eq!(std::fs::read(&target).unwrap(), b"secret contents\n");
    drop(held);
    let out = run_within(env.command("run").args(["--table", "reviews"]), 60);
    assert_code(&out, 1);
    assert_eq!(std::fs::read(&target).unwrap(), b"secret contents\n");
    std::fs::remove_file(env.path(".ingest.lock")).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        env.path(".ingest.lock"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    let out = run_within(env.command("run").args(["--table", "reviews"]), 60);
    assert_code(&out, 1);
    assert!(
        out.stderr.contains("is not a regular file"),
        "{}",
        out.all()
    );
    std::fs::remove_file(env.path(".ingest.lock")).unwrap();
    let out = env.ingest(&["--table", "reviews"]);
    assert_code(&out, 0);
    assert_eq!(env.count("reviews"), 5);
    assert_eq!(std::fs::read(env.path(".ingest.lock")).unwrap(), b"");
}

#[test]
fn a_lock_file_another_user_made_still_serves_or_names_the_fix() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let env = Env::new("hostile_lock_owner");
    create_reviews(&env, "reviews");
    env.write("a.csv", reviews_csv(0, 3));
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    let lock = env.path(".ingest.lock");
    std::fs::write(&lock, "").unwrap();
    // As root, the lock file is root's and the run is another user's (root could read any
    // file); otherwise the lock file is the run's own, with the read bit taken away.
    let root = std::fs::metadata(&lock).unwrap().uid() == 0;
    let (readable, unreadable) = if root { (0o644, 0o600) } else { (0o444, 0o000) };
    if root {
        mode(env.dir.path(), 0o755).unwrap();
        mode(&env.data(), 0o777).unwrap();
    }
    let run_as_user = || {
        let mut cmd = env.command("run");
        cmd.args(["--table", "reviews"]);
        if root {
            cmd.uid(65534).gid(65534);
        }
        run(&mut cmd)
    };
    mode(&lock, unreadable).unwrap();
    let out = run_as_user();
    assert_code(&out, 2);
    assert!(
        out.stderr.contains(&format!(
            "cannot open lock file {}: permission denied",
            lock.display()
        )) && out.stderr.contains("chmod a+r"),
        "{}",
        out.stderr
    );
    mode(&lock, readable).unwrap();
    let out = run_as_user();
    assert_code(&out, 0);
    assert_eq!(env.count("reviews"), 3);
}

#[test]
fn a_lock_held_by_another_run_is_reported_without_its_contents() {
    let env = Env::new("hostile_lock_held");
    create_reviews(&env, "reviews");
    env.write(".ingest.lock", "not a pid: secret\n");
    let lock = std::fs::File::open(env.path(".ingest.lock")).unwrap();
    lock.lock().unwrap();
    let out = env.ingest(&["--table", "reviews"]);
    assert_code(&out, 5);
    assert!(
        out.stderr.contains(&format!(
            "another ingest run (pid {}) holds the lock",
            std::process::id()
        )),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("secret"));
}

#[test]
fn a_symlink_or_fifo_swapped_in_after_the_scan_is_not_read() {
    let env = Env::new("hostile_swap");
    env.q("CREATE TABLE {db}.t (id Int64, v String) ENGINE = MergeTree ORDER BY id");
    let outside = tempfile::tempdir().unwrap();
    for (name, id) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] {
        env.write(&format!("{name}.csv"), format!("id,v\n{id},plain\n"));
    }
    // Same size as each file it replaces.
    let secret = outside.path().join("secret.csv");
    std::fs::write(&secret, "id,v\n9,SECRT\n").unwrap();
    std::fs::create_dir(env.path("sub")).unwrap();
    let hooks = hooks(&env);
    let mut child = spawn(
        env.command("run")
            .args(["--table", "t", "--output", "json"])
            .env(
                "FAILPOINTS",
                format!("after-scan=return({})", hooks.display()),
            ),
    );
    reached(&hooks, "after-scan", &mut child);
    let swap = |name: &str| {
        let path = env.path(name);
        std::fs::remove_file(&path).unwrap();
        path
    };
    // A symlink that leads out of the folder.
    symlink(&secret, swap("a.csv")).unwrap();
    // A FIFO, which would block a reader forever.
    let fifo = swap("b.csv");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    // A symlink to another file inside the folder.
    let link = swap("d.csv");
    std::fs::write(env.path("sub/d.csv"), "id,v\n8,INNER\n").unwrap();
    symlink("sub/d.csv", &link).unwrap();
    go(&hooks, "after-scan");
    let out = finish_within(child, 60);
    assert_code(&out, 0);
    let seen = outcomes(&out);
    for (file, why) in [
        ("a.csv", "not read: symlink leads outside the data folder"),
        (
            "b.csv",
            "not read: not a regular file (a FIFO, socket, device or folder)",
        ),
    ] {
        assert!(
            seen.iter()
                .any(|(p, s, d)| p == file && s == "ignored" && d == why),
            "{file}: {seen:?}"
        );
    }
    // Another file than the one scanned: not read now, whatever it is.
    assert!(
        seen.iter()
            .any(|(p, s, _)| p == "d.csv" && (s == "ignored" || s == "unsettled")),
        "{seen:?}"
    );
    assert_eq!(
        env.q("SELECT groupArray(v) FROM (SELECT v FROM {db}.t ORDER BY id)")
            .trim(),
        "['plain']"
    );
    // The next run sees the folder as it is now, and reads only what it allows.
    let out = run_within(
        env.command("run")
            .args(["--table", "t", "--output", "json"]),
        60,
    );
    assert_code(&out, 0);
    let seen = outcomes(&out);
    for (file, why) in [
        ("a.csv", "symlink leads outside the data folder"),
        ("b.csv", "not a regular file"),
    ] {
        assert!(
            seen.iter()
                .any(|(p, s, d)| p == file && s == "ignored" && d == why),
            "{file}: {seen:?}"
        );
    }
    assert_eq!(
        env.q("SELECT groupArray(v) FROM (SELECT v FROM {db}.t ORDER BY id)")
            .trim(),
        "['plain','INNER']"
    );
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "id,v\n9,SECRT\n");
}

#[test]
fn no_move_or_report_lands_outside_the_data_folder() {
    let env = Env::new("hostile_moves");
    create_reviews(&env, "reviews");
    let outside = tempfile::tempdir().unwrap();
    let (out_done, out_quarantine, out_folder) = (
        outside.path().join("done"),
        outside.path().join("quarantine"),
        outside.path().join("folder"),
    );
    for d in [&out_done, &out_quarantine, &out_folder] {
        std::fs::create_dir(d).unwrap();
    }
    // Symlinked subfolders planted in a done and a quarantine folder inside the data folder, and
    // in a done folder outside it; and a done folder that is itself a planted symlink.
    std::fs::create_dir_all(env.path("done")).unwrap();
    std::fs::create_dir_all(env.path("quarantine")).unwrap();
    symlink(&out_done, env.path("done/sub")).unwrap();
    symlink(&out_quarantine, env.path("quarantine/sub")).unwrap();
    let own_done = env.dir.path().join("own-done");
    std::fs::create_dir_all(&own_done).unwrap();
    symlink(&out_folder, own_done.join("sub")).unwrap();
    env.write("sub/good.csv", reviews_csv(0, 3));
    env.write("sub/bad.csv", "rating,title\nnot a number,x\n");
    let data = env.data();
    let run = |done: &Path| {
        env.ingest(&[
            "--table",
            "reviews",
            "--after",
            "move",
            "--done-dir",
            done.to_str().unwrap(),
            "--quarantine-dir",
            data.join("quarantine").to_str().unwrap(),
        ])
    };
    let out = run(&data.join("done"));
    assert_code(&out, 3);
    assert!(
        out.stderr
            .contains("sub/good.csv: cannot dispose of the file"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("sub/bad.csv: cannot dispose of the file"),
        "{}",
        out.all()
    );
    assert_eq!(env.count("reviews"), 3);
    env.write("sub/good2.csv", reviews_csv(3, 2));
    let out = run(&own_done);
    assert_code(&out, 0);
    assert_eq!(env.count("reviews"), 5);
    std::fs::remove_dir_all(env.path("done")).unwrap();
    symlink(&out_done, env.path("done")).unwrap();
    let out = run(&data.join("done"));
    assert_code(&out, 0);
    for d in [&out_done, &out_quarantine, &out_folder] {
        assert_eq!(
            contents(d),
            Vec::<String>::new(),
            "{} was written to",
            d.display()
        );
    }
    for f in ["sub/good.csv", "sub/good2.csv", "sub/bad.csv"] {
        assert!(env.path(f).exists(), "{f} stays where it was");
    }
    // Without the planted links, the moves happen.
    std::fs::remove_file(env.path("done")).unwrap();
    std::fs::remove_file(env.path("quarantine/sub")).unwrap();
    let out = run(&data.join("done"));
    assert_code(&out, 0);
    assert!(env.path("done/sub/good.csv").exists(), "{}", out.all());
    assert!(env.path("quarantine/sub/bad.csv").exists(), "{}", out.all());
    assert!(env.path("quarantine/sub/bad.csv.error.txt").exists());
}

#[test]
fn a_file_rewritten_while_it_is_sent_leaves_none_of_its_rows() {
    let env = Env::new("hostile_rewrite");
    env.q("CREATE TABLE {db}.t (id Int64, v String) ENGINE = MergeTree ORDER BY id");
    let body = |v: &str| {
        let mut s = String::from("id,v\n");
        for i in 0..1000 {
            s.push_str(&format!("{i},{v}\n"));
        }
        s
    };
    env.write("big.csv", body("old"));
    let hooks = hooks(&env);
    let args = [
        "--table",
        "t",
        "--batch-rows",
        "100",
        "--insert-rows",
        "100",
    ];
    let mut child = spawn(env.command("run").args(args).env(
        "FAILPOINTS",
        format!("second-pass=return({})", hooks.display()),
    ));
    reached(&hooks, "second-pass", &mut child);
    rewrite_in_place(&env.path("big.csv"), &body("new"));
    go(&hooks, "second-pass");
    let out = finish_within(child, 120);
    assert_code(&out, 6);
    assert!(
        squeezed(&out.stdout).contains("changed big.csv: changed while it was being ingested"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("sent so far were deleted from"),
        "{}",
        out.all()
    );
    assert_eq!(env.count("t"), 0);
    // The next run reads it again, whole.
    let out = env.ingest(&args);
    assert_code(&out, 0);
    assert_eq!(
        env.q("SELECT count(), countIf(v = 'new') FROM {db}.t")
            .trim(),
        "1000\t1000"
    );
    assert_eq!(env.duplicate_keys("t"), 0);
}

#[test]
fn a_spill_that_cannot_be_read_back_is_a_local_failure_resumed_by_the_next_run() {
    let env = Env::new("hostile_spill");
    env.q("CREATE TABLE {db}.t (id Int64, v String) ENGINE = MergeTree ORDER BY id");
    let mut big = String::from("id,v\n");
    for i in 0..1000 {
        big.push_str(&format!("{i},x\n"));
    }
    env.write("a.csv", &big);
    // A file after it, so that the first is kept in a spill file by its first pass.
    env.write("b.csv", "id,v\n5000,y\n");
    let args = [
        "--table",
        "t",
        "--batch-rows",
        "100",
        "--insert-rows",
        "100",
        "--check-first",
    ];
    let out = run(env
        .command("run")
        .args(args)
        .env("FAILPOINTS", "spill-read-error=return"));
    assert_code(&out, 3);
    assert!(
        out.stdout.contains("a.csv: cannot read the spill file"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("changed"), "{}", out.all());
    let out = env.ingest(&args);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 1001);
    assert_eq!(env.duplicate_keys("t"), 0);
}

#[test]
fn a_bad_config_never_shows_the_password() {
    let env = Env::new("hostile_config");
    let secret = "Pa55-w0rd-never-shown";
    let config = env.dir.path().join("ingest.toml");
    for text in [
        format!("password = \"{secret}\"\nretries = \"five\"\n"),
        format!("password = {secret}\n"),
        format!("password = \"{secret}\nurl = 'http://localhost:8123'\n"),
        format!("password = '{secret}'\npassword = '{secret}'\n"),
        format!("password = [\"{secret}\"]\n"),
        format!("retries = \"{secret}\"\n"),
        format!("[[route]]\nglob = '*'\ntable = 't'\npassword = \"{secret}\"\n"),
    ] {
        std::fs::write(&config, &text).unwrap();
        for cmd in ["run", "status", "retry", "forget", "init"] {
            let mut c = env.command(cmd);
            c.args(["--config", config.to_str().unwrap()]);
            if matches!(cmd, "retry" | "forget") {
                c.arg("x.csv");
            }
            let out = run(&mut c);
            assert_code(&out, 2);
            assert!(
                !out.all().contains(secret),
                "{text:?} with {cmd}: {}",
                out.all()
            );
            assert!(out.stderr.contains("config file"), "{}", out.stderr);
        }
    }
    std::fs::write(&config, "password = [1]\nurl = 'http://localhost:1'\n").unwrap();
    let out = run(env
        .command("run")
        .args(["--config", config.to_str().unwrap()]));
    assert!(
        out.stderr
            .contains("key `password`: expected a string, number or boolean"),
        "{}",
        out.stderr
    );
}

#[test]
fn under_create_table_a_file_whose_fields_cannot_be_columns_fails_alone() {
    let env = Env::new("hostile_create");
    env.write(
        "a.jsonl",
        "{\"id\": 1, \"name\": \"x\"}\n{\"id\": 2, \"name\": \"y\"}\n",
    );
    env.write("b.jsonl", "{\"id\": 3, \"_ingest_file\": 5}\n");
    env.write("c.jsonl", "{\"id\": 4, \"bad\\u0007name\": 1}\n");
    let wide: Vec<String> = (0..1001).map(|i| format!("\"f{i}\": {i}")).collect();
    env.write("d.jsonl", format!("{{{}}}\n", wide.join(", ")));
    env.write("e.jsonl", "{\"id\": 5, \"name\": \"z\", \"more\": 1.5}\n");
    let out = env.ingest(&["--table", "t", "--create-table"]);
    assert_code(&out, 3);
    for (file, why) in [
        ("b.jsonl", "field `_ingest_file` is reserved for provenance"),
        ("c.jsonl", "is empty, too long or has control characters"),
        (
            "d.jsonl",
            "it has 1001 fields, more than a created table may have (--max-columns 1000)",
        ),
    ] {
        let stdout = squeezed(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("failed {file}")));
        assert!(
            line.is_some_and(|l| l.contains(why)),
            "{file}: {why}:\n{}",
            out.all()
        );
    }
    assert_eq!(env.count("t"), 3);
    let columns =
        env.q("SELECT count() FROM system.columns WHERE database = '{db}' AND table = 't'");
    assert_eq!(
        columns.trim(),
        "5",
        "id, name, more and the two provenance columns"
    );
    // A cap on the columns refuses the file that would pass it.
    env.write("w/a.jsonl", "{\"a\": 1, \"b\": 2}\n");
    env.write("w/b.jsonl", "{\"a\": 1, \"c\": 2}\n");
    env.write("w/c.jsonl", "{\"b\": 1}\n");
    let config = env.dir.path().join("w.toml");
    std::fs::write(
        &config,
        "max_columns = 2\n[[route]]\nglob = 'w/**'\ntable = 'w'\ncreate_table = true\n\
         [[route]]\nglob = '*'\ntable = 't'\n",
    )
    .unwrap();
    let out = env.ingest(&["--config", config.to_str().unwrap()]);
    assert_code(&out, 3);
    assert!(
        out.stdout.contains(
            "w/b.jsonl: its fields would give the new table 3 columns, more than --max-columns 2"
        ),
        "{}",
        out.all()
    );
    assert_eq!(env.count("w"), 2);
}

#[test]
fn under_create_table_no_table_is_made_from_zero_records() {
    let env = Env::new("hostile_create_empty");
    env.write("empty.csv", "id,name\n");
    let out = env.ingest(&["--table", "z", "--create-table"]);
    assert_code(&out, 3);
    assert!(
        out.stdout.contains("give no records to create it from"),
        "{}",
        out.all()
    );
    assert_eq!(
        env.q("SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'z'")
            .trim(),
        "0"
    );
    // Records arrive: the table is made, and the waiting file is read again by itself.
    env.write("full.csv", "id,name\n1,a\n");
    let out = env.ingest(&["--table", "z", "--create-table"]);
    assert_code(&out, 0);
    assert_eq!(env.count("z"), 1);
}

#[test]
fn an_unusable_tmpdir_is_a_local_failure_retried_by_the_next_run() {
    let env = Env::new("hostile_tmpdir");
    env.q(&format!("CREATE TABLE {{db}}.t {}", crate::data::DDL));
    let recs = crate::data::records(20);
    env.write(
        "r.parquet.gz",
        crate::data::gzip(&crate::data::parquet(&recs)),
    );
    let out = run(env
        .command("run")
        .args(["--table", "t"])
        .env("TMPDIR", env.dir.path().join("no-such-folder")));
    assert_code(&out, 3);
    assert!(
        out.stdout.contains("TMPDIR must name a writable folder"),
        "{}",
        out.all()
    );
    assert_eq!(
        env.q("SELECT error_kind FROM {db}.ingest_manifest WHERE event = 'failed'")
            .trim(),
        "transient"
    );
    let out = env.ingest(&["--table", "t"]);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 20);
}

#[test]
fn a_file_that_crashes_the_reader_twice_is_set_aside_as_poison() {
    let env = Env::new("hostile_poison");
    env.q("CREATE TABLE {db}.t (id Int64, v String) ENGINE = MergeTree ORDER BY id");
    env.write("a.jsonl", "{\"id\": 1, \"v\": \"a\"}\n");
    env.write("p.jsonl", "{\"id\": 2, \"v\": \"POISON\"}\n");
    env.write("z.jsonl", "{\"id\": 3, \"v\": \"z\"}\n");
    let quarantine = env.dir.path().join("quarantine");
    let args = [
        "--table",
        "t",
        "--quarantine-dir",
        quarantine.to_str().unwrap(),
    ];
    let crash = || {
        let mut c = env.command("run");
        c.args(args)
            .env("FAILPOINTS", "abort-reading=return(POISON)");
        run_within(&mut c, 60)
    };
    for _ in 0..2 {
        let out = crash();
        assert_eq!(out.code, -1, "killed by SIGABRT:\n{}", out.all());
    }
    // A dry run skips it too, and the crashes are not forgotten.
    let dry = {
        let mut c = env.command("run");
        c.args(["--table", "t", "--dry-run"])
            .env("FAILPOINTS", "abort-reading=return(POISON)");
        run_within(&mut c, 60)
    };
    assert_code(&dry, 3);
    assert!(
        dry.stdout
            .contains("p.jsonl: poison: reading it crashed the process 2 times"),
        "{}",
        dry.all()
    );
    let out = crash();
    assert_code(&out, 3);
    assert!(out.stdout.contains("p.jsonl: poison"), "{}", out.all());
    assert_eq!(
        env.q("SELECT groupArray(v) FROM (SELECT v FROM {db}.t ORDER BY id)")
            .trim(),
        "['a','z']"
    );
    assert_eq!(
        env.q("SELECT error_kind FROM {db}.ingest_manifest WHERE event = 'quarantined'")
            .trim(),
        "poison"
    );
    assert!(quarantine.join("p.jsonl").exists());
    assert!(quarantine.join("p.jsonl.error.txt").exists());
    // Set aside: later runs, dry or not, leave it alone.
    assert_code(&crash(), 0);
    let retry = run(env.command("retry").arg("p.jsonl"));
    assert_code(&retry, 0);
    assert!(env.path("p.jsonl").exists(), "moved back: {}", retry.all());
    let out = env.ingest(&args);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 3);
}

#[test]
fn a_file_whose_second_pass_crashes_twice_is_poison_too() {
    let env = Env::new("hostile_poison_second");
    env.q("CREATE TABLE {db}.t (id Int64) ENGINE = MergeTree ORDER BY id");
    let rows: String = (0..1000).map(|i| format!("{{\"id\": {i}}}\n")).collect();
    env.write("big.jsonl", rows);
    let args = [
        "--table",
        "t",
        "--batch-rows",
        "100",
        "--insert-rows",
        "100",
    ];
    // Dies after a few batches of its second pass, once the sender had time to land them.
    let crash = || {
        let mut c = env.command("run");
        c.args(args).env(
            "FAILPOINTS",
            "abort-second-pass=2*off->1*sleep(2000)->return",
        );
        run_within(&mut c, 60)
    };
    for _ in 0..2 {
        let out = crash();
        assert_eq!(out.code, -1, "killed by SIGABRT:\n{}", out.all());
    }
    assert!(env.count("t") > 0, "some batches landed");
    let out = crash();
    assert_code(&out, 3);
    assert!(out.stdout.contains("big.jsonl: poison"), "{}", out.all());
    assert!(
        out.stdout
            .contains("rows an interrupted run sent of it were deleted"),
        "{}",
        out.all()
    );
    // A failed file keeps no row in the table.
    assert_eq!(env.count("t"), 0);
    assert_code(&run(env.command("retry").arg("big.jsonl")), 0);
    let out = env.ingest(&args);
    assert_code(&out, 0);
    assert_eq!(env.count("t"), 1000);
}
