"""Runs fuzz cases in-process, one after another, under a memory cap.

Protocol: one JSON request per line on stdin ({"dir", "args"}), one JSON answer per line
on the original stdout. The parent (run.py) enforces the time limit per case by killing
this process; the address-space cap (RLIMIT_AS) is set before numpy is imported, so a file
that makes logitcheck allocate beyond it ends in MemoryError, which the parent flags.
"""

from __future__ import annotations

import os
import resource
import sys


def main() -> None:
    cap = int(os.environ.get("LOGITCHECK_FUZZ_MEMORY", str(2 << 30)))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything written to fd 1 directly cannot garble the protocol

    import json
    import tempfile
    import time
    import traceback

    from click.testing import CliRunner

    from logitcheck.cli import cli

    tmp = tempfile.gettempdir()  # the parent points TMPDIR at a directory of our own
    for line in sys.stdin:
        request = json.loads(line)
        os.chdir(request["dir"])
        before = sorted(os.listdir("."))
        start = time.perf_counter()
        try:
            result = CliRunner().invoke(cli, request["args"], catch_exceptions=True)
            exc = result.exception
            error = None
            if exc is not None and not isinstance(exc, SystemExit):
                error = "".join(traceback.format_exception(exc))[-3000:]
            answer = {"exit": result.exit_code, "stdout": result.stdout[:1_000_000],
                      "stderr": result.stderr[:4000], "exception": error}
        except BaseException as exc:  # noqa: BLE001 - report anything, the parent judges
            answer = {"exit": None, "stdout": "", "stderr": "",
                      "exception": "".join(traceback.format_exception(exc))[-3000:]}
        answer["seconds"] = time.perf_counter() - start
        answer["written"] = sorted(set(os.listdir(".")) - set(before))
        answer["tmp_left"] = sorted(os.listdir(tmp))
        os.chdir("/")
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
