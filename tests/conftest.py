from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
