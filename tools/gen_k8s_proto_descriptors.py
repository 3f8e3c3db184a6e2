#!/usr/bin/env python3
"""Extract the Kubernetes API's protobuf schemas from a kubectl binary into one FileDescriptorSet.

Usage: ``python tools/gen_k8s_proto_descriptors.py /usr/lib/google-cloud-sdk/bin/kubectl.1.32``

Every Go package generated from a ``k8s.io/api/.../generated.proto`` or
``k8s.io/apimachinery/.../generated.proto`` registers its FileDescriptorProto with the gogo protobuf
registry as a gzip stream, so a kubectl binary carries the wire schema (message names, field names,
numbers and types) of every built-in kind of its release. This script finds those streams (gzip
member header with a zero mtime, decompressed, parsed as a FileDescriptorProto whose name ends in
``generated.proto``), keeps only what a decoder needs and writes them, dependencies first, as one
gzipped FileDescriptorSet: ``src/kubetwin/server/data/k8s-descriptors.binpb.gz`` (read by
:mod:`kubetwin.server.protobuf`).

What is kept of each file: name, package, dependencies (without ``gogo.proto``, whose options we do
not need as extensions), messages with their fields and nested map-entry types. What is dropped:
source_code_info (comments), file options, json_name (the pool derives it), every field option
except gogo's ``nullable`` (extension 65001), which is left as an unknown field of FieldOptions:
``(gogoproto.nullable) = false`` marks a Go non-pointer field, which gogo always writes, so a
decoder can tell "set to zero" from "not set" the way Go's JSON encoding does. Message options keep
``map_entry``. The output is byte-for-byte reproducible for the same binary (gzip mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import zlib
from pathlib import Path

from google.protobuf import descriptor_pb2

GZIP_MAGIC = re.compile(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00")
GOGO = "github.com/gogo/protobuf/gogoproto/gogo.proto"
NULLABLE_FALSE = b"\xc8\xde\x1f\x00"  # field 65001 (gogoproto.nullable), varint 0
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "kubetwin" / "server" / "data" / "k8s-descriptors.binpb.gz"


def extract(binary: bytes) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Every ``*generated.proto`` FileDescriptorProto embedded in the binary, by file name."""
    found: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for m in GZIP_MAGIC.finditer(binary):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(binary[m.start() : m.start() + (4 << 20)])
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
        except Exception:  # most gzip-looking byte runs in a binary are something else
            continue
        if fd.name.endswith("generated.proto") and fd.package and fd.name not in found:
            found[fd.name] = fd
    return found


def _strip_message(msg: descriptor_pb2.DescriptorProto) -> None:
    map_entry = msg.options.map_entry
    msg.ClearField("options")
    if map_entry:
        msg.options.map_entry = True
    for f in msg.field:
        nonnull = NULLABLE_FALSE in f.options.SerializeToString()
        f.ClearField("options")
        f.ClearField("json_name")
        if nonnull:
            f.options.MergeFromString(NULLABLE_FALSE)
    for nested in msg.nested_type:
        _strip_message(nested)


def strip(fd: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    out = descriptor_pb2.FileDescriptorProto()
    out.CopyFrom(fd)
    out.ClearField("source_code_info")
    out.ClearField("options")
    deps = [d for d in out.dependency if d != GOGO]
    del out.dependency[:]
    out.dependency.extend(deps)
    for msg in out.message_type:
        _strip_message(msg)
    return out


def ordered(files: dict[str, descriptor_pb2.FileDescriptorProto]) -> list[descriptor_pb2.FileDescriptorProto]:
    """Files sorted so each comes after its dependencies (ties by name, for a stable output)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in stack:
            raise SystemExit(f"dependency cycle through {name}")
        fd = files.get(name)
        if fd is None:
            raise SystemExit(f"{stack[-1]} imports {name}, which the binary does not embed")
        for dep in sorted(fd.dependency):
            visit(dep, (*stack, name))
        seen.add(name)
        done.append(name)

    for name in sorted(files):
        visit(name, ())
    return [files[n] for n in done]


def build(binary: bytes) -> bytes:
    files = {name: strip(fd) for name, fd in extract(binary).items()}
    if not any(n.startswith("k8s.io/api/core/v1/") for n in files):
        raise SystemExit("no k8s.io/api/core/v1/generated.proto in that binary: is it kubectl?")
    fds = descriptor_pb2.FileDescriptorSet()
    fds.file.extend(ordered(files))
    return fds.SerializeToString(deterministic=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kubectl", type=Path, help="a kubectl binary (its release's schemas are extracted)")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = ap.parse_args(argv)
    data = build(args.kubectl.read_bytes())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    n = len(descriptor_pb2.FileDescriptorSet.FromString(data).file)
    print(f"{args.output}: {n} files, {len(data)} bytes ({args.output.stat().st_size} gzipped)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
