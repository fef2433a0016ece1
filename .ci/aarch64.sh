#!/usr/bin/env bash
# The compiled kernel on aarch64 (issue 23): cross-compiled with Debian's
# gcc-aarch64-linux-gnu, then run under qemu-user-static with Debian's arm64 python3.11 and
# numpy (their .debs extracted into a sysroot) and pytest & co from PyPI:
#   1. tests/test_kernel.py: the kernel's results against the numpy path, on ARM;
#   2. .ci/aarch64_bits.py: every output of the kernel on ARM (the portable C) is the
#      same bits as on this x86-64 machine (AVX2/AVX-512 code);
#   3. the same for the kernel built as plain C11 (-DLC_PLAIN: no GCC vectors, no x86
#      code, as MSVC compiles it), here on x86-64.
# Needs root (apt) and the x86-64 venv with the kernel built in place (.ci/run's). Takes
# about 3 minutes; AARCH64_WORK (default build/aarch64) keeps the downloads between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${AARCH64_WORK:-$ROOT/build/aarch64}
SYSROOT=$WORK/sysroot
PY=${PYTHON:-python3}
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$WORK/debs"

echo "aarch64: tools and arm64 packages"
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
    qemu-user-static >/dev/null
ARM_PACKAGES="libc6 libgcc-s1 libstdc++6 zlib1g libexpat1 libffi8 libssl3 libbz2-1.0 liblzma5
  libuuid1 libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libcrypt1 python3.11-minimal
  libpython3.11-minimal libpython3.11-stdlib libpython3.11 python3.11 libpython3.11-dev
  python3-numpy libblas3 liblapack3 libgfortran5"
if [ ! -x "$SYSROOT/usr/bin/python3.11" ]; then
    (cd "$WORK/debs" && apt-get download -qq $(for p in $ARM_PACKAGES; do echo "$p:arm64"; done))
    for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
    # the alternatives Debian's postinst would have made
    ln -sf blas/libblas.so.3 "$SYSROOT/usr/lib/aarch64-linux-gnu/libblas.so.3"
    ln -sf lapack/liblapack.so.3 "$SYSROOT/usr/lib/aarch64-linux-gnu/liblapack.so.3"
fi
# pytest and what the tests import, as aarch64 wheels (hypothesis has a native part)
"$PY" -m pip install -q --target "$WORK/pure" --upgrade --no-deps --only-binary=:all: \
    --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 --python-version 3.11 \
    --implementation cp --abi cp311 \
    pytest pluggy iniconfig packaging pygments hypothesis sortedcontainers attrs mpmath

echo "aarch64: cross-compiling the kernel"
rm -rf "$WORK/src" && mkdir -p "$WORK/src"
cp -r logitcheck tests .ci pyproject.toml "$WORK/src/"
find "$WORK/src" \( -name '*.so' -o -name '*.pyd' \) -delete
find "$WORK/src" -name __pycache__ -type d -prune -exec rm -rf {} +
# the flags of setup.py ("unix"); the cross compiler's libc, the sysroot's Python headers
aarch64-linux-gnu-gcc -O3 -std=gnu11 -fno-math-errno -fno-trapping-math -ffp-contract=off \
    -Wall -Werror -fPIC -shared -I"$SYSROOT/usr/include/python3.11" -idirafter "$SYSROOT/usr/include" \
    logitcheck/_kernel.c -o "$WORK/src/logitcheck/_kernel.cpython-311-aarch64-linux-gnu.so"

arm() {
    (cd "$WORK/src" && env -u LOGITCHECK_KERNEL -u LOGITCHECK_SIMD PYTHONPATH="$WORK/pure" \
        qemu-aarch64-static -L "$SYSROOT" "$SYSROOT/usr/bin/python3.11" "$@")
}
arm -c 'import platform, numpy; from logitcheck.compute import kernel
print("aarch64:", platform.machine(), "python", platform.python_version(), "numpy",
      numpy.__version__, "kernel", kernel.KERNEL, kernel.SIMD)
assert platform.machine() == "aarch64" and kernel.SIMD == "portable", kernel.SIMD'

echo "aarch64: tests/test_kernel.py under qemu"
arm -m pytest tests/test_kernel.py -q -p no:cacheprovider

echo "aarch64: the same bits as x86-64"
env -u LOGITCHECK_KERNEL -u LOGITCHECK_SIMD "$PY" .ci/aarch64_bits.py dump "$WORK/x86_64.npz"
arm .ci/aarch64_bits.py dump "$WORK/aarch64.npz"
"$PY" .ci/aarch64_bits.py compare "$WORK/x86_64.npz" "$WORK/aarch64.npz"

echo "plain C11 build (as MSVC compiles it): the same bits"
rm -rf "$WORK/plain" && mkdir -p "$WORK/plain"
cp -r logitcheck tests .ci "$WORK/plain/"
find "$WORK/plain" \( -name '*.so' -o -name '*.pyd' \) -delete
"$PY" - "$WORK/plain" <<'PYEOF'
import subprocess, sys, sysconfig
out = f"{sys.argv[1]}/logitcheck/_kernel{sysconfig.get_config_var('EXT_SUFFIX')}"
subprocess.run(["cc", "-DLC_PLAIN", "-std=c11", "-O3", "-fno-math-errno", "-fno-trapping-math",
                "-ffp-contract=off", "-Wall", "-Werror", "-fPIC", "-shared",
                "-I" + sysconfig.get_paths()["include"], "logitcheck/_kernel.c", "-o", out],
               check=True)
PYEOF
# built for any x86-64 CPU, its fma() is a call into libm, so logitcheck would compute in
# numpy (kernel.py's _compiled): LOGITCHECK_KERNEL=compiled makes it use the build
(cd "$WORK/plain" && env -u LOGITCHECK_SIMD LOGITCHECK_KERNEL=compiled "$PY" .ci/aarch64_bits.py dump "$WORK/plain.npz")
"$PY" .ci/aarch64_bits.py compare "$WORK/x86_64.npz" "$WORK/plain.npz"
echo "aarch64: passed"
