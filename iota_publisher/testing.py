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
from pathlib import Path
from typing import Any

from .errors import InvalidSecretKeyError
from .protocol.marketplace import StreamPacket
from .trinary import Transaction, validate_bundle

__all__ = ["Failures", "FakeMarketplace", "FakeNode", "LoopbackServices", "StreamPacket"]


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
            h
            for h, t in self.transactions.items()
            if Transaction.from_trytes(t).address in addresses
        ]

    def get_trytes(self, hashes: list[str]) -> list[str]:
        return [self.transactions.get(h, "9" * 2673) for h in hashes]


class FakeMarketplace(Failures):
    """newData and the stream of one device."""

    def __init__(
        self,
        sensor_id: str = "sensor-1",
        secret_key: str = "SECRET",
        path: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.sensor_id = sensor_id
        self.secret_key = secret_key
        self.path = Path(path) if path else None
        self.registered: list[dict[str, Any]] = _load(self.path)

    def new_data(
        self, sensor_id: str, secret_key: str, *, root: str, sidekey: str, time: int
    ) -> None:
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


class LoopbackServices:
    """Serve a :class:`FakeNode` and a :class:`FakeMarketplace` over HTTP on 127.0.0.1.

    The node speaks the legacy IRI API at :attr:`node_url`, the marketplace
    ``newData`` at :attr:`endpoint` and ``stream`` beside it, so real
    clients (and the whole publisher) can be exercised over real sockets::

        with LoopbackServices() as services:
            NodeClient(services.node_url).get_node_info()

    Both servers run in background threads until the block ends.
    """

    def __init__(
        self, node: FakeNode | None = None, marketplace: FakeMarketplace | None = None
    ) -> None:
        self.node = node or FakeNode()
        self.marketplace = marketplace or FakeMarketplace()
        self._servers: list[Any] = []

    def __enter__(self) -> LoopbackServices:
        from .sandbox._http import JsonServer

        routes = (("node", _node_route(self.node)), ("market", _market_route(self.marketplace)))
        for name, route in routes:
            server = JsonServer("127.0.0.1", 0, _json_route(route), name=f"loopback-{name}")
            server.start()
            self._servers.append(server)
        self.node_url = f"http://127.0.0.1:{self._servers[0].port}"
        self.api_url = f"http://127.0.0.1:{self._servers[1].port}"
        self.endpoint = f"{self.api_url}/newData"
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()


def _json_route(route: Any) -> Any:
    """Adapt a ``route(method, path, headers, json_body, query)`` to the JSON server."""

    def handle(request: Any) -> tuple[int, Any]:
        try:
            body = request.json()
        except ValueError:
            return 400, {"error": "the body is not JSON"}
        return route(request.method, request.path, request.headers, body, request.query)

    return handle


def _failure(exc: Exception) -> tuple[int, dict[str, str]]:
    from .errors import TransientError

    return (503 if isinstance(exc, TransientError) else 400), {"error": str(exc)}


def _node_route(node: FakeNode) -> Any:
    from ._version import __version__

    def route(method: str, path: str, headers: Any, body: Any, query: Any) -> tuple[int, Any]:
        if method != "POST" or path not in ("", "/"):
            return 404, {"error": "not found"}
        if headers.get("X-IOTA-API-Version") is None:
            return 400, {"error": "Invalid API Version"}
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            return 400, {"error": "Invalid command format"}
        command = body["command"]
        try:
            if command == "getNodeInfo":
                return 200, {"appName": "iota-publisher loopback node", "appVersion": __version__}
            if command == "getTransactionsToApprove":
                trunk, branch = node.get_transactions_to_approve(body.get("depth", 3))
                return 200, {"trunkTransaction": trunk, "branchTransaction": branch}
            if command == "attachToTangle":
                trytes = node.attach_to_tangle(
                    body["trunkTransaction"],
                    body["branchTransaction"],
                    body["minWeightMagnitude"],
                    body["trytes"],
                )
                return 200, {"trytes": trytes}
            if command == "storeTransactions":
                node.store_and_broadcast(body["trytes"])
                return 200, {}
            if command == "broadcastTransactions":
                return 200, {}
            if command == "findTransactions":
                return 200, {"hashes": node.find_transactions(addresses=body.get("addresses", []))}
            if command == "getTrytes":
                return 200, {"trytes": node.get_trytes(body["hashes"])}
            if command == "checkConsistency":
                return 200, {"state": True}
        except (KeyError, TypeError) as exc:
            return 400, {"error": f"Invalid parameters: {exc}"}
        except Exception as exc:  # noqa: BLE001 - reported to the client, as IRI does
            return _failure(exc)
        return 400, {"error": f"Command [{command}] is unknown"}

    return route


def _market_route(market: FakeMarketplace) -> Any:
    page = 20

    def route(method: str, path: str, headers: Any, body: Any, query: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/newData":
            packet = body.get("packet") if isinstance(body, dict) else None
            if not isinstance(body, dict) or not body.get("id") or not body.get("sk") or not packet:
                return 400, {"error": "Ensure all fields are included"}
            try:
                market.new_data(
                    body["id"],
                    body["sk"],
                    root=packet["root"],
                    sidekey=packet["sidekey"],
                    time=packet["time"],
                )
            except InvalidSecretKeyError as exc:
                return 403, {"error": str(exc)}
            except Exception as exc:  # noqa: BLE001
                return _failure(exc)
            return 200, {"success": True}
        if method == "GET" and path == "/stream":
            cursor = int(query["time"]) if query.get("time") else None
            entries = [
                {"time": p.time, "root": p.root, "sidekey": p.sidekey}
                for p in market.iter_stream(query.get("deviceId", ""), query.get("userId", ""))
                if cursor is None or p.time < cursor
            ]
            return 200, entries[:page]
        return 404, {"error": "not found"}

    return route
