"""Writes 1-D int32 .npy files (numpy is not a dependency of the tests)."""
import struct


def write_ids(path, ids):
    header = "{'descr': '<i4', 'fortran_order': False, 'shape': (%d,), }" % len(ids)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as out:
        out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
        out.write(header.encode("ascii"))
        out.write(struct.pack("<%di" % len(ids), *ids))
