//! Wire conformance against dYdX's official Python encoder (PyPI `v4-proto`).
//!
//! * Python → Rust: proto/conformance/encode.py encodes fixtures of every
//!   message type; each must decode into a value equal, field by field, to the
//!   hand-written fixture in conformance/fixtures.rs and re-encode to the same
//!   bytes.
//! * Rust → Python: our encodings of the same fixtures are handed to
//!   proto/conformance/decode.py, which parses them with v4_proto, compares
//!   them with its own fixtures and checks that Python re-encodes them to the
//!   same bytes.
//! * Schema: our compiled descriptors must match v4_proto's exactly.
//!
//! Python comes from `INDEXER_PYTHON`, else `<repo>/.venv/bin/python`, created
//! by scripts/python-env.sh when missing. Not having it is a failure.

#[path = "conformance/descriptors.rs"]
mod descriptors;
#[path = "conformance/fixtures.rs"]
mod fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives inside the repository")
        .to_path_buf()
}

fn conformance_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance")
        .join(name)
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("INDEXER_PYTHON") {
        return PathBuf::from(python);
    }
    let venv_python = repo_root().join(".venv/bin/python");
    if !venv_python.exists() {
        let script = repo_root().join("scripts/python-env.sh");
        let output = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "{} failed, so there is no Python with v4-proto for the conformance test:\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        venv_python.exists(),
        "no Python at {} after running scripts/python-env.sh; set INDEXER_PYTHON",
        venv_python.display()
    );
    venv_python
}

/// A file in the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(purpose: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "indexer-proto-{purpose}-{}-{unique}.json",
            std::process::id()
        );
        Self(std::env::temp_dir().join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `script` with `file` as its argument; returns stdout or panics with
/// everything Python printed.
fn run_python(script: &str, file: &Path) -> String {
    let python = python();
    let output = Command::new(&python)
        .arg(conformance_script(script))
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The output of encode.py.
fn python_encodings() -> Value {
    let file = TempFile::new("python-encodings");
    run_python("encode.py", &file.0);
    let text = std::fs::read_to_string(&file.0).expect("encode.py writes its output file");
    serde_json::from_str(&text).expect("encode.py writes JSON")
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {value}"))
}

fn fixture_key(name: &str, variant: &str) -> String {
    format!("{name}/{variant}")
}

#[test]
fn every_message_type_has_fixtures_on_both_sides() {
    let python = python_encodings();
    let rust = fixtures::all();
    let python_keys: BTreeSet<String> = python["fixtures"]
        .as_array()
        .expect("fixtures is a list")
        .iter()
        .map(|f| fixture_key(str_of(f, "name"), str_of(f, "variant")))
        .collect();
    let rust_keys: BTreeSet<String> = rust
        .iter()
        .map(|f| fixture_key(&f.name, f.variant))
        .collect();
    assert_eq!(rust_keys.len(), rust.len(), "duplicate Rust fixtures");

    let mut problems = Vec::new();
    for name in python["messages"].as_array().expect("messages is a list") {
        let name = name.as_str().expect("message names are strings");
        if !python_keys
            .iter()
            .any(|k| k.starts_with(&format!("{name}/")))
        {
            problems.push(format!("{name}: no Python fixture"));
        }
        if !rust.iter().any(|f| f.name == name) {
            problems.push(format!("{name}: no Rust fixture"));
        }
    }
    for key in python_keys.difference(&rust_keys) {
        problems.push(format!("{key}: only Python has this fixture"));
    }
    for key in rust_keys.difference(&python_keys) {
        problems.push(format!("{key}: only Rust has this fixture"));
    }
    assert!(
        problems.is_empty(),
        "fixture coverage:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        python["messages"].as_array().unwrap().len(),
        60,
        "v4-proto 9.6.1 defines 60 indexer message types"
    );
}

#[test]
fn python_encodings_decode_to_the_expected_values_and_reencode_identically() {
    let python = python_encodings();
    let rust: BTreeMap<String, fixtures::Fixture> = fixtures::all()
        .into_iter()
        .map(|f| (fixture_key(&f.name, f.variant), f))
        .collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for entry in python["fixtures"].as_array().expect("fixtures is a list") {
        let key = fixture_key(str_of(entry, "name"), str_of(entry, "variant"));
        let Some(fixture) = rust.get(&key) else {
            problems.push(format!("{key}: no Rust fixture"));
            continue;
        };
        let bytes = hex::decode(str_of(entry, "hex")).expect("hex payload");
        if fixture.encoded != bytes {
            problems.push(format!(
                "{key}: encodings differ\n  python {}\n  rust   {}",
                hex::encode(&bytes),
                hex::encode(&fixture.encoded)
            ));
        }
        if let Err(problem) = fixture.check_decoding(&bytes) {
            problems.push(format!(
                "{key}: {problem}\n  python's view: {}",
                entry["expected"]
            ));
        }
        checked += 1;
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(checked, rust.len(), "every Rust fixture was checked");
}

#[test]
fn rust_encodings_parse_in_python_to_the_expected_values_and_reencode_identically() {
    let fixtures = fixtures::all();
    let payload: Vec<Value> = fixtures
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name,
                "variant": f.variant,
                "hex": hex::encode(&f.encoded),
            })
        })
        .collect();
    let file = TempFile::new("rust-encodings");
    std::fs::write(&file.0, serde_json::to_vec(&payload).unwrap()).expect("writing the payload");
    let stdout = run_python("decode.py", &file.0);
    assert_eq!(stdout.trim(), format!("{} checked", fixtures.len()));
}

fn our_descriptors() -> Vec<FileDescriptorProto> {
    FileDescriptorSet::decode(indexer_proto::FILE_DESCRIPTOR_SET)
        .expect("the crate embeds a valid descriptor set")
        .file
}

#[test]
fn schema_matches_v4_proto_descriptors_exactly() {
    let python = python_encodings();
    let reference: Vec<FileDescriptorProto> = python["descriptors"]
        .as_object()
        .expect("descriptors is an object")
        .values()
        .map(|hex_bytes| {
            let bytes = hex::decode(hex_bytes.as_str().unwrap()).unwrap();
            FileDescriptorProto::decode(&bytes[..]).expect("v4_proto descriptors decode")
        })
        .collect();
    assert_eq!(reference.len(), 10, "v4_proto has 10 indexer .proto files");
    let ours: Vec<FileDescriptorProto> = our_descriptors()
        .into_iter()
        .filter(|f| f.package().starts_with("dydxprotocol.indexer"))
        .collect();
    assert_eq!(
        ours.len(),
        reference.len(),
        "same number of indexer .proto files"
    );
    let differences = descriptors::differences(&reference, &ours);
    assert!(
        differences.is_empty(),
        "{} schema differences from v4_proto:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn descriptor_comparison_reports_a_changed_field() {
    // Guards the schema check itself: a renumbered field must be reported.
    let reference = our_descriptors();
    let mut altered = reference.clone();
    let clob = altered
        .iter_mut()
        .find(|f| f.name() == "dydxprotocol/indexer/protocol/v1/clob.proto")
        .unwrap();
    let order_id = clob
        .message_type
        .iter_mut()
        .find(|m| m.name() == "IndexerOrderId")
        .unwrap();
    order_id.field[1].number = Some(9);
    let differences = descriptors::differences(&reference, &altered);
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        differences[0].contains("IndexerOrderId.client_id: number is 9"),
        "{differences:?}"
    );
}
