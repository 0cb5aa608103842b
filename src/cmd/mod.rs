//! The commands, one file each: what each does with a validated config, and what it prints.

mod forget;
mod init;
mod manage;
mod retry;
mod run;
mod status;
mod verify;
mod watch;

use crate::config::cli::Command;
use crate::exit::{Exit, Fatal};
use crate::stdout::Stdout;

/// Runs a command; its output goes to stdout.
pub async fn dispatch(command: Command) -> Result<Exit, Fatal> {
    let mut out = Stdout::new(std::io::stdout().lock());
    match command {
        Command::Run(args) => run::run(&args, &mut out).await,
        Command::Watch(args) => watch::watch(&args, &mut out).await,
        Command::Status(args) => status::status(&args, &mut out).await,
        Command::Retry(args) => retry::retry(&args, &mut out).await,
        Command::Forget(args) => forget::forget(&args, &mut out).await,
        Command::Init(args) => init::init(&args, &mut out).await,
        Command::Verify(args) => verify::verify(&args, &mut out).await,
    }
}
