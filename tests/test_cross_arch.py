"""The kernel cross-compiled for 64- and 32-bit ARM, checked under qemu-user.

native/selftest.c (the kernel without Python) checks reference hashes on every
code path a CPU offers. Here it is built for aarch64 (NEON baseline), armhf
armv7-a (portable baseline, NEON picked at run time from HWCAP_NEON) and
armv6 (the Raspberry Pi OS / Pi Zero baseline), and run under qemu with a
Cortex-A7 with and without NEON. The NEON and the portable paths
must both give the reference hashes of tests/vectors and the nonce the pure
Python search finds. Needs Debian's gcc-aarch64-linux-gnu,
gcc-arm-linux-gnueabihf and qemu-user; skipped without them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from iota_publisher import _backend
from iota_publisher.pow import search_nonce
from iota_publisher.trinary import Transaction, trits_to_int, trits_to_trytes, trytes_to_trits
from iota_publisher.trinary._kerl import kerl_chunk_bytes

ROOT = Path(__file__).resolve().parent.parent
SELFTEST = ROOT / "native" / "selftest.c"
VECTORS = Path(__file__).resolve().parent / "vectors"
POW_MWM = 9
ARMV6 = ["-march=armv6+fp", "-mfpu=vfp", "-mfloat-abi=hard", "-marm"]

# name: (compiler, flags, qemu, qemu cpu, paths that must run, paths that must be absent)
TARGETS = {
    "aarch64": ("aarch64-linux-gnu-gcc", [], "qemu-aarch64", "cortex-a53", ["neon"], []),
    "armv7-neon": (
        "arm-linux-gnueabihf-gcc",
        ["-march=armv7-a+fp", "-mfpu=vfpv3-d16", "-mfloat-abi=hard"],
        "qemu-arm",
        "cortex-a7",
        ["neon", "portable"],
        [],
    ),
    # Raspberry Pi OS's baseline (armv6, ARM mode) on a Pi 2/3/4 class CPU ...
    "armv6-on-cortex-a7": (
        "arm-linux-gnueabihf-gcc",
        ARMV6,
        "qemu-arm",
        "cortex-a7",
        ["neon", "portable"],
        [],
    ),
    # ... and on a CPU without NEON (Pi Zero / Pi 1). Not "-cpu arm1176": the
    # binary links Debian's armhf C library, whose startup code is Thumb-2
    # (armv7), so an ARM1176 stops at _start; a Cortex-A7 with NEON switched
    # off lacks HWCAP_NEON just the same.
    "armv6-no-neon": (
        "arm-linux-gnueabihf-gcc",
        ARMV6,
        "qemu-arm",
        "cortex-a7,neon=off",
        ["portable"],
        ["neon"],
    ),
}


def write_vectors(path: Path) -> None:
    """curl / pow lines for selftest.c from the JSON reference vectors."""
    lines = []
    for case in json.loads((VECTORS / "curl.json").read_text())["cases"]:
        lines.append(
            f"curl {case['rounds']} {case['input'] or '-'} {case['length']} {case['hash']}"
        )
    txs = json.loads((VECTORS / "transactions.json").read_text())
    for case in txs["hashes"][:6]:
        lines.append(f"curl 81 {case['trytes']} 243 {case['hash']}")
    for case in txs["bundles"]:  # the reference's finalised bundles, tag steps undone
        bundle = [Transaction.from_trytes(t) for t in reversed(case["trytes"])]
        if len(bundle) > 10:
            continue
        steps = trits_to_int(trytes_to_trits(bundle[0].obsolete_tag)) - trits_to_int(
            trytes_to_trits(bundle[0].tag)
        )
        bundle[0] = bundle[0].replace(obsolete_tag=bundle[0].tag)
        chunks = [kerl_chunk_bytes(tx.essence[i : i + 243]) for tx in bundle for i in (0, 243)]
        lines.append(f"bundle 48 {b''.join(chunks).hex()} {steps} {bundle[0].bundle}")
    trytes = txs["bundles"][1]["trytes"][0]
    previous = _backend.set_native(None)  # the expected nonce from the pure-Python search
    try:
        nonce = search_nonce(trytes_to_trits(trytes), POW_MWM)[0]
    finally:
        _backend.set_native(previous)
    lines.append(f"pow {POW_MWM} {trytes} {trits_to_trytes(nonce)}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("selftest") / "vectors.txt"
    write_vectors(path)
    return path


def _build(compiler: str, flags: list[str], out: Path) -> None:
    cmd = [compiler, "-O2", "-std=c99", "-Wall", "-Werror", "-pthread", "-static"]
    subprocess.run([*cmd, *flags, str(SELFTEST), "-o", str(out)], check=True, timeout=300)


def test_host_selftest(tmp_path, vectors):
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler on this machine")
    exe = tmp_path / "selftest"
    subprocess.run(
        [
            compiler,
            "-O2",
            "-std=c99",
            "-Wall",
            "-Werror",
            "-pthread",
            str(SELFTEST),
            "-o",
            str(exe),
        ],
        check=True,
        timeout=300,
    )
    result = subprocess.run(
        [str(exe), str(vectors)], check=False, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout and ": ok" in result.stdout


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_cross_compiled_selftest(target, tmp_path, vectors):
    compiler, flags, qemu, cpu, must_run, absent = TARGETS[target]
    missing = [tool for tool in (compiler, qemu) if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed (Debian: gcc-aarch64-linux-gnu, "
            "gcc-arm-linux-gnueabihf, qemu-user)"
        )
    exe = tmp_path / f"selftest-{target}"
    _build(compiler, flags, exe)
    env = {k: v for k, v in os.environ.items() if k != "IOTA_PUBLISHER_KERNEL"}
    result = subprocess.run(
        [qemu, "-cpu", cpu, str(exe), str(vectors)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for name in must_run:
        assert f"path {name}: ok" in out, out
    if "neon" in must_run:  # the single-lane Curl on NEON too
        assert re.search(r"path neon: ok .*single-lane Curl vector", out), out
    for name in absent:
        assert f"path {name}: ok" not in out, out
    assert "FAILED" not in out


def test_armhf_neon_object_code(tmp_path):
    """The armhf NEON kernels are NEON instructions; the portable ones are not."""
    compiler, objdump = "arm-linux-gnueabihf-gcc", "arm-linux-gnueabihf-objdump"
    missing = [tool for tool in (compiler, objdump) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian: gcc-arm-linux-gnueabihf)")
    obj = tmp_path / "selftest.o"
    subprocess.run(
        [compiler, "-O2", "-std=c99", "-pthread", *ARMV6, "-c", str(SELFTEST), "-o", str(obj)],
        check=True,
        timeout=300,
    )
    dump = subprocess.run(
        [objdump, "-d", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    counts: dict[str, int] = {}
    current = ""
    for line in dump.splitlines():
        if line.endswith(">:"):
            current = line.split("<", 1)[1].rstrip(">:")
        elif "\tv" in line and any(op in line for op in ("\tveor", "\tvand", "\tvbic", "\tvorr")):
            counts[current] = counts.get(current, 0) + 1
    assert counts.get("pow_batch_neon", 0) > 50, counts
    assert counts.get("chains_iterate256_neon", 0) > 50, counts
    assert counts.get("pow_batch_baseline", 0) == 0, counts
    assert counts.get("chains_iterate256_baseline", 0) == 0, counts
