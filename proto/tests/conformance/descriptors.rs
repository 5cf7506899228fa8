//! Compares our compiled schema with the descriptors embedded in v4_proto:
//! every message, nested message, enum, enum value, field (name, number, type,
//! label, type_name, oneof, proto3_optional), oneof and reserved range/name.
//! File-level options, imports and field options (gogoproto, cosmos_proto,
//! deprecated) do not affect the wire and are not compared.

use std::collections::BTreeMap;

use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
};

/// Every difference between `reference` (v4_proto) and `ours`, one per line.
pub fn differences(reference: &[FileDescriptorProto], ours: &[FileDescriptorProto]) -> Vec<String> {
    let ours_by_name: BTreeMap<&str, &FileDescriptorProto> =
        ours.iter().map(|f| (f.name(), f)).collect();
    let mut found = Vec::new();
    for file in reference {
        let Some(our_file) = ours_by_name.get(file.name()) else {
            found.push(format!("file {} is missing", file.name()));
            continue;
        };
        let at = file.name();
        compare_value(
            &mut found,
            at,
            "package",
            file.package(),
            our_file.package(),
        );
        compare_value(&mut found, at, "syntax", file.syntax(), our_file.syntax());
        compare_messages(&mut found, at, &file.message_type, &our_file.message_type);
        compare_enums(&mut found, at, &file.enum_type, &our_file.enum_type);
    }
    found
}

fn compare_value<T: PartialEq + std::fmt::Debug>(
    found: &mut Vec<String>,
    at: &str,
    what: &str,
    reference: T,
    ours: T,
) {
    if reference != ours {
        found.push(format!(
            "{at}: {what} is {ours:?}, reference has {reference:?}"
        ));
    }
}

/// Pairs items by name; reports items present on one side only.
fn paired<'a, T>(
    found: &mut Vec<String>,
    at: &str,
    kind: &str,
    reference: &'a [T],
    ours: &'a [T],
    name: impl Fn(&T) -> &str,
) -> Vec<(&'a T, &'a T)> {
    let ours_by_name: BTreeMap<&str, &T> = ours.iter().map(|item| (name(item), item)).collect();
    let reference_names: Vec<&str> = reference.iter().map(&name).collect();
    for extra in ours_by_name.keys().filter(|n| !reference_names.contains(n)) {
        found.push(format!("{at}: {kind} {extra} is not in the reference"));
    }
    reference
        .iter()
        .filter_map(|item| match ours_by_name.get(name(item)) {
            Some(our_item) => Some((item, *our_item)),
            None => {
                found.push(format!("{at}: {kind} {} is missing", name(item)));
                None
            }
        })
        .collect()
}

fn compare_messages(
    found: &mut Vec<String>,
    at: &str,
    reference: &[DescriptorProto],
    ours: &[DescriptorProto],
) {
    for (message, our_message) in paired(found, at, "message", reference, ours, |m| m.name()) {
        let at = format!("{at}:{}", message.name());
        compare_fields(found, &at, message, our_message);
        let oneofs = |m: &DescriptorProto| {
            m.oneof_decl
                .iter()
                .map(|o| o.name().to_owned())
                .collect::<Vec<_>>()
        };
        compare_value(found, &at, "oneofs", oneofs(message), oneofs(our_message));
        let ranges = |m: &DescriptorProto| {
            m.reserved_range
                .iter()
                .map(|r| (r.start(), r.end()))
                .collect::<Vec<_>>()
        };
        compare_value(
            found,
            &at,
            "reserved ranges",
            ranges(message),
            ranges(our_message),
        );
        compare_value(
            found,
            &at,
            "reserved names",
            &message.reserved_name,
            &our_message.reserved_name,
        );
        let extension_ranges = |m: &DescriptorProto| m.extension_range.len();
        compare_value(
            found,
            &at,
            "extension ranges",
            extension_ranges(message),
            extension_ranges(our_message),
        );
        compare_messages(found, &at, &message.nested_type, &our_message.nested_type);
        compare_enums(found, &at, &message.enum_type, &our_message.enum_type);
    }
}

fn compare_fields(
    found: &mut Vec<String>,
    at: &str,
    message: &DescriptorProto,
    ours: &DescriptorProto,
) {
    let oneof_of = |m: &DescriptorProto, f: &FieldDescriptorProto| {
        f.oneof_index
            .map(|i| m.oneof_decl[i as usize].name().to_owned())
    };
    for (field, our_field) in paired(found, at, "field", &message.field, &ours.field, |f| {
        f.name()
    }) {
        let at = format!("{at}.{}", field.name());
        compare_value(found, &at, "number", field.number(), our_field.number());
        compare_value(found, &at, "type", field.r#type(), our_field.r#type());
        compare_value(found, &at, "label", field.label(), our_field.label());
        compare_value(
            found,
            &at,
            "type_name",
            field.type_name(),
            our_field.type_name(),
        );
        compare_value(
            found,
            &at,
            "oneof",
            oneof_of(message, field),
            oneof_of(ours, our_field),
        );
        compare_value(
            found,
            &at,
            "proto3_optional",
            field.proto3_optional(),
            our_field.proto3_optional(),
        );
        compare_value(
            found,
            &at,
            "packed",
            field.options.as_ref().and_then(|o| o.packed),
            our_field.options.as_ref().and_then(|o| o.packed),
        );
    }
}

fn compare_enums(
    found: &mut Vec<String>,
    at: &str,
    reference: &[EnumDescriptorProto],
    ours: &[EnumDescriptorProto],
) {
    for (enumeration, our_enum) in paired(found, at, "enum", reference, ours, |e| e.name()) {
        let values = |e: &EnumDescriptorProto| {
            e.value
                .iter()
                .map(|v| (v.name().to_owned(), v.number()))
                .collect::<Vec<_>>()
        };
        let at = format!("{at}:{}", enumeration.name());
        compare_value(found, &at, "values", values(enumeration), values(our_enum));
    }
}
