"""Time MAM v0 create_message / parse_message (medians), and the references.

    python benchmarks/bench_mam.py [--backend native|pure|both] [--repeat N] [--no-node]

With Node.js and tests/vectors/node_modules (``cd tests/vectors && npm ci``)
the same inputs are timed with @iota/mam.js 1.0.0-beta.10 (pure JS) and
@iota/mam 0.7.3 (WASM) in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

from iota_publisher import _backend
from iota_publisher._bench import describe, time_mam

ROOT = Path(__file__).resolve().parent.parent
LENGTH = 500


def bench_backend(name: str, module, repeat: int) -> dict[int, tuple[float, float]]:
    previous = _backend.set_native(module)
    results = {}
    try:
        for security in (1, 2, 3):
            create, parse = time_mam(security, repeat, LENGTH)
            results[security] = (create, parse)
            print(
                f"{name:6} security {security}: create_message {create * 1000:8.2f} ms   "
                f"parse_message {parse * 1000:8.2f} ms   "
                f"(median of {repeat}, {LENGTH}-tryte message)"
            )
    finally:
        _backend.set_native(previous)
    return results


def bench_node(security: int, repeat: int) -> dict | None:
    modules = ROOT / "tests" / "vectors" / "node_modules"
    if not shutil.which("node"):
        print("reference: Node.js is not installed; skipping the reference timings")
        return None
    if not (modules / "@iota" / "mam.js").exists():
        print("reference: run `cd tests/vectors && npm ci` to time the reference implementations")
        return None
    env = {**os.environ, "NODE_PATH": str(modules)}
    out = subprocess.run(
        [
            "node",
            str(ROOT / "benchmarks" / "reference_mam.js"),
            str(security),
            str(LENGTH),
            str(repeat),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("native", "pure", "both"), default="both")
    parser.add_argument(
        "--repeat", type=int, default=0, help="runs per figure (default: 30 native, 5 pure)"
    )
    parser.add_argument("--no-node", action="store_true", help="skip the reference implementations")
    args = parser.parse_args()
    print(describe())

    try:
        from iota_publisher import _native  # type: ignore[attr-defined]
    except ImportError:
        _native = None
    results = {}
    if args.backend in ("native", "both"):
        if _native is None:
            print("native: the kernel is not built; skipping")
        else:
            results["native"] = bench_backend("native", _native, args.repeat or 30)
    if args.backend in ("pure", "both"):
        results["pure"] = bench_backend("pure", None, args.repeat or 5)

    if not args.no_node:
        ref = bench_node(2, 5)
        if ref:
            print(
                "reference security 2: @iota/mam.js createMessage "
                f"{ref['mamjsCreate'] * 1000:.1f} ms, "
                f"parseMessage {ref['mamjsParse'] * 1000:.1f} ms; "
                f"@iota/mam 0.7.3 (WASM) create {ref['wasmCreate'] * 1000:.1f} ms (median of 5)"
            )
            fastest = min(ref["mamjsCreate"], ref["wasmCreate"])
            for name, res in results.items():
                print(
                    f"speed-up of {name} create_message (security 2) over the fastest reference: "
                    f"{fastest / res[2][0]:.1f}x"
                )


if __name__ == "__main__":
    main()
