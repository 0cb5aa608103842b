//! `ingest`: keeps a ClickHouse database in step with a folder of arriving data files, exactly
//! once. `main` parses the command line, runs the command and turns its outcome into an exit code;
//! ARCHITECTURE.md maps the modules.

#[macro_use]
mod failpoints;

mod append;
mod ch;
mod cmd;
mod config;
mod convert;
mod coord;
mod crashes;
mod exit;
mod folder;
mod folder_id;
mod formats;
mod hash;
mod history;
mod infer;
mod lock;
mod manifest;
mod memory;
mod metrics;
mod native;
mod outcome;
mod progress;
mod reconcile;
mod rows;
mod rules;
mod run;
mod scan;
mod sink;
mod stdout;
mod summary;
mod text;
mod value;
mod watch;

use exit::{Fatal, error_line};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    memory::return_large_frees();
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    init_logging();
    let result = config::parse().and_then(|cli| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            // Blocking tasks read files (`--create-table` sampling).
            .thread_stack_size(rows::READING_STACK)
            .build()
            .map_err(|e| Fatal::Internal(e.into()))
            .and_then(|rt| rt.block_on(cmd::dispatch(cli.command)))
    });
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(fatal) => {
            eprintln!("{}", error_line(&fatal.to_string()));
            ExitCode::from(fatal.exit().code())
        }
    }
}

/// Log lines go to stderr (through the progress display, which clears itself first), with
/// control characters in their text escaped.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|buf, record| {
            let message = record.args().to_string();
            writeln!(
                buf,
                "[{} {:<5} {}] {}",
                buf.timestamp_millis(),
                record.level(),
                record.target(),
                text::escape(&message)
            )
        })
        .target(env_logger::Target::Pipe(Box::new(progress::LogWriter)))
        .init();
}
