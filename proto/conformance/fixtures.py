"""Deterministic fixtures for every dydxprotocol.indexer message, built with
dYdX's official generated classes (PyPI `v4-proto`).

Every field gets a non-default value derived from its type and field number
(the Rust side, proto/tests/conformance/fixtures.rs, spells the same values
out by hand):

  uint32  1000 + n            fixed32  2^32 - 1 - n
  int32   -(1000 + n)         sint32   -(100 + n)
  uint64  2^64 - n            sint64   -2^63 + n
  bool    true                string   the field's name
  bytes   [3, n, 0, 255]      enum     its highest value
  message the variant-0 fixture of its type
  google.protobuf.Timestamp   {seconds: 1700000000 + n, nanos: 123000000}
  repeated message  [variant-0 fixture, empty message]
  repeated string   [name, name + "#2"]

Variant "vK" sets the K-th member (declaration order) of each oneof, so a
message with oneofs has one variant per member of its largest oneof. Extra
variants: "default" (every field unset) for every message, and "zero_oneof"
for messages whose first oneof member is set to its default value (oneof
members are written even when zero).
"""

import importlib

from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor as FD

MODULES = [
    "indexer_manager.event_pb2",
    "protocol.v1.clob_pb2",
    "protocol.v1.subaccount_pb2",
    "protocol.v1.perpetual_pb2",
    "protocol.v1.vault_pb2",
    "events.events_pb2",
    "shared.removal_reason_pb2",
    "off_chain_updates.off_chain_updates_pb2",
    "redis.redis_order_pb2",
    "socks.messages_pb2",
]

TIMESTAMP = "google.protobuf.Timestamp"


def file_descriptors():
    """The FileDescriptor of every v4_proto indexer file."""
    return [
        importlib.import_module("v4_proto.dydxprotocol.indexer." + name).DESCRIPTOR
        for name in MODULES
    ]


def all_message_descriptors():
    """Every message type (nested ones included), in a stable order."""
    found = []

    def walk(descriptor):
        found.append(descriptor)
        for nested in descriptor.nested_types:
            walk(nested)

    for file in file_descriptors():
        for descriptor in file.message_types_by_name.values():
            walk(descriptor)
    return found


def message_class(descriptor):
    return message_factory.GetMessageClass(descriptor)


def variant_names(descriptor):
    members = max((len(o.fields) for o in descriptor.oneofs), default=1)
    names = [f"v{k}" for k in range(members)] + ["default"]
    if descriptor.oneofs:
        names.append("zero_oneof")
    return names


def scalar_value(field):
    n = field.number
    kind = field.type
    if kind == FD.TYPE_UINT32:
        return 1000 + n
    if kind == FD.TYPE_FIXED32:
        return 2**32 - 1 - n
    if kind == FD.TYPE_INT32:
        return -(1000 + n)
    if kind == FD.TYPE_SINT32:
        return -(100 + n)
    if kind == FD.TYPE_UINT64:
        return 2**64 - n
    if kind == FD.TYPE_SINT64:
        return -(2**63) + n
    if kind == FD.TYPE_BOOL:
        return True
    if kind == FD.TYPE_STRING:
        return field.name
    if kind == FD.TYPE_BYTES:
        return bytes([3, n, 0, 255])
    if kind == FD.TYPE_ENUM:
        return max(v.number for v in field.enum_type.values)
    raise ValueError(f"no fixture value for {field.full_name} (type {kind})")


def chosen_oneof_fields(descriptor, variant):
    """Fields that are set in `variant` (oneof members not chosen are skipped)."""
    k = int(variant[1:]) if variant.startswith("v") else 0
    chosen = []
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and list(oneof.fields).index(field) != k % len(oneof.fields):
            continue
        chosen.append(field)
    return chosen


def build(descriptor, variant="v0"):
    """The fixture `variant` of the message type `descriptor`."""
    message = message_class(descriptor)()
    if variant == "default":
        return message
    if variant == "zero_oneof":
        first = descriptor.oneofs[0].fields[0]
        if first.type == FD.TYPE_MESSAGE:
            getattr(message, first.name).SetInParent()
        else:
            setattr(message, first.name, type(scalar_value(first))())
        return message
    for field in chosen_oneof_fields(descriptor, variant):
        fill_field(message, field)
    return message


def is_repeated(field):
    # protobuf >= 6 replaced `label` with `is_repeated`.
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == FD.LABEL_REPEATED


def fill_field(message, field):
    repeated = is_repeated(field)
    if field.type == FD.TYPE_MESSAGE:
        if field.message_type.full_name == TIMESTAMP:
            target = getattr(message, field.name)
            target.seconds = 1_700_000_000 + field.number
            target.nanos = 123_000_000
        elif repeated:
            items = getattr(message, field.name)
            items.append(build(field.message_type))
            items.add()
        else:
            getattr(message, field.name).CopyFrom(build(field.message_type))
    elif repeated:
        value = scalar_value(field)
        second = value + "#2" if isinstance(value, str) else value
        getattr(message, field.name).extend([value, second])
    else:
        setattr(message, field.name, scalar_value(field))


def all_fixtures():
    """(full message name, variant, message) for every fixture."""
    return [
        (descriptor.full_name, variant, build(descriptor, variant))
        for descriptor in all_message_descriptors()
        for variant in variant_names(descriptor)
    ]
