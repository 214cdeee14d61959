"""The real ``iota-publish run`` process against a sandbox behind fault proxies.

::

    with Rig(tmp_path) as rig:
        proc = rig.start("--count", "3")
        rig.node_proxy.fault("drop")
        ...
        code, seconds = rig.stop(proc)
        packets = rig.registered()      # from the sandbox itself, oldest first

The sensor is a ``command`` printing a counter that goes up by one per read
(the file :attr:`Rig.counter`), so a reading read twice, lost or
duplicated shows in the values.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from iota_publisher.fetch import fetch_stream
from iota_publisher.marketplace import MarketplaceClient
from iota_publisher.node import NodeClient
from iota_publisher.sandbox import Sandbox

from .faultproxy import FaultProxy

__all__ = ["COUNTER", "Rig"]

MWM = 3

COUNTER = (
    "import os, sys\n"
    "p = sys.argv[1]\n"
    "n = int(open(p).read() or 0) + 1 if os.path.exists(p) else 1\n"
    "open(p + '.tmp', 'w').write(str(n))\n"
    "os.replace(p + '.tmp', p)\n"
    "print('{\"n\": %d}' % n)\n"
)


class Rig:
    """A sandbox, a fault proxy before its node and one before its marketplace, a config."""

    def __init__(self, tmp_path: Path, *, interval: float = 1.0, timeout: float = 2.0) -> None:
        self.tmp = tmp_path
        self.sandbox = Sandbox(tmp_path / "sandbox", mwm=MWM)
        self.counter = tmp_path / "counter"
        self.interval = interval
        self.timeout = timeout
        self.procs: list[subprocess.Popen[bytes]] = []
        self._bought = False

    def __enter__(self) -> Rig:
        self.sandbox.start()
        self.node_proxy = FaultProxy(self.sandbox.node_url)
        self.market_proxy = FaultProxy(self.sandbox.api_url)
        self.config_path = self.write_config()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.node_proxy.close()
        self.market_proxy.close()
        self.sandbox.close()

    def config(self, **changes: Any) -> dict[str, Any]:
        cfg = self.sandbox.config(interval=self.interval)
        cfg.pop("dataTypes", None)
        cfg.update(
            provider=self.node_proxy.url,
            endpoint=f"{self.market_proxy.url}/newData",
            timeout=self.timeout,
            security=1,
            sensors=[
                {
                    "name": "c",
                    "driver": "command",
                    "options": {"command": [sys.executable, "-c", COUNTER, str(self.counter)]},
                }
            ],
            fields=[{"id": "n", "sensor": "c", "reading": "n"}],
        )
        cfg.update(changes)
        return cfg

    def write_config(self, name: str = "config.json", **changes: Any) -> Path:
        path = self.tmp / name
        path.write_text(json.dumps(self.config(**changes)))
        return path

    # -- the daemon --------------------------------------------------------------------

    def start(self, *args: str, config: Path | None = None) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        out = open(self.tmp / f"run{n}.out", "wb")  # noqa: SIM115 - closed with the process
        err = open(self.tmp / f"run{n}.err", "wb")  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "iota_publisher",
                "run",
                "--config",
                str(config or self.config_path),
                *args,
            ],
            stdout=out,
            stderr=err,
            env=env,
        )
        proc.err_path = self.tmp / f"run{n}.err"  # type: ignore[attr-defined]
        out.close()
        err.close()
        self.procs.append(proc)
        return proc

    def stderr(self, proc: subprocess.Popen[bytes]) -> str:
        return proc.err_path.read_text(errors="replace")  # type: ignore[attr-defined]

    def wait(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
        return proc.wait(timeout=timeout)

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Signal ``proc``; its exit status and how long it took to be gone."""
        started = time.monotonic()
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("the daemon did not stop within 10 s") from None
        return code, time.monotonic() - started

    def reads(self) -> int:
        """How many times the sensor was read."""
        return int(self.counter.read_text() or 0) if self.counter.exists() else 0

    def wait_for(self, condition: Any, timeout: float = 30, what: str = "a condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    # -- what the sandbox holds ----------------------------------------------------------

    def registered(self) -> list[Any]:
        """The device's packets as a buyer reads them (roots kept once), oldest first."""
        sb = self.sandbox
        device_id, _ = sb.create_demo_device()
        with MarketplaceClient(sb.api_url) as market, NodeClient(sb.node_url) as node:
            if not self._bought:
                market.wallet(sb.user_id, api_key=sb.api_key)
                market.purchase_stream(sb.user_id, device_id, api_key=sb.api_key)
                self._bought = True
            packets = list(fetch_stream(market, node, device_id, sb.user_id, api_key=sb.api_key))
        return sorted(packets, key=lambda p: (p.time, p.data.get("n", 0)))

    def check_stream(self, packets: list[Any], *, allow_gaps: int = 0) -> list[int]:
        """Values in order, none twice, the next-root chain unbroken; returns the values."""
        values = [p.data["n"] for p in packets]
        assert values == sorted(values), f"values out of order: {values}"
        assert len(set(values)) == len(values), f"a value was registered twice: {values}"
        assert len({p.root for p in packets}) == len(packets)
        for earlier, later in itertools.pairwise(packets):
            assert earlier.next_root == later.root, "the next-root chain is broken"
        if values:
            missing = set(range(1, values[-1] + 1)) - set(values)
            assert len(missing) <= allow_gaps, f"readings lost: {sorted(missing)}"
        return values
