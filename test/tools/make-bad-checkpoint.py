"""Writes a copy of a fixture checkpoint with one defect, for the driver's
error-message tests.

    make-bad-checkpoint.py FIXTURE_DIR OUT_DIR truncated|missing|shape|dtype|config
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
    if defect == "missing":
        del header[victim]
    elif defect == "shape":
        rows, cols = header[victim]["shape"]
        header[victim]["shape"] = [cols, rows]
    elif defect == "dtype":
        # Same bytes, declared as F16: a mixed-dtype checkpoint.
        header[victim]["dtype"] = "F16"
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    data = struct.pack("<Q", len(encoded)) + encoded + body
open(os.path.join(out, "model.safetensors"), "wb").write(data)
