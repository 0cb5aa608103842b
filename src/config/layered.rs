//! The one precedence merge: a flag wins over its environment variable, which wins over the
//! config file, which wins over the built-in default. Clap settles flags, environment and
//! defaults; the config file's values go in as the flags' defaults, so every setting is declared
//! once (in `flags`) and merged once, here, whatever the command.

use super::cli::Cli;
use super::file::FileConfig;
use crate::exit::Fatal;
use crate::text::one_line;
use clap::error::{ContextKind, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches, ValueHint};
use std::ffi::OsString;
use std::path::Path;

/// The command line with the config file's values in their place. Help and version requests
/// are answered (and the process ends) here, as clap does.
pub fn parse() -> Result<Cli, Fatal> {
    parse_from(std::env::args_os().collect())
}

fn parse_from(args: Vec<OsString>) -> Result<Cli, Fatal> {
    let first = matches(Cli::command(), &args).map_err(|e| clap_error(&e))?;
    let cli = Cli::from_arg_matches(&first).map_err(|e| clap_error(&e))?;
    let Some(path) = cli.command.common().config.clone() else {
        return Ok(cli);
    };
    let file = FileConfig::load(&path).map_err(Fatal::Config)?;
    let Some(name) = first.subcommand_name() else {
        return Ok(cli);
    };
    let (cmd, from_file) = with_file_defaults(Cli::command(), name, &file, &path)?;
    let second = matches(cmd, &args).map_err(|e| {
        // A value the file gave is reported as the file's, under its key, and never shown: it
        // may be a password put under the wrong key.
        match invalid_arg(&e).and_then(|long| from_file.iter().find(|k| **k == long)) {
            Some(key) => Fatal::config(format!(
                "config file {}: key `{key}`: not a valid value{}",
                path.display(),
                reason(&e).map(|r| format!(" ({r})")).unwrap_or_default()
            )),
            None => clap_error(&e),
        }
    })?;
    Cli::from_arg_matches(&second).map_err(|e| clap_error(&e))
}

fn matches(cmd: Command, args: &[OsString]) -> Result<ArgMatches, clap::Error> {
    cmd.try_get_matches_from(args).map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.exit(),
        _ => e,
    })
}

/// The key (a flag's long name with `_`) of the argument an error is about.
fn invalid_arg(e: &clap::Error) -> Option<String> {
    let clap::error::ContextValue::String(arg) = e.get(ContextKind::InvalidArg)? else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    Some(long.replace('-', "_"))
}

/// Why a value is not valid, without the value: what clap says after naming the flag.
fn reason(e: &clap::Error) -> Option<String> {
    let text = first_line(e);
    let (_, after) = text.split_once(">': ")?;
    Some(after.to_owned())
}

fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    one_line(first.trim_start_matches("error: "))
}

/// A command-line error as one line, like every error that stops a run.
fn clap_error(e: &clap::Error) -> Fatal {
    Fatal::config(first_line(e))
}

/// `cmd` with the values the config file gives subcommand `name`'s flags as their defaults, and
/// the keys it set. A key that is no flag of any command is an error; one that belongs to
/// another command is left alone (one file serves every command).
fn with_file_defaults(
    mut cmd: Command,
    name: &str,
    file: &FileConfig,
    path: &Path,
) -> Result<(Command, Vec<String>), Fatal> {
    let mut set = Vec::new();
    let bad = |why: String| Fatal::config(format!("config file {}: {why}", path.display()));
    for (key, value) in &file.settings {
        let Some(sub) = cmd.find_subcommand(name) else {
            break;
        };
        let Some(arg) = sub.get_arguments().find(|a| a.get_id() == key.as_str()) else {
            let elsewhere = cmd
                .get_subcommands()
                .any(|s| s.get_arguments().any(|a| a.get_id() == key.as_str()));
            if elsewhere {
                continue;
            }
            return Err(bad(format!("unknown field `{key}`")));
        };
        let values = texts(key, value, arg, &file.base).map_err(&bad)?;
        set.push(key.clone());
        let key = key.clone();
        cmd = cmd.mut_subcommand(name, |sub| {
            sub.mut_arg(key, |arg| match values.len() {
                1 => arg.default_value(values[0].clone()),
                _ => arg.default_values(values),
            })
        });
    }
    Ok((cmd, set))
}

