"""Drives an executable's interactive chat through a pseudo-terminal.

  interactive-chat.py EXE WORK_DIR MODE

MODE `reuse`: two greedy turns with --stats --print-ids. Checks, and prints
what it checked, that the second turn prefilled only what the caches lacked
(the tokens closing the first reply and the new user turn, starting where the
first turn ended) and that its reply equals a fresh prefill of the whole
templated conversation (`EXE --input-ids`), i.e. the cache held the first
turn exactly.

MODE `image IMG` (a multimodal executable): `/image MISSING` is refused and
the chat goes on; `/image IMG` then a message: the reply equals a one-shot
`-p MESSAGE --chat --image IMG`; a text turn after it prefills only its own
tokens, behind the image's.

MODE `overflow` (an executable with a short context): turns until one no
longer fits; the chat must start a new conversation and go on, and refuse a
message too long for any conversation. Exits non-zero on any mismatch.
"""
import os
import pty
import re
import subprocess
import sys

from npyio import write_ids

STATS = re.compile(r"\[stats\] prompt tokens: (\d+) \(positions (\d+)-(\d+)\)")
STOP = re.compile(r"stopped by: ([a-z ]+)")
POSITION = re.compile(r"\[stats\] position: (\d+) of (\d+)")


def chat(exe, args, lines):
    """Runs the chat with stdin on a terminal; returns (stdout, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([exe] + args, stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, close_fds=True)
    os.close(slave)
    # The terminal buffers the lines; Ctrl-D on an empty line is end of file.
    os.write(master, "".join(line + "\n" for line in lines).encode() + b"\x04")
    out, err = proc.communicate(timeout=300)
    os.close(master)
    if proc.returncode != 0:
        sys.exit("chat exited with %d:\n%s" % (proc.returncode, err.decode()))
    return out.decode(), err.decode()


def ids_of(text):
    return [int(x) for x in text.split()]


def tokenize(exe, *args):
    return ids_of(subprocess.check_output([exe, "--tokenize"] + list(args)).decode())


def expect(condition, what):
    if not condition:
        sys.exit("FAILED: " + what)


def turn_ids(exe, text):
    """A later user turn's ids (no <bos>), from the template's text."""
    return tokenize(exe, "<start_of_turn>user\n" + text +
                    "<end_of_turn>\n<start_of_turn>model\n")


def reuse(exe, work):
    turns = ["Hi there", "What did I just say?"]
    args = ["--temperature", "0", "--max-tokens", "6", "--stats", "--print-ids"]
    out, err = chat(exe, args, turns)
    replies = [ids_of(part) for part in out.split("> ") if part.strip()]
    prefills = [tuple(map(int, m)) for m in STATS.findall(err)]
    stops = STOP.findall(err)
    expect(len(replies) == 2 and len(prefills) == 2,
           "two replies and two stats blocks, got:\n" + out + err)

    first = tokenize(exe, turns[0], "--chat")
    count, start, end = prefills[0]
    print("turn 1: prefilled %d tokens at positions %d-%d" % (count, start, end))
    expect((count, start) == (len(first), 0), "turn 1 prefills its template")

    # The first reply's last token was sampled but not fed; unless it was the
    # stop id, it and the <end_of_turn> "\n" closing the turn come first.
    reply1 = replies[0]
    stopped = stops[0] == "stop token"
    content1 = reply1[:-1] if stopped else reply1
    closing = ([] if stopped else content1[-1:]) + [106, 107]
    second = turn_ids(exe, turns[1])
    count, start, end = prefills[1]
    turn1_end = len(first) + len(reply1) - 1
    print("turn 2: prefilled %d tokens at positions %d-%d; turn 1 ended at %d;"
          " closing %d + turn %d tokens" % (count, start, end, turn1_end,
                                            len(closing), len(second)))
    expect(start == turn1_end, "turn 2 starts where turn 1 ended")
    expect(count == len(closing) + len(second), "turn 2 prefills only its own")

    whole = first + content1 + [106, 107] + second
    write_ids(os.path.join(work, "whole.npy"), whole)
    fresh = ids_of(subprocess.check_output(
        [exe, "--input-ids", os.path.join(work, "whole.npy"), "--temperature",
         "0", "--max-tokens", "6", "--print-ids"]).decode())
    print("turn 2 reply %s a fresh prefill of all %d tokens" %
          ("equals" if fresh == replies[1] else "DIFFERS FROM", len(whole)))
    expect(fresh == replies[1], "cached and fresh replies agree: %s vs %s" %
           (replies[1], fresh))


def overflow(exe, work):
    long_text = " ".join("word%d" % i for i in range(40))
    turns = ["Hi", "Tell me more", "And more", "Again", long_text, "Short"]
    args = ["--temperature", "0", "--max-tokens", "12", "--stats"]
    out, err = chat(exe, args, turns)
    for line in err.splitlines():
        if line.startswith("[") and not line.startswith("[stats]"):
            print(line)
    starts = [int(m[1]) for m in STATS.findall(err)]
    print("turns started at positions", " ".join(map(str, starts)))
    expect("starting a new conversation" in err, "a new conversation")
    expect(starts.count(0) >= 2, "a later turn starts at position 0 again")
    expect("[message not sent: " in err, "the long message is refused")
    expect(len(starts) == len(turns) - 1, "every other turn got a reply")


def image(exe, work, path):
    args = ["--temperature", "0", "--max-tokens", "4", "--stats", "--print-ids"]
    missing = os.path.join(work, "missing.png")
    out, err = chat(exe, args, ["/image " + missing, "/image " + path,
                                "What is this?", "And now?"])
    for line in err.splitlines():
        if line.startswith("[image"):
            print(line.replace(work, "WORK").replace(path, "IMG"))
    replies = [ids_of(part) for part in out.split("> ") if part.strip()]
    prefills = [tuple(map(int, m)) for m in STATS.findall(err)]
    expect(len(replies) == 2 and len(prefills) == 2,
           "two replies and two stats blocks, got:\n" + out + err)
    one_shot = ids_of(subprocess.check_output(
        [exe, "-p", "What is this?", "--chat", "--image", path] + args[:4] +
        ["--print-ids"], stderr=subprocess.DEVNULL).decode())
    print("image turn: prefilled %d tokens; reply %s the one-shot --image run"
          % (prefills[0][0], "equals" if one_shot == replies[0] else
             "DIFFERS FROM"))
    expect(one_shot == replies[0], "%s vs %s" % (replies[0], one_shot))
    count, start, end = prefills[1]
    expect(start == prefills[0][2] + len(replies[0]),
           "the text turn starts behind the image turn's reply")
    print("text turn: prefilled %d tokens from position %d" % (count, start))


if __name__ == "__main__":
    mode = sys.argv[3]
    if mode == "image":
        image(sys.argv[1], sys.argv[2], sys.argv[4])
    else:
        {"reuse": reuse, "overflow": overflow}[mode](sys.argv[1], sys.argv[2])
