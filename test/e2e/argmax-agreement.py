"""Sums the '(agree/total rows)' counts of npy-compare lines in a log and
fails unless the overall argmax agreement reaches the given fraction."""
import re
import sys

agree = total = 0
for line in open(sys.argv[1]):
    match = re.search(r"\((\d+)/(\d+) rows\)", line)
    if match:
        agree += int(match.group(1))
        total += int(match.group(2))
fraction = agree / total if total else 0.0
print(f"argmax agreement over all runs: {agree}/{total} = {fraction:.4f}")
sys.exit(0 if total and fraction >= float(sys.argv[2]) else 1)
