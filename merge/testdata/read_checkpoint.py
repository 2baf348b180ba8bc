#!/usr/bin/python3
"""Stdlib-only reader of a safetensors checkpoint folder, used by the merge tests to check
that merged output is readable outside Go.

Prints one line per tensor: name, dtype, shape and the sum of its values (float64, element
order), shards in name order and tensors in file order.
"""
import json
import os
import struct
import sys


def read_file(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    start = 8 + n
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    expect = 0
    for name, e in entries:
        b, end = e["data_offsets"]
        assert b == expect, f"{path}: {name} does not start where the previous tensor ends"
        expect = end
        raw = data[start + b : start + end]
        yield name, e["dtype"], e["shape"], decode(raw, e["dtype"])
    assert start + expect == len(data), f"{path}: trailing bytes"


def decode(raw, dtype):
    if dtype == "F32":
        return struct.unpack("<%df" % (len(raw) // 4), raw)
    if dtype == "F16":
        return struct.unpack("<%de" % (len(raw) // 2), raw)
    if dtype == "BF16":
        halves = struct.unpack("<%dH" % (len(raw) // 2), raw)
        widened = struct.pack("<%dI" % len(halves), *[h << 16 for h in halves])
        return struct.unpack("<%df" % len(halves), widened)
    raise ValueError("unsupported dtype " + dtype)


def main(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for fname in files:
        for name, dtype, shape, values in read_file(os.path.join(folder, fname)):
            total = 0.0
            for v in values:
                total += v
            print("%s %s [%s] %.6e" % (name, dtype, ",".join(str(d) for d in shape), total))


if __name__ == "__main__":
    main(sys.argv[1])
