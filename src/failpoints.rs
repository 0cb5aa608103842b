//! Failpoints for the crash tests: places where a test ends the process as abruptly as SIGKILL
//! would, or acts while the run waits. Compiled in only with `--features failpoints` and armed
//! through the `FAILPOINTS` environment variable.

/// A place where the crash tests end the process as abruptly as SIGKILL would.
macro_rules! crash_point {
    ($name:literal) => {
        fail::fail_point!($name, |_| { std::process::exit(137) })
    };
}

/// A place where a test acts while the run waits: armed through `FAILPOINTS` as
/// `NAME=return(DIR)`, the run creates `DIR/NAME.reached` and waits (a minute at most) for
/// `DIR/NAME.go`. Compiled in only with `--features failpoints`.
pub fn rendezvous(name: &str) {
    #[cfg(feature = "failpoints")]
    fail::eval(name, |dir| {
        let Some(dir) = dir else {
            return;
        };
        let dir = std::path::Path::new(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.reached")), "");
        let go = dir.join(format!("{name}.go"));
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !go.exists() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// Whether a test armed the failpoint `name` (as `NAME=return`) to take another way than the
/// usual one. Always `false` without `--features failpoints`.
pub fn armed(name: &str) -> bool {
    #[cfg(feature = "failpoints")]
    return fail::eval(name, |_| ()).is_some();
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        false
    }
}
