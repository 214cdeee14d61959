"""The kernel's portable C path (no vector extensions, no run-time dispatch).

Raspberry Pi builds and compilers without GCC vector extensions take code
paths that the installed x86-64 build does not; this compiles the source
with those paths forced and checks the results against pure Python.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "native" / "curlkernel.c"
COMPILER = shutil.which("gcc") or shutil.which("cc")

CHECK = textwrap.dedent(
    """
    import importlib.util, random, sys
    from iota_publisher import _backend
    from iota_publisher.mam import Channel, parse_message
    from iota_publisher.pow import search_nonce
    from iota_publisher.trinary import Curl, hash_chains

    spec = importlib.util.spec_from_file_location("iota_publisher._native", sys.argv[1])
    kernel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernel)

    rng = random.Random(5)
    trits = [rng.choice((-1, 0, 1)) for _ in range(8019)]
    counts = [rng.randrange(28) for _ in range(30)]
    segments = trits[: 30 * 243]

    def run():
        c = Curl(81)
        c.absorb(trits)
        ch = Channel("ABC" * 27, 2, "restricted", "KEY")
        msg = ch.create_message("HELLO" * 40)
        parsed = parse_message(msg.payload, msg.root, "KEY").message
        nonce = search_nonce(trits, 6)[0]
        return c.squeeze(486), hash_chains(segments, counts, 27), msg, parsed, nonce

    _backend.set_native(kernel)
    native = run()
    _backend.set_native(None)
    pure = run()
    assert native == pure, "portable kernel differs from pure Python"
    print("ok", kernel.BACKEND_INFO)
    """
)


@pytest.mark.skipif(
    COMPILER is None or not SOURCE.exists(), reason="needs a C compiler and the source tree"
)
def test_portable_kernel_matches_pure_python(tmp_path):
    target = tmp_path / ("_native" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(
        [
            COMPILER,
            "-O2",
            "-std=c99",
            "-shared",
            "-fPIC",
            "-pthread",
            "-DCURLKERNEL_NO_VECTOR_EXT",
            "-DCURLKERNEL_NO_DISPATCH",
            f"-I{sysconfig.get_paths()['include']}",
            str(SOURCE),
            "-o",
            str(target),
        ],
        check=True,
    )
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(target)],
        capture_output=True,
        check=False,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


LIMITED_CHECK = textwrap.dedent(
    """
    import importlib.util, random, sys
    from iota_publisher import _backend

    def load(path):
        spec = importlib.util.spec_from_file_location("iota_publisher._native", path)
        kernel = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(kernel)
        return kernel

    limited, regular = load(sys.argv[1]), _backend.native()
    rng = random.Random(3)
    trits = bytes(rng.choice((0, 1, 255)) for _ in range(3 * 300))
    assert limited.trits_to_trytes(trits) == regular.trits_to_trytes(trits)
    text = regular.trits_to_trytes(trits)
    assert limited.trytes_to_trits(text) == regular.trytes_to_trits(text)
    for bad in ("AB\\u00e9C", "A\\u0100B", "9\\ud800", "ABC-", "\\u00e9\\u00e9Z*"):
        errors = []
        for kernel in (limited, regular):
            try:
                kernel.trytes_to_trits(bad)
            except ValueError as exc:
                errors.append(str(exc))
        assert len(errors) == 2 and errors[0] == errors[1], (bad, errors)
    assert limited.kernel_paths() == regular.kernel_paths()
    exec(sys.argv[2])  # CHECK: the limited kernel against pure Python
    """
)


@pytest.mark.skipif(
    COMPILER is None or not SOURCE.exists() or sys.version_info < (3, 11),
    reason="needs a C compiler, the source tree and Python >= 3.11 (the abi3 build's floor)",
)
def test_stable_abi_kernel_matches(tmp_path):
    """The kernel built on the limited API (abi3 wheels) gives the same results."""
    from iota_publisher import _backend

    if _backend.native() is None:
        pytest.skip("compares with the installed native kernel")
    target = tmp_path / "_native.abi3.so"
    subprocess.run(
        [
            COMPILER,
            "-O2",
            "-std=c99",
            "-shared",
            "-fPIC",
            "-pthread",
            "-DPy_LIMITED_API=0x030B0000",
            f"-I{sysconfig.get_paths()['include']}",
            str(SOURCE),
            "-o",
            str(target),
        ],
        check=True,
    )
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_CHECK, str(target), CHECK],
        capture_output=True,
        check=False,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_bench_names_the_path_and_mwm_cost(backend):
    from iota_publisher._bench import PATH_WORDS, kernel_path, path_summary

    path = kernel_path()
    assert path in PATH_WORDS
    text = path_summary((3, 9))
    assert text.startswith(f"proof-of-work path: {PATH_WORDS[path]}")
    assert re.search(r"takes about [\d.]+ m?s at mwm 3, [\d.]+ m?s at mwm 9", text), text


def test_kernel_path_can_be_forced_to_the_baseline(monkeypatch):
    from iota_publisher import _backend

    native = _backend.native()
    if native is None or not hasattr(native, "kernel_paths"):
        pytest.skip("needs the native kernel")
    paths = native.kernel_paths()
    assert native.kernel_path() == paths[0]
    monkeypatch.setenv("IOTA_PUBLISHER_KERNEL", paths[-1])
    assert native.kernel_path() == paths[-1]
    monkeypatch.setenv("IOTA_PUBLISHER_KERNEL", "no-such-path")
    assert native.kernel_path() == paths[0]
