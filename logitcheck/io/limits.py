"""Size caps, checked against what a file declares before anything is allocated."""

from __future__ import annotations

from ..errors import InputError

GiB = 1 << 30
#: Default cap for data that must be decoded (CSV values, compressed .npz members): the
#: decoded array lives in memory or a temporary file. Memory-mapped data has no default cap.
DEFAULT_DECODED_MAX = 8 * GiB
#: A compressed member that inflates more than this many times is refused (zip bombs).
MAX_COMPRESSION_RATIO = 1000


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n:,} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


def check_declared(path: object, declared: int, max_bytes: int | None, what: str = "") -> None:
    """Refuse data larger than --max-bytes (None: no cap) before it is read."""
    if max_bytes is not None and declared > max_bytes:
        raise InputError(
            path,
            f"{what}declares {human_bytes(declared)} of data, above the --max-bytes cap of "
            f"{human_bytes(max_bytes)}; raise it with --max-bytes if the file is trusted",
        )


def decoded_cap(max_bytes: int | None) -> int:
    """The cap for decoded data: --max-bytes when given, else DEFAULT_DECODED_MAX."""
    return DEFAULT_DECODED_MAX if max_bytes is None else max_bytes
