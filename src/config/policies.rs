//! What a run does with bad records and with files once it is done with them: the error policy
//! and the done and quarantine folders, checked against each other.

use super::choices::{After, AfterAction, Disposal, ErrorPolicy, OnError};
use super::flags::RunArgs;
use crate::exit::Fatal;
use std::path::{Path, PathBuf};

/// The done and quarantine folders, absolute; one inside the data folder is spelled beneath its
/// canonical path (`data_dir`) even when given through the path the data folder was given as
/// (`given`), so that it is recognised as inside and walked without following symlinks.
pub(super) fn disposal(args: &RunArgs, given: &Path, data_dir: &Path) -> Result<Disposal, Fatal> {
    let given = std::path::absolute(given).unwrap_or_else(|_| given.to_path_buf());
    let absolute = |flag: &str, p: PathBuf| -> Result<PathBuf, Fatal> {
        let mut p = std::path::absolute(&p)
            .map_err(|e| Fatal::config(format!("{flag} {}: {e}", p.display())))?;
        if let Ok(inside) = p.strip_prefix(&given) {
            p = data_dir.join(inside);
        }
        if p == data_dir {
            return Err(Fatal::config(format!(
                "{flag} cannot be the data folder itself"
            )));
        }
        Ok(p)
    };
    let after = match (args.after, args.done_dir.clone()) {
        (AfterAction::Keep, None) => After::Keep,
        (AfterAction::Delete, None) => After::Delete,
        (AfterAction::Move, Some(dir)) => After::Move(absolute("--done-dir", dir)?),
        (AfterAction::Move, None) => return Err(Fatal::config("--after move needs --done-dir")),
        (AfterAction::Keep | AfterAction::Delete, Some(_)) => {
            return Err(Fatal::config("--done-dir is only for --after move"));
        }
    };
    let quarantine = args
        .quarantine_dir
        .clone()
        .map(|d| absolute("--quarantine-dir", d))
        .transpose()?;
    Ok(Disposal { after, quarantine })
}

pub(super) fn error_policy(args: &RunArgs) -> Result<ErrorPolicy, Fatal> {
    let (max_errors, max_ratio) = (args.max_errors, args.max_error_ratio);
    match args.on_error {
        OnError::FailFile if max_errors.is_some() || max_ratio.is_some() => Err(Fatal::config(
            "--max-errors and --max-error-ratio apply to --on-error skip-row",
        )),
        OnError::FailFile => Ok(ErrorPolicy::FailFile),
        OnError::SkipRow => Ok(ErrorPolicy::SkipRow {
            max_errors: max_errors.unwrap_or(1000),
            max_ratio,
        }),
    }
}
