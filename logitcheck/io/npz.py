"""Opening .npz archives: each member's declared size and compression ratio are checked
from the zip's central directory, and its .npy header is read, before any data is.

Stored (uncompressed, np.savez) members are memory-mapped through their offset in the
archive, like a .npy file. Compressed members (np.savez_compressed) cannot be mapped: they
are inflated into memory, member by member, only after the checks pass, and only the
bytes the member's .npy header declares (the default cap is 8 GiB, --max-bytes).
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, os_input_error
from .limits import MAX_COMPRESSION_RATIO, check_declared, decoded_cap, human_bytes
from .npy import declared_bytes, map_array, parse_header

# what zipfile and zlib raise on a damaged or unsupported archive
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error)
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length


@dataclass(frozen=True)
class Member:
    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    stored: bool  # uncompressed: can be memory-mapped
    data_offset: int | None  # of the array data in the archive (stored members only)
    file_size: int
    compress_size: int

    @property
    def nbytes(self) -> int:
        return declared_bytes(self.shape, self.dtype)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise os_input_error(path, exc) from None
    except _ZIP_ERRORS as exc:
        raise InputError(path, f"not a valid .npz (zip) archive ({exc})") from None


def _infos(path: Path, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    return {
        info.filename[:-4]: info
        for info in zf.infolist()
        if info.filename.endswith(".npy") and not info.is_dir()
    }


def keys(path: Path) -> list[str]:
    with _open_zip(path) as zf:
        return list(_infos(path, zf))


def _check_sizes(path: Path, info: zipfile.ZipInfo, key: str, cap: int | None) -> None:
    what = f"array {key!r} "
    if info.flag_bits & 0x1:
        raise InputError(path, f"{what}is encrypted")
    if info.compress_type != zipfile.ZIP_STORED:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > MAX_COMPRESSION_RATIO:
            raise InputError(
                path,
                f"{what}inflates {ratio:,.0f} times ({human_bytes(info.compress_size)} -> "
                f"{human_bytes(info.file_size)}), above the limit of {MAX_COMPRESSION_RATIO}: "
                "refused as a possible zip bomb",
            )
        check_declared(path, info.file_size, cap, what)


def member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> Member:
    """A member's header: sizes from the central directory, then its .npy header."""
    _check_sizes(path, info, key, decoded_cap(None))
    try:
        with zf.open(info) as stream:
            shape, dtype, fortran = parse_header(stream, f"{path}: array {key!r}")
            header_len = stream.tell()
    except InputError as exc:
        raise InputError(path, f"array {key!r}: {exc.problem}") from None
    except _ZIP_ERRORS as exc:
        raise InputError(path, f"array {key!r}: unreadable ({exc})") from None
    declared = declared_bytes(shape, dtype)
    if header_len + declared > info.file_size:
        raise InputError(
            path,
            f"array {key!r}: the header declares {shape} {dtype} ({declared:,} bytes of data) "
            f"but the member holds {max(info.file_size - header_len, 0):,}",
        )
    stored = info.compress_type == zipfile.ZIP_STORED
    offset = None
    if stored:
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            signature, name_len, extra_len = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise InputError(path, f"array {key!r}: bad local zip header")
        offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + header_len
        if offset + declared > os.path.getsize(path):
            raise InputError(path, f"array {key!r}: truncated archive")
    return Member(key, shape, dtype, fortran, stored, offset, info.file_size, info.compress_size)


def members(path: Path) -> list[Member]:
    """Every .npy member's header, without reading any data (for `inspect`)."""
    with _open_zip(path) as zf:
        return [member(path, zf, info, key) for key, info in _infos(path, zf).items()]


def load(path: Path, key: str, max_bytes: int | None) -> np.ndarray:
    """The member `key`: memory-mapped when stored, else inflated after the checks."""
    with _open_zip(path) as zf:
        info = _infos(path, zf)[key]
        _check_sizes(path, info, key, decoded_cap(max_bytes))
        m = member(path, zf, info, key)
        if m.dtype.kind not in "biuf":
            what = "strings" if m.dtype.kind in "SUa" else f"{m.dtype} values"
            raise InputError(path, f"array {key!r} holds {what}, not numbers")
        if m.stored:
            check_declared(path, m.nbytes, max_bytes, f"array {key!r} ")
            assert m.data_offset is not None
            return map_array(path, m.shape, m.dtype, m.data_offset, m.fortran)
        check_declared(path, m.nbytes, decoded_cap(max_bytes), f"array {key!r} ")
        try:
            with zf.open(info) as stream:
                parse_header(stream, path)
                data = stream.read(m.nbytes)
        except _ZIP_ERRORS as exc:
            raise InputError(path, f"array {key!r}: unreadable ({exc})") from None
    if len(data) != m.nbytes:
        raise InputError(path, f"array {key!r}: truncated ({len(data):,} of {m.nbytes:,} bytes)")
    flat = np.frombuffer(data, dtype=m.dtype)
    return flat.reshape(m.shape, order="F" if m.fortran else "C")
