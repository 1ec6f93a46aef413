"""Reads /work/shared/fixtures/generation.json for the e2e tests.

  generation-case.py JSON greedy PROMPT.npy   writes the greedy case's prompt
                                              ids (int32 .npy), prints the
                                              expected generated ids
  generation-case.py JSON chat INDEX          prints chat case INDEX's ids
  generation-case.py CASE.json trained INDEX  prints greedy case INDEX of
                                              tiny-gemma3-trained: its prompt
                                              ids, then its generated ids

Ids are printed space separated on one line, as `EXE --print-ids` and
`EXE --tokenize` print them. Plain Python: no NumPy needed.
"""
import json
import sys

from npyio import write_ids


def main():
    cases = json.load(open(sys.argv[1]))
    if sys.argv[2] == "greedy":
        case = cases["greedy"]["text-tiny-1b-like"]
        write_ids(sys.argv[3], case["prompt_ids"])
        print(" ".join(map(str, case["generated_ids"])))
    elif sys.argv[2] == "trained":
        case = cases["greedy"][int(sys.argv[3])]
        print(" ".join(map(str, case["prompt_ids"][1:])))
        print(" ".join(map(str, case["generated_ids"])))
    elif sys.argv[2] == "chat":
        print(" ".join(map(str, cases["chat"][int(sys.argv[3])]["ids"])))
    else:
        sys.exit("unknown mode " + sys.argv[2])


if __name__ == "__main__":
    main()
