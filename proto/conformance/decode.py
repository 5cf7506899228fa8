"""Checks bytes encoded by the Rust types against dYdX's official Python classes.

Usage: decode.py INPUT.json
INPUT is [{"name", "variant", "hex"}]. Each payload is parsed with the v4_proto
class of `name` and must equal the fixture `variant` built by fixtures.py, be
byte-identical to Python's encoding of that fixture, and re-serialize in Python
to the same bytes. Prints one line per
problem and exits 1 if there is any; prints "N checked" and exits 0 otherwise.
"""

import json
import sys

from google.protobuf import text_format

import fixtures


def check(descriptors, entry):
    name, variant = entry["name"], entry["variant"]
    descriptor = descriptors.get(name)
    if descriptor is None:
        return [f"{name}/{variant}: no such message type in v4_proto"]
    if variant not in fixtures.variant_names(descriptor):
        return [f"{name}/{variant}: no such fixture variant"]
    payload = bytes.fromhex(entry["hex"])
    parsed = fixtures.message_class(descriptor)()
    try:
        parsed.ParseFromString(payload)
    except Exception as error:  # noqa: BLE001 - any parse failure is a finding
        return [f"{name}/{variant}: does not parse: {error}"]
    problems = []
    expected = fixtures.build(descriptor, variant)
    if parsed != expected:
        problems.append(
            f"{name}/{variant}: decoded value differs\n"
            f"--- expected\n{text_format.MessageToString(expected)}"
            f"--- decoded\n{text_format.MessageToString(parsed)}"
        )
    # Catches anything equality may overlook (e.g. fields Python keeps as
    # unknown) and field order: the bytes must be exactly Python's encoding.
    canonical = expected.SerializeToString()
    if payload != canonical:
        problems.append(
            f"{name}/{variant}: differs from Python's encoding of the fixture\n"
            f"  rust   {payload.hex()}\n  python {canonical.hex()}"
        )
    reencoded = parsed.SerializeToString()
    if reencoded != payload:
        problems.append(
            f"{name}/{variant}: Python re-encodes differently\n"
            f"  rust   {payload.hex()}\n  python {reencoded.hex()}"
        )
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: decode.py INPUT.json")
    with open(sys.argv[1], encoding="utf-8") as source:
        entries = json.load(source)
    descriptors = {d.full_name: d for d in fixtures.all_message_descriptors()}
    problems = [problem for entry in entries for problem in check(descriptors, entry)]
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)
    print(f"{len(entries)} checked")


if __name__ == "__main__":
    main()
