//! Compiles the dYdX indexer .proto files with protox (pure Rust, no system
//! protoc) and generates prost types into OUT_DIR.

use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "proto";

const PROTO_FILES: &[&str] = &[
    "dydxprotocol/indexer/indexer_manager/event.proto",
    "dydxprotocol/indexer/protocol/v1/clob.proto",
    "dydxprotocol/indexer/protocol/v1/subaccount.proto",
    "dydxprotocol/indexer/protocol/v1/perpetual.proto",
    "dydxprotocol/indexer/protocol/v1/vault.proto",
    "dydxprotocol/indexer/events/events.proto",
    "dydxprotocol/indexer/shared/removal_reason.proto",
    "dydxprotocol/indexer/off_chain_updates/off_chain_updates.proto",
    "dydxprotocol/indexer/redis/redis_order.proto",
    "dydxprotocol/indexer/socks/messages.proto",
];

/// prost-derive encodes a oneof as one unit at the position of its lowest
/// field number. OrderFillEventV1's `taker_order` oneof (2, 4) straddles
/// `fill_amount` (3), so the derived encoder would write 1,4,3 for a
/// liquidation taker where protobuf (Python, upb) writes 1,3,4. The crate
/// implements `prost::Message` for it by hand instead (src/order_fill.rs).
const HAND_ENCODED: &[(&str, &str)] = &[("dydxprotocol.indexer.events.rs", "OrderFillEventV1")];

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let files: Vec<String> = PROTO_FILES
        .iter()
        .map(|f| format!("{PROTO_ROOT}/{f}"))
        .collect();
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }

    let descriptors = protox::compile(&files, [PROTO_ROOT]).unwrap_or_else(|e| {
        panic!("compiling the .proto files failed: {e:?}");
    });
    std::fs::write(
        out_dir.join("file_descriptor_set.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )
    .expect("writing the file descriptor set");

    prost_build::Config::new()
        .include_file("packages.rs")
        // `prost::Name` (full_name / type_url) for every message.
        .enable_type_names()
        .compile_fds(descriptors)
        .expect("generating Rust code from the descriptors");

    for (file, message) in HAND_ENCODED {
        drop_message_derive(&out_dir.join(file), message);
    }
}

/// Swaps the `::prost::Message` derive on `message` for plain `Default` and
/// `Debug` derives (what the Message derive would otherwise provide) and drops
/// its `#[prost(..)]` field attributes; the crate supplies the `prost::Message`
/// impl.
fn drop_message_derive(path: &Path, message: &str) {
    let code = std::fs::read_to_string(path).expect("reading generated code");
    let struct_line = format!("\npub struct {message} {{");
    let struct_at = code
        .find(&struct_line)
        .unwrap_or_else(|| panic!("generated code has no struct {message}"));
    let derive_at = code[..struct_at].rfind('\n').map_or(0, |i| i + 1);
    let derive = &code[derive_at..struct_at];
    assert!(
        derive.starts_with("#[derive(") && derive.ends_with(", ::prost::Message)]"),
        "prost-build output for {message} changed shape ({derive}); update build.rs"
    );
    let patched_derive = derive.replace(", ::prost::Message)]", ", Default, Debug)]");
    let body_end = struct_at
        + code[struct_at..]
            .find("\n}\n")
            .unwrap_or_else(|| panic!("struct {message} has no end"));
    // The field attributes belong to the Message derive; without it they do not compile.
    let body: String = code[struct_at..body_end]
        .lines()
        .filter(|line| !line.trim_start().starts_with("#[prost("))
        .collect::<Vec<_>>()
        .join("\n");
    let patched = format!(
        "{}{patched_derive}{body}{}",
        &code[..derive_at],
        &code[body_end..]
    );
    std::fs::write(path, patched).expect("writing patched code");
}
