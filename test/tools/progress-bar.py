"""Runs a command on a pseudo-terminal and prints what it wrote there, with
control characters spelled out (\\r as <CR>, ESC as <ESC>), for FileCheck.

    progress-bar.py COMMAND [ARGS...]
"""
import os
import pty
import sys

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
chunks = []
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    chunks.append(data)
_, status = os.waitpid(pid, 0)
text = b"".join(chunks).decode("utf-8", "replace")
print(text.replace("\r", "<CR>").replace("\x1b", "<ESC>"))
sys.exit(os.waitstatus_to_exitcode(status))
