"""Writes a copy of a fixture checkpoint with one defect, for the driver's
error-message tests.

    make-bad-checkpoint.py FIXTURE_DIR OUT_DIR DEFECT

DEFECT: truncated (the file cut short), missing (a tensor left out), shape (a
matrix transposed), dtype (a matrix declared I16), config (malformed JSON),
gap (bytes between two tensors), overlap (two tensors share bytes),
duplicate (a name listed twice in the header), metadata (a __metadata__ that
is a list).
"""
import json
import os
import shutil
import struct
import sys

src, out, defect = sys.argv[1:4]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
shutil.copy(os.path.join(src, "config.json"), os.path.join(out, "config.json"))
data = open(os.path.join(src, "model.safetensors"), "rb").read()
length = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8 : 8 + length])
body = data[8 + length :]
victim = "model.layers.3.mlp.up_proj.weight"

if defect == "truncated":
    data = data[: len(data) - 1000]
elif defect == "config":
    open(os.path.join(out, "config.json"), "w").write('{"hidden_size": 64,')
else:
    tensors = {
        name: body[entry["data_offsets"][0] : entry["data_offsets"][1]]
        for name, entry in header.items()
        if name != "__metadata__"
    }
    if defect == "missing":
        del header[victim]
        del tensors[victim]
    elif defect == "shape":
        rows, cols = header[victim]["shape"]
        header[victim]["shape"] = [cols, rows]
    elif defect == "dtype":
        # Same bytes, declared as 16-bit integers.
        header[victim]["dtype"] = "I16"
    elif defect == "metadata":
        header["__metadata__"] = ["format", "pt"]
    # Lay the data out again, in header order, without gaps.
    body = b""
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if defect == "gap" and name == victim:
            body += b"\0" * 64
        begin = len(body)
        if defect == "overlap" and name == victim:
            begin -= 2
            body = body[:-2]
        body += tensors[name]
        entry["data_offsets"] = [begin, len(body)]
    encoded = json.dumps(header).encode()
    if defect == "duplicate":
        # json.dumps cannot repeat a key: splice a second copy in by hand.
        entry = json.dumps({victim: header[victim]})[1:-1].encode()
        encoded = encoded[:-1] + b", " + entry + b"}"
    encoded += b" " * (-len(encoded) % 8)
    data = struct.pack("<Q", len(encoded)) + encoded + body
open(os.path.join(out, "model.safetensors"), "wb").write(data)
