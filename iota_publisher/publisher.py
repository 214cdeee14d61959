"""One publish: packet -> MAM message -> bundle -> proof of work -> node -> marketplace.

>>> pub = Publisher.from_config("config.json")           # doctest: +SKIP
>>> result = pub.publish({"temperature": 21.5})           # doctest: +SKIP

Readings pass through the durable outbox of :mod:`iota_publisher.store`, so a
reading accepted by :meth:`Publisher.publish` or :meth:`Publisher.enqueue` is
published and registered exactly once, in order, even across crashes and
outages: when the node or the marketplace is unreachable, ``publish`` raises
the (transient) error and the reading waits in the outbox for the next
:meth:`Publisher.drain`.

In debug mode (the template's default) nothing is sent and no state changes:
the packet, and what would be sent, are printed with secrets masked.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .config import Config, load_config
from .errors import InvalidInputError, PublisherError
from .mam import Channel
from .store import OutboxRow, Stage, Store
from .trinary import TRYTE_ALPHABET, Transaction, ascii_to_trytes, build_bundle

__all__ = ["PublishResult", "Publisher", "random_trytes"]

log = logging.getLogger(__name__)

_NO_KEY = "9" * 81


def random_trytes(length: int = 81) -> str:
    """Trytes from the operating system's CSPRNG, without modulo bias."""
    return "".join(secrets.choice(TRYTE_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class PublishResult:
    """What one reading became. ``timings`` are seconds spent per step."""

    id: int | None
    packet: Mapping[str, Any]
    root: str | None = None
    address: str | None = None
    side_key: str | None = field(default=None, repr=False)
    tail: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    debug: bool = False


def packet_json(time_ms: int, data_json: str) -> str:
    """The packet as the template writes it: compact JSON, ASCII only."""
    return f'{{"time":{time_ms},"data":{data_json}}}'


def _data_json(data: Any) -> str:
    if not isinstance(data, Mapping):
        raise InvalidInputError(
            f"data must be a mapping of field ids to values, not {type(data).__name__}",
            field="data",
        )
    try:
        return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"data must be JSON-serialisable with finite numbers: {exc}", field="data"
        ) from exc


class Publisher:
    """Publishes readings for one device. Build with :meth:`from_config`.

    Seams for tests and custom setups (keyword arguments): ``node`` (a
    :class:`~iota_publisher.node.NodeClient`), ``marketplace`` (a
    :class:`~iota_publisher.marketplace.MarketplaceClient`), ``store``,
    ``clock`` (seconds since the epoch), ``side_keys`` (a function returning
    fresh 81-tryte keys) and ``out`` (where debug output goes).
    """

    def __init__(
        self,
        config: Config,
        *,
        node: Any = None,
        marketplace: Any = None,
        store: Store | None = None,
        clock: Callable[[], float] = _time.time,
        side_keys: Callable[[], str] = random_trytes,
        out: TextIO | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._side_keys = side_keys
        self._out = out
        self._node = node
        self._marketplace = marketplace
        self._store = store
        self._own_store = False
        self._channel: Channel | None = None

    @classmethod
    def from_config(cls, path: str | Path, **seams: Any) -> Publisher:
        """A publisher for the device described by a ``config.json``."""
        return cls(load_config(path), **seams)

    # -- lazily built collaborators ------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(
                self.config.state_dir, outbox_limit=self.config.outbox_limit, clock=self._clock
            )
            self._own_store = True
        return self._store

    @property
    def node(self) -> Any:
        if self._node is None:
            from .node import NodeClient

            assert self.config.provider is not None
            self._node = NodeClient(self.config.provider, timeout=self.config.timeout)
        return self._node

    @property
    def marketplace(self) -> Any:
        if self._marketplace is None:
            from .marketplace import MarketplaceClient

            assert self.config.endpoint is not None
            self._marketplace = MarketplaceClient.from_endpoint(
                self.config.endpoint, timeout=self.config.timeout
            )
        return self._marketplace

    def close(self) -> None:
        for client in (self._node, self._marketplace):
            close = getattr(client, "close", None)
            if close is not None:
                close()
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- publishing ------------------------------------------------------------

    def publish(self, data: Mapping[str, Any], time: int | None = None) -> PublishResult:
        """Publish one reading (``data``: field id -> value; ``time`` in ms, default now).

        Returns the result for this reading once it is registered. Readings
        queued earlier go first. A transient failure raises after the reading
        was accepted: it stays in the outbox for the next :meth:`drain`.
        """
        time_ms = self._time_ms(time)
        data_json = _data_json(data)
        if self.config.debug:
            return self._debug(time_ms, data_json)
        row_id = self.store.enqueue(time_ms, data_json)
        for result in self.drain():
            if result.id == row_id:
                return result
        raise PublisherError(f"reading {row_id} was not published")  # pragma: no cover

    def enqueue(self, data: Mapping[str, Any], time: int | None = None) -> int:
        """Accept a reading into the outbox without sending; returns its outbox id."""
        return self.store.enqueue(self._time_ms(time), _data_json(data))

    def drain(self, limit: int | None = None) -> list[PublishResult]:
        """Send queued readings, oldest first, until the outbox is empty (or ``limit``).

        Stops at the first failure and raises it; what was done stays done.
        """
        results = []
        while limit is None or len(results) < limit:
            row = self.store.head()
            if row is None:
                break
            results.append(self._advance(row))
        return results

    def _time_ms(self, time: int | None) -> int:
        if time is None:
            return int(self._clock() * 1000)
        if not isinstance(time, int) or isinstance(time, bool) or time < 0:
            raise InvalidInputError(
                f"time must be milliseconds since the epoch, not {time!r}", field="time"
            )
        return time

    def _debug(self, time_ms: int, data_json: str) -> PublishResult:
        packet = json.loads(packet_json(time_ms, data_json))
        print(json.dumps(packet), file=self._out or sys.stdout, flush=True)
        log.info(
            "debug mode: nothing sent. Would publish as sensor %r (%s MAM, security %d) through "
            "%s and register with %s (secret key ***)",
            self.config.sensor_id,
            self.config.mode,
            self.config.security,
            self.config.provider or "(no provider)",
            self.config.endpoint or "(no endpoint)",
        )
        return PublishResult(None, packet, debug=True)

    # -- the stages of one outbox row --------------------------------------------

    def _advance(self, row: OutboxRow) -> PublishResult:
        timings: dict[str, float] = {}
        try:
            if row.stage is Stage.QUEUED:
                row = self._prepare(row, timings)
            if row.stage is Stage.PREPARED:
                row = self._attach(row, timings)
            if row.stage is Stage.ATTACHED:
                started = _time.perf_counter()
                self.node.store_and_broadcast(row.attached)
                row = self.store.mark_stored(row.id)
                timings["node"] = timings.get("node", 0.0) + _time.perf_counter() - started
            if row.stage is Stage.STORED:
                started = _time.perf_counter()
                assert row.root is not None and row.side_key is not None
                self.marketplace.new_data(
                    self.config.sensor_id,
                    self.config.secret_key,
                    root=row.root,
                    sidekey=row.side_key,
                    time=row.time_ms,
                )
                self.store.mark_registered(row.id)
                timings["marketplace"] = _time.perf_counter() - started
        except PublisherError as exc:
            self.store.record_error(row.id, str(exc))
            raise
        log.info("published reading %d: root %s, tail %s", row.id, row.root, row.tail)
        return PublishResult(
            row.id,
            json.loads(packet_json(row.time_ms, row.data)),
            root=row.root,
            address=row.address,
            side_key=row.side_key,
            tail=row.tail,
            timings=timings,
        )

    def _load_channel(self) -> Channel:
        if self._channel is None:
            state = self.store.load_channel()
            if state is None:
                cfg = self.config
                key = self._side_key() if cfg.mode == "restricted" else None
                channel = Channel(random_trytes(81), cfg.security, cfg.mode, key)
                self.store.save_channel(channel.to_dict())
                log.info("created a new MAM channel (security %d, %s mode)", cfg.security, cfg.mode)
            else:
                channel = Channel.from_dict(state)
            self._channel = channel
        return self._channel

    def _side_key(self) -> str:
        if self.config.side_key_policy == "fixed":
            key = self.store.get_meta("side_key")
            if key is None:
                key = self._side_keys()
                self.store.set_meta("side_key", key)
            return key
        return self._side_keys()

    def _prepare(self, row: OutboxRow, timings: dict[str, float]) -> OutboxRow:
        started = _time.perf_counter()
        channel = self._load_channel()
        try:
            if self.config.mode == "restricted":
                channel.change_mode("restricted", self._side_key())
            message = channel.create_message(ascii_to_trytes(packet_json(row.time_ms, row.data)))
            bundle = build_bundle(
                message.address, message.payload, self.config.tag, int(self._clock())
            )
            prepared = self.store.prepare(
                # public and private channels register the all-9 key they are masked with
                row.id,
                channel.to_dict(),
                root=message.root,
                side_key=channel.side_key or _NO_KEY,
                address=message.address,
                payload=message.payload,
                bundle=bundle,
            )
        except BaseException:
            self._channel = None  # the stored state is the truth: reload it
            raise
        timings["mam"] = _time.perf_counter() - started
        return prepared

    def _attach(self, row: OutboxRow, timings: dict[str, float]) -> OutboxRow:
        from .attaching import attach  # the proof-of-work strategy (local or the node's)

        assert row.bundle is not None
        started = _time.perf_counter()
        attached = attach(
            self.node,
            row.bundle,
            depth=self.config.depth,
            mwm=self.config.mwm,
            pow=self.config.pow,
            threads=self.config.pow_threads,
        )
        timings["pow"] = _time.perf_counter() - started
        txs = [Transaction.from_trytes(t) for t in attached]
        tail = next(tx for tx in txs if tx.current_index == 0).hash
        return self.store.save_attached(row.id, attached, tail)
