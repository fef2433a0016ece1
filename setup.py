"""The compiled kernel (logitcheck/_kernel.c) is optional: where it cannot be built, the
package installs without it and logitcheck computes the same statistics in numpy."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "logitcheck._kernel",
            ["logitcheck/_kernel.c"],
            extra_compile_args=["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math"],
            optional=True,
        )
    ]
)
