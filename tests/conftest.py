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
