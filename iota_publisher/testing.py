"""Stand-ins for an IRI node and the Data Marketplace, for tests and examples.

:class:`FakeNode` and :class:`FakeMarketplace` implement the client methods
the publisher and the fetch functions call (pass them as ``node=`` and
``marketplace=``), check what they are sent as the real services do (bundle
consistency, proof of work, the device's secret key), keep it in memory (and,
given a path, in an append-only file that survives the process), and can be
told to fail the next calls. Nothing here touches the network.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidSecretKeyError
from .trinary import Transaction, validate_bundle

__all__ = ["FakeMarketplace", "FakeNode", "Failures", "StreamPacket"]


@dataclass(frozen=True)
class StreamPacket:
    time: int
    root: str
    sidekey: str


class Failures:
    """Exceptions to raise on the next calls of a method: ``fail("store_and_broadcast", exc)``."""

    def __init__(self) -> None:
        self.pending: dict[str, list[BaseException]] = {}

    def fail(self, method: str, *errors: BaseException) -> None:
        self.pending.setdefault(method, []).extend(errors)

    def check(self, method: str) -> None:
        queue = self.pending.get(method)
        if queue:
            raise queue.pop(0)


def _append(path: Path | None, record: dict[str, Any]) -> None:
    if path is None:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _load(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut short by a kill
    return records


class FakeNode(Failures):
    """An IRI node's storage and the calls the publisher makes."""

    def __init__(self, mwm: int = 3, path: str | Path | None = None) -> None:
        super().__init__()
        self.mwm = mwm
        self.path = Path(path) if path else None
        self.transactions: dict[str, str] = {}
        self.store_calls = 0
        for record in _load(self.path):
            self._keep(record["trytes"])

    def _keep(self, trytes: list[str]) -> None:
        for t in trytes:
            self.transactions[Transaction.from_trytes(t).hash] = t

    def get_transactions_to_approve(self, depth: int = 3) -> tuple[str, str]:
        self.check("get_transactions_to_approve")
        tips = sorted(self.transactions) or ["9" * 81]
        return tips[-1], tips[0]

    def attach_to_tangle(self, trunk: str, branch: str, mwm: int, trytes: list[str]) -> list[str]:
        from .pow import attach_to_tangle

        self.check("attach_to_tangle")
        return attach_to_tangle(trunk, branch, mwm, trytes)

    def store_and_broadcast(self, trytes: list[str]) -> None:
        self.check("store_and_broadcast")
        validate_bundle(trytes, mwm=self.mwm)
        self.store_calls += 1
        self._keep(trytes)
        _append(self.path, {"trytes": list(trytes)})

    def find_transactions(self, *, addresses: list[str]) -> list[str]:
        return [
            h for h, t in self.transactions.items() if Transaction.from_trytes(t).address in addresses
        ]

    def get_trytes(self, hashes: list[str]) -> list[str]:
        return [self.transactions.get(h, "9" * 2673) for h in hashes]


class FakeMarketplace(Failures):
    """newData and the stream of one device."""

    def __init__(
        self, sensor_id: str = "sensor-1", secret_key: str = "SECRET", path: str | Path | None = None
    ) -> None:
        super().__init__()
        self.sensor_id = sensor_id
        self.secret_key = secret_key
        self.path = Path(path) if path else None
        self.registered: list[dict[str, Any]] = _load(self.path)

    def new_data(self, sensor_id: str, secret_key: str, *, root: str, sidekey: str, time: int) -> None:
        self.check("new_data")
        if sensor_id != self.sensor_id or secret_key != self.secret_key:
            raise InvalidSecretKeyError(
                "device unknown or secret key wrong", status=403, endpoint="newData"
            )
        record = {"id": sensor_id, "packet": {"root": root, "sidekey": sidekey, "time": time}}
        self.registered.append(record)
        _append(self.path, record)

    def iter_stream(self, device_id: str, user_id: str) -> Iterator[StreamPacket]:
        for record in reversed(self.registered):
            p = record["packet"]
            yield StreamPacket(time=p["time"], root=p["root"], sidekey=p["sidekey"])
