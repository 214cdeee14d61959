"""Both sandbox services on one machine, state in one directory."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from ..pow import check_mwm
from ..protocol.iri import MAX_BODY_LENGTH
from ._db import SandboxError
from ._http import JsonServer
from .market import DEMO_DEVICE, DEMO_USER_ID, SandboxMarket
from .node import SandboxNode

__all__ = ["Sandbox"]

NODE_DB = "node.db"
MARKET_DB = "market.db"
LOCK_NAME = "sandbox.lock"
PUBLISHER_STATE = "publisher"  # the stateDir a written config points at


class Sandbox:
    """A legacy IRI node and a Data Marketplace on ``host``, state in ``data_dir``.

    ::

        with Sandbox("sandbox-data") as sb:
            device_id, secret_key = sb.create_demo_device()
            sb.write_config("sandbox-config.json")
            ...  # publish to sb.node_url / sb.endpoint, buy as sb.user_id

    Ports 0 (the default) pick free ones; :attr:`node_url`, :attr:`api_url`
    and :attr:`endpoint` (the newData URL) say where they are once started.
    ``mwm`` is the node's minWeightMagnitude. Deleting ``data_dir`` resets
    everything (the demo accounts come back with new random keys). One
    sandbox at a time may use a data directory.

    Both servers answer only requests whose ``Host`` names them (no DNS
    rebinding) and refuse requests from web pages, except from
    ``allowed_origin`` (e.g. ``"http://localhost:3000"`` for a dApp in
    development), which gets CORS headers naming it.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        node_port: int = 0,
        market_port: int = 0,
        mwm: int = 9,
        allowed_origin: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.allowed_origin = allowed_origin
        self.host = host
        self.mwm = check_mwm(mwm)
        self._ports = (node_port, market_port)
        self.node: SandboxNode | None = None
        self.market: SandboxMarket | None = None
        self._servers: list[JsonServer] = []
        self._lock_fd: int | None = None
        self.node_url = self.api_url = self.endpoint = ""

    # -- the demo accounts ----------------------------------------------------------

    @property
    def user_id(self) -> str:
        """The demo user's id."""
        return DEMO_USER_ID

    @property
    def api_key(self) -> str:
        """The demo user's API key (random per data directory; the sandbox must be running)."""
        return self._running_market().demo_api_key

    @property
    def state_dir(self) -> Path:
        """Where a written config keeps the publisher's channel and outbox."""
        return self.data_dir / PUBLISHER_STATE

    # -- life cycle --------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Open the databases and start both servers."""
        if self._servers:
            return
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock()
            self.node = SandboxNode(self.data_dir / NODE_DB, mwm=self.mwm)
            self.market = SandboxMarket(self.data_dir / MARKET_DB)
            for port, service, name in (
                (self._ports[0], self.node, "node"),
                (self._ports[1], self.market, "marketplace"),
            ):
                try:
                    server = JsonServer(
                        self.host,
                        port,
                        service.route,
                        max_body=MAX_BODY_LENGTH,
                        name=f"sandbox {name}",
                        allowed_origin=self.allowed_origin,
                    )
                except OSError as exc:
                    raise SandboxError(
                        f"the sandbox {name} cannot listen on {self.host}:{port}: {exc}"
                    ) from exc
                self._servers.append(server)
            for server in self._servers:
                server.start()
        except BaseException:
            self.close()
            raise
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.node_url = f"http://{host}:{self._servers[0].port}"
        self.api_url = f"http://{host}:{self._servers[1].port}"
        self.endpoint = f"{self.api_url}/newData"

    def _lock(self) -> None:
        path = self.data_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise SandboxError(f"cannot use the data directory {self.data_dir}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise SandboxError(
                f"another sandbox is using {self.data_dir} (stop it, or pick another --data)"
            ) from exc
        self._lock_fd = fd

    def close(self) -> None:
        """Stop the servers (requests in flight finish), close the databases, unlock."""
        for server in self._servers:
            server.stop()
        self._servers.clear()
        for service in (self.node, self.market):
            if service is not None:
                service.close()
        self.node = self.market = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def _running_market(self) -> SandboxMarket:
        if self.market is None:
            raise SandboxError("the sandbox is not running (use it in a with block, or start())")
        return self.market

    # -- conveniences ----------------------------------------------------------------------

    def create_demo_device(self) -> tuple[str, str]:
        """The demo user's device (created on first use): ``(device id, secret key)``."""
        return self._running_market().create_demo_device()

    def config(self, *, interval: float = 5.0) -> dict[str, Any]:
        """A live config for the demo device, publishing a simulated weather station."""
        device_id, secret_key = self.create_demo_device()
        return {
            "sensorId": device_id,
            "secretKey": secret_key,
            "debug": False,
            "provider": self.node_url,
            "endpoint": self.endpoint,
            "mwm": self.mwm,
            "stateDir": str(self.state_dir.resolve()),
            "interval": interval,
            "sensors": [
                {
                    "name": "station",
                    "driver": "simulated",
                    "options": {"seed": 1, "readings": ["temperature", "humidity", "pressure"]},
                },
            ],
            "fields": [
                {
                    "id": "temperature",
                    "sensor": "station",
                    "reading": "temperature",
                    "unit": "C",
                    "round": 1,
                },
                {"id": "humidity", "sensor": "station", "reading": "humidity", "round": 0},
                {
                    "id": "pressure",
                    "sensor": "station",
                    "reading": "pressure",
                    "unit": "hPa",
                    "round": 1,
                },
            ],
            "dataTypes": DEMO_DEVICE["dataTypes"],
        }

    def write_config(self, path: str | os.PathLike[str], *, interval: float = 5.0) -> Path:
        """Write :meth:`config` to ``path`` (``0600``: it holds the device's secret key)."""
        from ..config import Config

        target = Path(path)
        config = self.config(interval=interval)
        Config.from_mapping(config, base_dir=target.resolve().parent)  # fail here, not in `run`
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        os.replace(tmp, target)
        return target
