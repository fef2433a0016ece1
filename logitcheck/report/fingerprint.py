"""The inputs' fingerprint: a hash of each input's size and first and last MiB (a
directory: of each file, with its relative path). Report.fingerprint and the baseline's
keys (gate/baseline.py) use it; it imports nothing of the package but its errors.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import InputError

_MIB = 1 << 20


def file_fingerprint(path: str | Path) -> str:
    if os.path.isdir(path):
        return _directory_fingerprint(Path(path))
    digest = hashlib.sha256(b"logitcheck-fp1\0")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            digest.update(size.to_bytes(8, "little"))
            digest.update(f.read(_MIB))
            f.seek(max(0, size - _MIB))
            digest.update(f.read(_MIB))
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _directory_fingerprint(path: Path) -> str:
    """A directory input (.npy shards, a zarr store): each file's relative path and
    fingerprint, in sorted order, so adding, removing or renaming a file changes it too."""
    digest = hashlib.sha256(b"logitcheck-dir1\0")
    try:
        files = sorted(f for f in path.rglob("*") if f.is_file())
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    for f in files:
        digest.update(f.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file_fingerprint(f).encode())
    return digest.hexdigest()


def inputs_fingerprint(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(file_fingerprint(path).encode())
    return digest.hexdigest()
