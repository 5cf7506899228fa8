//! The Python of comlink's client and schemathesis tests: `COMLINK_PYTHON`, else the venv that
//! `tests/python/env.sh` creates under `target/` (from PyPI). Not having it is a failure.

use std::path::{Path, PathBuf};

pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// The venv's python (created on first use).
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("COMLINK_PYTHON") {
        return PathBuf::from(python);
    }
    let script = python_dir().join("env.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed, so there is no Python with comlink's test tools:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}
