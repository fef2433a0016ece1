"""The kernel's outputs on the blocks of tests/test_kernel.py's code-path test, as saved
by one machine and compared with another's: .ci/aarch64.sh dumps them on x86-64 and under
qemu-aarch64 (the portable C there) and checks that they are the same bits.

    python .ci/aarch64_bits.py dump OUT.npz
    python .ci/aarch64_bits.py compare A.npz B.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def dump(out: str) -> None:
    from logitcheck.compute import kernel
    from tests.test_kernel import _WIDTH_SCRIPT, _code_path_blocks

    if kernel._COMPILED is None:
        sys.exit("aarch64_bits: the compiled kernel is not built")
    ns: dict = {}
    exec(compile(_WIDTH_SCRIPT, "width", "exec"), ns)
    got = ns["outputs"](_code_path_blocks())
    np.savez(out, **got)
    print(f"aarch64_bits: {len(got)} arrays from the {kernel.SIMD} kernel ({sys.platform}, "
          f"numpy {np.__version__}) -> {out}")


def compare(a: str, b: str) -> None:
    x, y = dict(np.load(a)), dict(np.load(b))
    if sorted(x) != sorted(y):
        sys.exit(f"aarch64_bits: different arrays: {sorted(set(x) ^ set(y))[:5]}")
    bad = []
    for key, u in x.items():
        v = y[key]
        if u.dtype.kind == "f":  # the same bits, NaN payloads aside
            same = u.shape == v.shape and bool(np.all(
                (u.view(np.uint64) == v.view(np.uint64)) | (np.isnan(u) & np.isnan(v))))
        else:
            same = np.array_equal(u, v)
        if not same:
            bad.append(key)
    if bad:
        sys.exit(f"aarch64_bits: {len(bad)} of {len(x)} arrays differ: {bad[:10]}")
    print(f"aarch64_bits: all {len(x)} arrays the same bits")


if __name__ == "__main__":
    if sys.argv[1:2] == ["dump"] and len(sys.argv) == 3:
        dump(sys.argv[2])
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
