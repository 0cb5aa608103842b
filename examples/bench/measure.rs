//! What one child process cost: peak resident memory and CPU time, from the kernel's
//! own accounting of that child (`wait4`), and the CPU time the server spent meanwhile.
// `wait4` and `sysconf` have no safe wrapper in std or libc: std's `Child::wait` drops the
// child's resource usage, and it is the only per-process peak-memory figure the kernel keeps.
#![allow(unsafe_code)]

use anyhow::{Context, Result, bail};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub peak_rss_kib: u64,
    /// User plus system time of the child.
    pub cpu: Duration,
    pub status: ExitStatus,
}

/// Runs `cmd` to its end and reports what it cost.
pub fn run(cmd: &mut Command) -> Result<Sample> {
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero bytes are a valid `rusage` (integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (std's `Child` is never waited on);
        // `status` and `usage` are valid for writes for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            bail!("wait4({pid}): {err}");
        }
    }
    Ok(Sample {
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        status: ExitStatus::from_raw(status),
    })
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// User plus system CPU time a running process has used so far (`/proc/PID/stat`).
pub fn process_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis
    // start with field 3, so utime and stime (fields 14 and 15) are at 11 and 12.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("unexpected /proc/{pid}/stat: {stat}"))
    };
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: `sysconf` only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(100);
    Ok(Duration::from_secs_f64(total as f64 / per_second as f64))
}
