//! The `ingest` command: parse, build a validated config, run, and turn the outcome into an exit code.

use clap::Parser;
use ingest::cli::{Cli, Command};
use ingest::config::{InitConfig, ManageConfig, RunConfig, StatusConfig, VerifyConfig};
use ingest::exit::{Exit, Fatal, error_line};
use ingest::manage::RetryOptions;
use ingest::stdout::Stdout;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    ingest::memory::return_large_frees();
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|buf, record| {
            let message = record.args().to_string();
            writeln!(
                buf,
                "[{} {:<5} {}] {}",
                buf.timestamp_millis(),
                record.level(),
                record.target(),
                ingest::text::escape(&message)
            )
        })
        .target(env_logger::Target::Pipe(Box::new(
            ingest::progress::LogWriter,
        )))
        .init();
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Blocking tasks read files (`--create-table` sampling).
        .thread_stack_size(ingest::run::READING_STACK)
        .build()
        .map_err(|e| Fatal::Internal(e.into()))
        .and_then(|rt| rt.block_on(dispatch(cli)));
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(fatal) => {
            eprintln!("{}", error_line(&fatal.to_string()));
            ExitCode::from(fatal.exit().code())
        }
    }
}

async fn dispatch(cli: Cli) -> Result<Exit, Fatal> {
    let mut stdout = Stdout::new(std::io::stdout().lock());
    match cli.command {
        Command::Run(args) => {
            let cfg = RunConfig::build(&args)?;
            ingest::job::run(&cfg, &mut stdout).await
        }
        Command::Status(args) => {
            let cfg = StatusConfig::build(&args)?;
            ingest::status::status(&cfg, &mut stdout).await?;
            Ok(Exit::Ok)
        }
        Command::Retry(args) => {
            let cfg = ManageConfig::build(&args.common, args.lock_file.as_ref())?;
            let _lock = ingest::lock::acquire(&cfg.lock_file)?;
            let opts = RetryOptions {
                all_failed: args.all_failed,
                all_mismatched: args.all_mismatched,
                replace: args.replace,
            };
            ingest::manage::retry(&cfg.common, &args.targets, opts, &mut stdout).await
        }
        Command::Forget(args) => {
            let cfg = ManageConfig::build(&args.common, args.lock_file.as_ref())?;
            let _lock = ingest::lock::acquire(&cfg.lock_file)?;
            ingest::manage::forget(&cfg.common, &args.targets, args.delete_rows, &mut stdout).await
        }
        Command::Init(args) => {
            let cfg = InitConfig::build(&args)?;
            ingest::init::init(&cfg, &mut stdout).await?;
            Ok(Exit::Ok)
        }
        Command::Verify(args) => {
            let cfg = VerifyConfig::build(&args)?;
            ingest::verify::verify(&cfg, &mut stdout).await
        }
    }
}
