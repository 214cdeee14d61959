"""Build the optional native kernel; everything else is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds
and iota-publisher runs on its pure-Python fallback. Set
IOTA_PUBLISHER_MARCH_NATIVE=1 to tune the kernel for the building machine
(only for installs that stay on that machine, such as a Raspberry Pi).
IOTA_PUBLISHER_REQUIRE_NATIVE=1 makes a failed kernel build an error (wheels).
On CPython 3.11 and later the extension is built on the stable ABI (abi3).
"""

import os
import sys

from setuptools import Extension, setup

compile_args = ["-O3", "-std=c99", "-fno-strict-aliasing"]
# Wheel builds (cibuildwheel) set this: a wheel without the kernel is an error.
require_native = os.environ.get("IOTA_PUBLISHER_REQUIRE_NATIVE", "") not in ("", "0")
if os.environ.get("IOTA_PUBLISHER_MARCH_NATIVE", "") not in ("", "0"):
    compile_args.append("-march=native")
# On CPython >= 3.11 the kernel uses only the stable ABI (the buffer protocol
# joined it in 3.11): one cp311-abi3 wheel serves 3.11 and later.
limited_api = sys.version_info >= (3, 11) and sys.implementation.name == "cpython"

setup(
    ext_modules=[
        Extension(
            "iota_publisher._native",
            sources=["native/curlkernel.c"],
            extra_compile_args=compile_args,
            extra_link_args=["-pthread"],
            optional=not require_native,
            py_limited_api=limited_api,
            define_macros=[("Py_LIMITED_API", "0x030B0000")] if limited_api else [],
        )
    ],
    options={"bdist_wheel": {"py_limited_api": "cp311"}} if limited_api else {},
)
