//! Text from the data folder never reaches a terminal or a log raw: a file named to clear the
//! screen and fake a summary line, with a control character in a value, is shown escaped by
//! every command, in every output; JSON escapes it as JSON does.

use crate::util::*;

const NAME: &str = "a\x1b[2Jb\nrun x: all good.csv";
const OTHER: &str = "ok\x1b]0;pwned\x07\u{202e}vsc.csv";

/// Fails if `text` holds a character that changes how text is shown (anything but a newline
/// ending a line; in text for people, bidirectional controls too), or a line that a file name
/// made up.
#[track_caller]
fn assert_safe(what: &str, text: &str) {
    let json = what.contains("JSON") || what.contains("--json");
    let bad: Vec<char> = text
        .chars()
        .filter(|c| {
            (c.is_control() && *c != '\n')
                || (!json && matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what} has raw control characters {bad:?}:\n{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("run x: all good")),
        "{what} lets a file name start a line:\n{text}"
    );
}

#[track_caller]
fn assert_output_safe(what: &str, out: &Output) {
    assert_safe(&format!("{what} (stdout)"), &out.stdout);
    assert_safe(&format!("{what} (stderr)"), &out.stderr);
}

#[test]
fn no_raw_control_character_reaches_stdout_or_stderr() {
    let env = Env::new("safe_output");
    env.q("CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id");
    env.write(NAME, "id,name\nx\x07\x1b[31m,y\n");
    env.write(OTHER, "id,name\n1,\x1b[2Jbold\n");

    let dry = env.ingest(&["--table", "t", "--dry-run"]);
    assert_code(&dry, 3);
    assert_output_safe("a dry run", &dry);
    assert!(
        dry.stdout.contains("a\\x1b[2Jb\\nrun x: all good.csv"),
        "{}",
        dry.stdout
    );

    let out = run(env
        .command("run")
        .env("RUST_LOG", "info")
        .args(["--table", "t"]));
    assert_code(&out, 3);
    assert_output_safe("a run", &out);
    assert!(
        out.stdout
            .contains("failed       a\\x1b[2Jb\\nrun x: all good.csv:2:id: cannot convert \"x"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("ok\\x1b]0;pwned\\x07\\u{202e}vsc.csv"),
        "{}",
        out.stderr
    );

    let json = env.ingest(&["--table", "t", "--output", "json", "--dry-run"]);
    assert_output_safe("a JSON summary", &json);
    let names: Vec<String> = json_of(&json)["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&NAME.to_owned()),
        "JSON keeps the name exactly: {names:?}"
    );

    let status = run(&mut env.command("status"));
    assert_code(&status, 0);
    assert_output_safe("status", &status);
    assert!(
        status.stdout.contains("a\\x1b[2Jb\\nrun x: all good.csv"),
        "{}",
        status.stdout
    );
    assert_output_safe("status --json", &run(env.command("status").arg("--json")));
    assert_output_safe("verify", &run(&mut env.command("verify")));

    let hash = env
        .q("SELECT file_hash FROM {db}.ingest_manifest WHERE event = 'failed' LIMIT 1")
        .trim()
        .to_owned();
    let retry = run(env.command("retry").arg(&hash[..16]));
    assert_code(&retry, 0);
    assert_output_safe("retry", &retry);
    let forget = run(env.command("forget").arg(OTHER));
    assert_code(&forget, 0);
    assert_output_safe("forget", &forget);
    assert!(
        forget.stdout.starts_with("forgot ok\\x1b]0;pwned"),
        "{}",
        forget.stdout
    );
    let unknown = run(env.command("forget").arg("nope\x1b[2J"));
    assert_code(&unknown, 2);
    assert_output_safe("an error", &unknown);
}
