"""Both sandbox services on one machine, state in one directory."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .._files import write_private
from ..errors import ConfigError, ExistingFileError
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
CONFIG_RECORD = "configs.json"  # the configs written: path -> device id, digest
#: the keys of a written config that follow the sandbox; the rest is the user's to edit
OWNED_KEYS = ("sensorId", "secretKey", "provider", "endpoint", "serverUrl")


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

    def write_config(
        self, path: str | os.PathLike[str], *, interval: float = 5.0, force: bool = False
    ) -> Path:
        """Write :meth:`config` to ``path`` (``0600``: it holds the device's secret key).

        Nothing of the user's is lost. A config that this sandbox wrote before
        (its data directory keeps a record of the path, the device and a
        digest of what was written; without one, a config for the demo device
        whose ``stateDir`` is in this data directory) keeps every edit: only
        the keys the sandbox owns are brought up to date (:data:`OWNED_KEYS`,
        ``stateDir`` when absent, ``mwm`` when below the node's). Any other
        file at ``path`` is left as it is (:class:`ExistingFileError`) unless
        ``force``, which replaces it with a fresh config. The file appears
        whole (written aside, then renamed). A result that does not validate
        (an edit gone wrong) is a :class:`ConfigError` and is not written.
        ``interval`` is that of a fresh config; an existing one keeps its own.
        """
        from ..config import Config

        target = Path(path)
        fresh = self.config(interval=interval)
        records = self._config_records()
        key = os.path.abspath(target)
        existing = None if force else self._existing_config(target, records.get(key))
        config = fresh if existing is None else self._merge(existing, fresh)
        try:
            Config.from_mapping(config, base_dir=target.resolve().parent)  # fail here, not in `run`
        except ConfigError as exc:
            raise ConfigError(f"{target}: {exc} (left as it is)", field=exc.field) from exc
        text = json.dumps(config, indent=2) + "\n"
        try:
            write_private(target, text, replace=force or existing is not None)
        except FileExistsError:  # appeared meanwhile
            raise ExistingFileError(target, _NOT_OURS) from None
        records[key] = {"sha256": _digest(text.encode()), "sensorId": config["sensorId"]}
        write_private(
            self.data_dir / CONFIG_RECORD, json.dumps(records, indent=2) + "\n", replace=True
        )
        return target

    def _config_records(self) -> dict[str, Any]:
        try:
            records = json.loads((self.data_dir / CONFIG_RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return records if isinstance(records, dict) else {}

    def _existing_config(self, target: Path, record: Any) -> dict[str, Any] | None:
        """The config at ``target`` if this sandbox wrote it; ``None`` if there is none."""
        if not os.path.lexists(target):
            return None
        try:
            raw = target.read_bytes()
        except OSError as exc:
            raise ExistingFileError(target, f"cannot be read ({exc.strerror or exc})") from exc
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep
            data = None
        if isinstance(record, dict):
            if not isinstance(data, dict):
                raise ExistingFileError(
                    target, "was written by this sandbox but is no JSON object any more"
                )
            if record.get("sha256") == _digest(raw) or data.get("sensorId") == record.get(
                "sensorId"
            ):
                return data
        elif (
            isinstance(data, dict)
            and data.get("sensorId") == DEMO_DEVICE["sensorId"]
            and self._state_dir_of(data, target) == self.state_dir.resolve()
        ):
            return data  # this sandbox's config from before its data directory was reset
        raise ExistingFileError(target, _NOT_OURS)

    @staticmethod
    def _state_dir_of(data: dict[str, Any], target: Path) -> Path | None:
        state = data.get("stateDir")
        if not isinstance(state, str) or not state:
            return None
        try:
            return (target.resolve().parent / state).resolve()
        except (OSError, RuntimeError, ValueError):
            return None

    def _merge(self, data: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
        merged = dict(data)
        for name in OWNED_KEYS:
            if name in fresh:
                merged[name] = fresh[name]
        merged.setdefault("stateDir", fresh["stateDir"])
        mwm = merged.get("mwm")
        if isinstance(mwm, bool) or not isinstance(mwm, int) or mwm < self.mwm:
            merged["mwm"] = self.mwm  # below the node's, every publish would be refused
        return merged


_NOT_OURS = "was not written by this sandbox"


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
