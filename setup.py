"""The compiled kernel (logitcheck/_kernel.c) is optional: where it cannot be built, the
package installs without it and logitcheck computes the same statistics in numpy.

It compiles with any C11 compiler: x86-64 SIMD code with GCC/Clang, the portable C
(logitcheck/_kernel_portable.h) everywhere. Floating-point contraction stays off: a fused
a*b+c would change the bits the tests compare."""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

_FLAGS = {
    "msvc": ["/O2", "/fp:precise"],  # MSVC: no contraction under /fp:precise
    "unix": ["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"],
}


class _BuildExt(build_ext):
    def build_extensions(self) -> None:
        flags = _FLAGS.get(self.compiler.compiler_type, _FLAGS["unix"])
        for ext in self.extensions:
            ext.extra_compile_args = flags
        super().build_extensions()


setup(
    ext_modules=[
        Extension(
            "logitcheck._kernel",
            ["logitcheck/_kernel.c"],
            depends=["logitcheck/_kernel_portable.h"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": _BuildExt},
)