/// A file value as the text its flag would be given: numbers and booleans written out, arrays
/// as several values, paths made relative to the file's folder.
fn texts(key: &str, value: &toml::Value, arg: &Arg, base: &Path) -> Result<Vec<String>, String> {
    let one = |v: &toml::Value| -> Result<String, String> {
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(format!("key `{key}`: expected a string, number or boolean")),
        };
        let is_path = matches!(
            arg.get_value_hint(),
            ValueHint::FilePath | ValueHint::DirPath | ValueHint::AnyPath
        );
        Ok(match is_path && Path::new(&text).is_relative() {
            true => base.join(&text).to_string_lossy().into_owned(),
            false => text,
        })
    };
    match value {
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            items.iter().map(one).collect()
        }
        toml::Value::Array(_) => Err(format!("key `{key}`: expected a string, number or boolean")),
        v => Ok(vec![one(v)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::choices::OnError;
    use crate::config::cli::Command as Sub;

    fn run_args(file: &str, args: &[&str]) -> Result<crate::config::flags::RunArgs, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec!["ingest".into(), "run".into()];
        argv.push("--config".into());
        argv.push(path.clone().into());
        argv.extend(args.iter().map(OsString::from));
        match parse_from(argv).map_err(|e| e.to_string())?.command {
            Sub::Run(a) => Ok(a),
            _ => unreachable!("a run"),
        }
    }

    #[test]
    fn the_file_fills_in_what_flags_leave_out_and_flags_win() {
        let a = run_args(
            "batch_rows = 10\non_error = 'skip-row'\nsettle = '1s'\n",
            &[],
        )
        .unwrap();
        assert_eq!(a.batch_rows, 10);
        assert_eq!(a.on_error, OnError::SkipRow);
        assert_eq!(a.settle, std::time::Duration::from_secs(1));
        let a = run_args("batch_rows = 10\n", &["--batch-rows", "20"]).unwrap();
        assert_eq!(a.batch_rows, 20);
        let a = run_args("dry_run = true\nlimit = 5\n", &[]).unwrap();
        assert!(a.dry_run, "booleans, and a key for another command is fine");
        let a = run_args("data_dir = 'in'\n", &[]).unwrap();
        assert!(a.common.data_dir.is_absolute() || a.common.data_dir.starts_with("/"));
        assert!(a.common.data_dir.ends_with("in"));
    }

    #[test]
    fn several_urls_come_from_a_list_in_the_file_or_repeated_flags() {
        let urls = |v: &[&str]| v.iter().map(|u| (*u).to_owned()).collect::<Vec<_>>();
        let a = run_args("url = ['http://127.0.0.1:1', 'http://127.0.0.1:2']\n", &[]).unwrap();
        assert_eq!(
            a.common.url,
            urls(&["http://127.0.0.1:1", "http://127.0.0.1:2"])
        );
        let a = run_args(
            "url = ['http://127.0.0.1:1']\n",
            &[
                "--url",
                "http://127.0.0.1:3",
                "--url",
                "http://127.0.0.1:4,http://127.0.0.1:5",
            ],
        )
        .unwrap();
        assert_eq!(
            a.common.url,
            urls(&[
                "http://127.0.0.1:3",
                "http://127.0.0.1:4",
                "http://127.0.0.1:5"
            ])
        );
    }

    #[test]
    fn file_errors_name_the_key_and_hide_secrets() {
        let e = run_args("tabel = 'x'\n", &[]).unwrap_err();
        assert!(e.ends_with("unknown field `tabel`"), "{e}");
        let e = run_args("batch_rows = 0\n", &[]).unwrap_err();
        assert!(
            e.ends_with("key `batch_rows`: not a valid value (0 is not in 1..=1000000)"),
            "{e}"
        );
        let e = run_args("retries = 'hunter2'\n", &[]).unwrap_err();
        assert!(
            !e.contains("hunter2") && e.contains("key `retries`: not a valid value"),
            "{e}"
        );
        let e = run_args("on_error = 'sometimes'\n", &[]).unwrap_err();
        assert!(e.contains("key `on_error`"), "{e}");
        let e = run_args("password = { hunter2 = 1 }\n", &[]).unwrap_err();
        assert!(
            !e.contains("hunter2") && e.contains("key `password`"),
            "{e}"
        );
    }
}
