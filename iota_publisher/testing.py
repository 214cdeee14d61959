"""Stand-ins for an IRI node and the Data Marketplace, for tests and examples.

:class:`FakeNode` and :class:`FakeMarketplace` implement the client methods
the publisher and the fetch functions call (pass them as ``node=`` and
``marketplace=``), check what they are sent as the real services do (bundle
consistency, proof of work, the device's secret key), keep it in memory (and,
given a path, in an append-only file that survives the process), and can be
told to fail the next calls. Nothing in them touches the network.

:class:`LoopbackServices` is the HTTP counterpart: the sandbox's node and
marketplace (:mod:`iota_publisher.sandbox`) on 127.0.0.1, in a temporary
directory, set up as a :class:`FakeNode` and a :class:`FakeMarketplace` describe.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import InvalidSecretKeyError
from .protocol import iri
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
        tips = sorted(self.transactions) or [iri.NULL_HASH]
        return tips[-1], tips[0]

    def attach_to_tangle(self, trunk: str, branch: str, mwm: int, trytes: list[str]) -> list[str]:
        from .pow import attach_to_tangle

        self.check("attach_to_tangle")
        return attach_to_tangle(trunk, branch, mwm, trytes)

    def store_and_broadcast(self, trytes: list[str]) -> None:
        self.check("store_and_broadcast")
        validate_bundle(trytes, mwm=self.mwm)
        self.record(trytes)

    def record(self, trytes: list[str], hashes: list[str] | None = None) -> None:
        """Keep transactions another node checked and stored (see :class:`LoopbackServices`),
        with their ``hashes`` if it computed them already."""
        self.store_calls += 1
        if hashes is None:
            self._keep(trytes)
        else:
            self.transactions.update(zip(hashes, trytes, strict=True))
        _append(self.path, {"trytes": list(trytes)})

    def find_transactions(self, *, addresses: list[str]) -> list[str]:
        return [
            h
            for h, t in self.transactions.items()
            if Transaction.from_trytes(t).address in addresses
        ]

    def get_trytes(self, hashes: list[str]) -> list[str]:
        return [self.transactions.get(h, iri.NULL_TRYTES) for h in hashes]


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
        self.record(sensor_id, root=root, sidekey=sidekey, time=time)

    def record(self, sensor_id: str, *, root: str, sidekey: str, time: int) -> None:
        """Keep a packet another marketplace accepted (see :class:`LoopbackServices`)."""
        record = {"id": sensor_id, "packet": {"root": root, "sidekey": sidekey, "time": time}}
        self.registered.append(record)
        _append(self.path, record)

    def iter_stream(
        self, device_id: str, user_id: str, *, api_key: str | None = None
    ) -> Iterator[StreamPacket]:
        for record in reversed(self.registered):
            p = record["packet"]
            yield StreamPacket(time=p["time"], root=p["root"], sidekey=p["sidekey"])


class LoopbackServices:
    """The sandbox's node and marketplace over HTTP on 127.0.0.1, for real clients.

    The node (:class:`~iota_publisher.sandbox.SandboxNode`) speaks the legacy
    IRI API at :attr:`node_url` and requires ``node.mwm``; the marketplace
    (:class:`~iota_publisher.sandbox.SandboxMarket`) serves ``newData`` at
    :attr:`endpoint` for the device ``marketplace.sensor_id`` with secret key
    ``marketplace.secret_key``, and the rest of its API at :attr:`api_url`.
    Their state lives in a temporary directory removed when the block ends::

        with LoopbackServices() as services:
            NodeClient(services.node_url).get_node_info()

    The two fakes stay in step: what the node stores is kept by ``node``
    (``node.transactions``, ``node.store_calls``), what the marketplace
    accepts by ``marketplace`` (``marketplace.registered``), and failures
    queued on them (``node.fail("store_and_broadcast", exc)``,
    ``marketplace.fail("new_data", exc)``) are answered over HTTP: 503 for a
    :class:`~iota_publisher.errors.TransientError`, else 400. The device's
    stream is bought by the demo user (:attr:`user_id`, :attr:`api_key`);
    as with :class:`FakeMarketplace`, a ``stream`` request without an
    ``apiKey`` is answered as that buyer's, whatever its ``userId``.
    """

    def __init__(
        self, node: FakeNode | None = None, marketplace: FakeMarketplace | None = None
    ) -> None:
        self.node = node or FakeNode()
        self.marketplace = marketplace or FakeMarketplace()
        self._servers: list[Any] = []
        self._services: list[Any] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.node_url = self.api_url = self.endpoint = self.api_key = ""

    @property
    def user_id(self) -> str:
        """The buyer of the device's stream."""
        from .sandbox import DEMO_USER_ID

        return DEMO_USER_ID

    def __enter__(self) -> LoopbackServices:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        from .sandbox import DEMO_DEVICE, DEMO_USER_ID, SandboxMarket, SandboxNode
        from .sandbox._http import JsonServer

        self._tmp = tempfile.TemporaryDirectory(prefix="iota-publisher-loopback-")
        data = Path(self._tmp.name)
        node = SandboxNode(data / "node.db", mwm=self.node.mwm)
        self._services.append(node)
        market = SandboxMarket(data / "market.db")
        self._services.append(market)
        if self.node.transactions:  # what the fake node holds already (from its file)
            status, answer = node.execute(
                {
                    "command": iri.STORE_TRANSACTIONS,
                    "trytes": list(self.node.transactions.values()),
                }
            )
            if status != 200:
                raise ValueError(f"the node's transactions were refused: {answer['error']}")
        self.api_key = market.demo_api_key
        device_id = self.marketplace.sensor_id
        market.create_device(
            self.api_key,
            device_id,
            dict(DEMO_DEVICE, sensorId=device_id, owner=DEMO_USER_ID),
            secret_key=self.marketplace.secret_key,
        )
        market.purchase(DEMO_USER_ID, device_id)
        for name, route in (
            ("node", self._node_route(node)),
            ("market", self._market_route(market)),
        ):
            server = JsonServer(
                "127.0.0.1", 0, route, max_body=iri.MAX_BODY_LENGTH, name=f"loopback-{name}"
            )
            self._servers.append(server)
            server.start()
        self.node_url = f"http://127.0.0.1:{self._servers[0].port}"
        self.api_url = f"http://127.0.0.1:{self._servers[1].port}"
        self.endpoint = f"{self.api_url}/newData"

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()
        for service in self._services:
            service.close()
        self._services.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _node_route(self, node: Any) -> Any:
        fake = self.node

        def route(request: Any) -> tuple[int, Any]:
            body = _json_or_none(request)
            command = body.get("command") if isinstance(body, dict) else None
            method = _NODE_METHODS.get(command) if isinstance(command, str) else None
            if method is not None:
                try:
                    fake.check(method)
                except Exception as exc:  # noqa: BLE001 - answered as a node would
                    return _failure(exc)
            status, answer = node.route(request)
            if status == 200 and command == iri.STORE_TRANSACTIONS:
                trytes = body["trytes"]
                fake.record(trytes, [node.hash_of(t) for t in trytes])
            return status, answer

        return route

    def _market_route(self, market: Any) -> Any:
        fake = self.marketplace

        def route(request: Any) -> tuple[int, Any]:
            path = request.path.rstrip("/")
            if path == "/newData" and request.method == "POST":
                try:
                    fake.check("new_data")
                except Exception as exc:  # noqa: BLE001 - answered as a marketplace would
                    return _failure(exc)
                status, answer = market.route(request)
                if status == 200:
                    body = request.json()
                    packet = body["packet"]
                    fake.record(
                        body["id"],
                        root=packet["root"],
                        sidekey=packet["sidekey"],
                        time=packet["time"],
                    )
                return status, answer
            if path == "/stream" and "apiKey" not in request.query:
                query = dict(request.query, userId=self.user_id, apiKey=self.api_key)
                request = replace(request, query=query)
            return market.route(request)

        return route


_NODE_METHODS = {  # IRI commands -> the FakeNode methods failures are queued on
    iri.GET_TRANSACTIONS_TO_APPROVE: "get_transactions_to_approve",
    iri.ATTACH_TO_TANGLE: "attach_to_tangle",
    iri.STORE_TRANSACTIONS: "store_and_broadcast",
}


def _json_or_none(request: Any) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


def _failure(exc: Exception) -> tuple[int, dict[str, str]]:
    from .errors import TransientError

    return (503 if isinstance(exc, TransientError) else 400), {"error": str(exc)}
