from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property tests: a few dozen examples each in CI; LOGITCHECK_HYPOTHESIS_PROFILE=long for
# thousands (minutes). No deadline: mpmath references take a variable, data-dependent time.
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=_SLOW)
settings.load_profile(os.environ.get("LOGITCHECK_HYPOTHESIS_PROFILE", "ci"))

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def labels() -> np.ndarray:
    return np.load(SAMPLES / "labels.npy")


def save(path: Path, array: np.ndarray) -> str:
    np.save(path, array, allow_pickle=False)
    return str(path)


def assert_clean_error(result, *fragments: str) -> str:
    """Bad input: exit 2, nothing on stdout, one `logitcheck: error:` line on stderr naming
    every fragment, no traceback. Returns that line."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("logitcheck: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def analyze_json(*args: str) -> tuple[int, dict]:
    """`analyze ARGS --format json` through click: (exit code 0 or 1, report without timings)."""
    import json

    from click.testing import CliRunner

    from logitcheck.cli.app import cli

    result = CliRunner().invoke(cli, ["analyze", *args, "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    doc.pop("timings")
    return result.exit_code, doc


@pytest.fixture(autouse=True)
def _report_width(monkeypatch):
    """The human report is 100 columns wide in every test (the CLI reads COLUMNS, which a
    developer's shell may export); tests of other widths pass COLUMNS themselves."""
    monkeypatch.delenv("COLUMNS", raising=False)
