"""Encodes every conformance fixture with dYdX's official Python classes.

Usage: encode.py OUTPUT.json

Writes {"messages": [full names of every message type],
        "fixtures": [{"name", "variant", "hex", "expected"}],
        "descriptors": {file name: hex of its serialized FileDescriptorProto}}
where "expected" is json_format.MessageToDict(..., preserving_proto_field_name=True)
(for humans reading a failure; the Rust side compares typed values).
"""

import json
import sys

from google.protobuf import json_format

import fixtures


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: encode.py OUTPUT.json")
    output = {
        "messages": [d.full_name for d in fixtures.all_message_descriptors()],
        "fixtures": [
            {
                "name": name,
                "variant": variant,
                "hex": message.SerializeToString().hex(),
                "expected": json_format.MessageToDict(
                    message, preserving_proto_field_name=True
                ),
            }
            for name, variant, message in fixtures.all_fixtures()
        ],
        "descriptors": {
            file.name: file.serialized_pb.hex() for file in fixtures.file_descriptors()
        },
    }
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(output, out, indent=1)


if __name__ == "__main__":
    main()
