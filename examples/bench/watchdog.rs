//! A shell that cleans up after the harness however it ends: it waits for its stdin, a pipe from
//! the harness, to close or say "stop", then stops what it started and removes a folder. It runs in
//! its own process group so that Ctrl-C reaches only the harness, whose exit closes the pipe.

use anyhow::{Context, Result};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The process the watchdog started, if any.
    pub pid: Option<u32>,
}

impl Watchdog {
    /// Removes `dir` when the harness ends.
    pub fn remove_at_exit(dir: &Path) -> Result<Watchdog> {
        let script = r#"read _; rm -rf "$1""#;
        Watchdog::spawn(script, [dir.as_os_str()], false)
    }

    /// Runs `program` with `args`, its output in `dir/stdout.log`; when the harness ends, stops
    /// it (SIGTERM), waits for it and removes `dir`.
    pub fn serve<'a>(
        dir: &'a Path,
        program: &'a OsStr,
        args: impl IntoIterator<Item = &'a OsStr>,
    ) -> Result<Watchdog> {
        let script = r#"dir=$1; shift; "$@" >"$dir/stdout.log" 2>&1 & pid=$!; echo $pid; read _; kill $pid; wait $pid; rm -rf "$dir""#;
        let all = [dir.as_os_str(), program].into_iter().chain(args);
        Watchdog::spawn(script, all, true)
    }

    fn spawn<'a>(
        script: &str,
        args: impl IntoIterator<Item = &'a OsStr>,
        reports_pid: bool,
    ) -> Result<Watchdog> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot start the watchdog shell")?;
        let stdin = child.stdin.take();
        let mut pid = None;
        if reports_pid {
            let mut line = String::new();
            if let Some(out) = child.stdout.take() {
                BufReader::new(out).read_line(&mut line)?;
            }
            pid = Some(
                line.trim()
                    .parse()
                    .context("the watchdog did not report a pid")?,
            );
        }
        Ok(Watchdog { child, stdin, pid })
    }
}

/// Tells the watchdog to do its work now, and waits until it is done.
impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
        }
        let _ = self.child.wait();
    }
}
