"""The quick slice of the kind-inference corpus (benchmarks/kind_corpus.py) runs in CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_corpus_meets_the_accuracy_target():
    out = subprocess.run(
        [sys.executable, "benchmarks/kind_corpus.py", "--quick"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "healthy logits with an LC2xx error: 0" in out.stdout
