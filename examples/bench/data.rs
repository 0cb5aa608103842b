//! The benchmark's data sets, made by the project's own generator (`gen_reviews`, deterministic
//! by seed): generated once per folder and reused while the generator's arguments stay the same.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The generator's arguments, recorded in the folder it filled.
const SPEC_FILE: &str = ".bench-spec";

#[derive(Debug)]
pub struct DataSet {
    pub dir: PathBuf,
    pub format: String,
    pub files: Vec<PathBuf>,
    pub rows_per_file: u64,
    pub bytes: u64,
}

impl DataSet {
    pub fn rows(&self) -> u64 {
        self.rows_per_file * self.files.len() as u64
    }

    /// Reads every file once so that no measured run pays for the first read from disk.
    pub fn warm_page_cache(&self) -> Result<()> {
        for f in &self.files {
            let mut file = std::fs::File::open(f)?;
            std::io::copy(&mut file, &mut std::io::sink())?;
        }
        Ok(())
    }
}

pub struct Generator {
    pub path: PathBuf,
}

impl Generator {
    /// `files` files of `rows` rows in `dir`, generated unless `dir` already holds exactly them.
    pub fn make(
        &self,
        dir: &Path,
        format: &str,
        files: u64,
        rows: u64,
        seed: u64,
    ) -> Result<DataSet> {
        let spec = format!("--format {format} --files {files} --rows {rows} --seed {seed}");
        let recorded = std::fs::read_to_string(dir.join(SPEC_FILE)).unwrap_or_default();
        let reuse = recorded == spec && list(dir, format)?.len() as u64 == files;
        if !reuse {
            if dir.exists() {
                std::fs::remove_dir_all(dir)?;
            }
            eprintln!("generating {}: {spec}", dir.display());
            let status = Command::new(&self.path)
                .args(spec.split(' '))
                .arg("--out")
                .arg(dir)
                .stdout(std::process::Stdio::null())
                .status()
                .with_context(|| format!("cannot run {}", self.path.display()))?;
            if !status.success() {
                bail!("{} {spec} failed: {status}", self.path.display());
            }
            std::fs::write(dir.join(SPEC_FILE), &spec)?;
        }
        let paths = list(dir, format)?;
        if paths.len() as u64 != files {
            bail!(
                "{} holds {} .{format} files, expected {files}",
                dir.display(),
                paths.len()
            );
        }
        let mut bytes = 0;
        for p in &paths {
            bytes += std::fs::metadata(p)?.len();
        }
        Ok(DataSet {
            dir: dir.to_owned(),
            format: format.to_owned(),
            files: paths,
            rows_per_file: rows,
            bytes,
        })
    }
}

/// The `*.FORMAT` files directly in `dir`, in name order.
fn list(dir: &Path, format: &str) -> Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == format) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}
