"""Reads /work/shared/fixtures/generation.json for the e2e tests.

  generation-case.py JSON greedy PROMPT.npy   writes the greedy case's prompt
                                              ids (int32 .npy), prints the
                                              expected generated ids
  generation-case.py JSON chat INDEX          prints chat case INDEX's ids

Ids are printed space separated on one line, as `EXE --print-ids` and
`EXE --tokenize` print them. Plain Python: no NumPy needed.
"""
import json
import struct
import sys


def write_ids(path, ids):
    header = "{'descr': '<i4', 'fortran_order': False, 'shape': (%d,), }" % len(ids)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as out:
        out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
        out.write(header.encode("ascii"))
        out.write(struct.pack("<%di" % len(ids), *ids))


def main():
    cases = json.load(open(sys.argv[1]))
    if sys.argv[2] == "greedy":
        case = cases["greedy"]["text-tiny-1b-like"]
        write_ids(sys.argv[3], case["prompt_ids"])
        print(" ".join(map(str, case["generated_ids"])))
    elif sys.argv[2] == "chat":
        print(" ".join(map(str, cases["chat"][int(sys.argv[3])]["ids"])))
    else:
        sys.exit("unknown mode " + sys.argv[2])


if __name__ == "__main__":
    main()
