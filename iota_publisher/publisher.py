"""One publish: packet -> MAM message -> bundle -> proof of work -> node -> marketplace.

>>> pub = Publisher.from_config("config.json")           # doctest: +SKIP
>>> result = pub.publish({"temperature": 21.5})           # doctest: +SKIP

Readings pass through the durable outbox of :mod:`iota_publisher.store`, so a
reading accepted by :meth:`Publisher.publish` or :meth:`Publisher.enqueue` is
published as one MAM message and registered once, in order, even across
crashes and outages: when the node or the marketplace is unreachable,
``publish`` raises the (transient) error and the reading waits in the outbox
for the next :meth:`Publisher.drain`. Where the protocol cannot tell (the
marketplace stored a packet and its answer was lost) registration is
at-least-once: the same root is sent again, and readers
(:mod:`iota_publisher.fetch`, the sandbox marketplace) keep a root once. A
parked reading sent again later (``retry``) goes out after newer ones.

In debug mode (the template's default) nothing is sent and no state changes,
whichever method is called: :meth:`Publisher.publish` and
:meth:`Publisher.enqueue` print the packet (one JSON line) and log what would
be sent, with secrets masked; ``publish`` returns a result with ``debug=True``
and no root, ``enqueue`` returns ``None`` (no outbox id), and
:meth:`Publisher.drain` returns ``[]``. The state directory is not even
created.

Refusals, when a peer answers and says no:

* the node refuses the stored attached transactions as invalid
  (:class:`~iota_publisher.errors.NodeRejectedError` from
  ``storeTransactions``/``broadcastTransactions``: its minWeightMagnitude went
  up, a timestamp lies too far ahead): the same prepared message is attached
  again, at once, with new tips and proof of work at the config's ``mwm``
  (the MAM message byte for byte the same, the channel never signs again; a
  bundle dated more than two hours ahead of now is rebuilt around the same
  address and payload with the time now). After :data:`MAX_REATTACH`
  re-attaches the reading is parked;
* ``newData`` refuses the packet (a 4xx other than 401/403/404/405/407, or
  ``success: false``): the reading is parked;
* parked readings (stage ``parked``, :mod:`iota_publisher.store`) keep the
  stage they were parked from and the error; ``drain`` logs them and goes on
  with the next reading; ``iota-publish status`` lists them and ``retry``
  sends them again;
* a refusal that is not about the reading but about the setup (403 from
  ``newData``: the secret key; 401/403/404/405/407: the URL or access; the
  node refusing ``getTransactionsToApprove`` or ``attachToTangle``: the node
  or the ``mwm`` setting), an answer that breaks the protocol, and every
  transient failure raise, the reading waiting where it is.

Time stamps (the bundle's ``timestamp``, the local proof of work's
``attachmentTimestamp``) come from a clock that never goes back for a
channel: the last stamp used is kept, and a later one is never earlier,
unless the last lies more than :data:`STAMP_SLACK_MS` ahead of the clock
(a clock that was set wrong and is right again is followed, so a node's
two-hour horizon is never overrun by an old mistake).
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import threading
import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .config import Config, load_config
from .errors import (
    InvalidInputError,
    InvalidSecretKeyError,
    MarketplaceRejectedError,
    NodeRejectedError,
    PublisherError,
    ReadingParkedError,
    StoreError,
)
from .mam import Channel
from .store import OutboxRow, Stage, Store
from .trinary import TRYTE_ALPHABET, Transaction, ascii_to_trytes, build_bundle

__all__ = [
    "MAX_REATTACH",
    "PublishResult",
    "Publisher",
    "ReadingParkedError",
    "random_trytes",
]

log = logging.getLogger(__name__)
# one line per published reading, a logger of its own (the daemon logs a fuller one)
readings_log = logging.getLogger(__name__ + ".readings")

_NO_KEY = "9" * 81

#: how often a reading whose attached transactions the node refuses is attached again
MAX_REATTACH = 3
#: a prepared bundle dated further ahead of now (seconds) is rebuilt before attaching
FUTURE_LIMIT_S = 2 * 3600
#: the last time stamp is followed while it lies at most this far ahead of the clock (ms)
STAMP_SLACK_MS = 3600 * 1000
# HTTP statuses that say the setup is wrong (URL, access, key), not the reading
_SETUP_STATUSES = frozenset({401, 403, 404, 405, 407})


def _refuses_the_reading(exc: PublisherError) -> bool:
    """Whether a refusal is about what was sent (so parking it lets others through)."""
    return getattr(exc, "status", None) not in _SETUP_STATUSES


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

    Threads: :meth:`enqueue` may run in one thread (a collector) while
    :meth:`drain` runs in another (a sender); the store serialises them.
    :meth:`drain` and :meth:`publish` themselves run in one thread at a time.
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
        self._store_lock = threading.Lock()
        self._channel: Channel | None = None

    @classmethod
    def from_config(cls, path: str | Path, **seams: Any) -> Publisher:
        """A publisher for the device described by a ``config.json``."""
        return cls(load_config(path), **seams)

    # -- lazily built collaborators ------------------------------------------

    @property
    def store(self) -> Store:
        with self._store_lock:  # opened once, whichever thread asks first
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
        was accepted: it stays in the outbox for the next :meth:`drain`. A
        reading refused for good is parked and raises
        :class:`~iota_publisher.errors.ReadingParkedError`.
        """
        time_ms = self._time_ms(time)
        data_json = _data_json(data)
        if self.config.debug:
            return self._debug(time_ms, data_json)
        row_id = self.store.enqueue(time_ms, data_json)
        for result in self.drain():
            if result.id == row_id:
                return result
        row = self.store.get(row_id)
        if row is not None and row.stage is Stage.PARKED:
            raise ReadingParkedError(
                f"reading {row_id} was refused and parked at stage {row.parked_from}: "
                f"{row.last_error}",
                id=row_id,
                stage=str(row.parked_from),
            )
        raise PublisherError(f"reading {row_id} was not published")  # pragma: no cover

    def enqueue(self, data: Mapping[str, Any], time: int | None = None) -> int | None:
        """Accept a reading into the outbox without sending; returns its outbox id.

        In debug mode nothing is stored: the packet is printed as
        :meth:`publish` prints it, and the answer is ``None``.
        """
        time_ms = self._time_ms(time)
        data_json = _data_json(data)
        if self.config.debug:
            self._debug(time_ms, data_json)
            return None
        return self.store.enqueue(time_ms, data_json)

    def drain(self, limit: int | None = None) -> list[PublishResult]:
        """Send waiting readings, oldest first, until none is left (or ``limit`` were
        handled); returns the published ones.

        A reading refused for good is parked (logged, skipped from then on,
        counted towards ``limit``) and the drain goes on. Any other failure
        stops the drain and raises; what was done stays done, and the reading
        waits where it is. In debug mode nothing is sent: ``[]``.
        """
        if self.config.debug:
            return []
        results = []
        handled = 0
        while limit is None or handled < limit:
            row = self.store.head()
            if row is None:
                break
            handled += 1
            result = self._advance(row)
            if result is not None:
                results.append(result)
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
        from ._http import redact_url  # URLs may carry credentials: never logged as they are

        packet = json.loads(packet_json(time_ms, data_json))
        print(json.dumps(packet), file=self._out or sys.stdout, flush=True)
        log.info(
            "debug mode: nothing sent. Would publish as sensor %r (%s MAM, security %d) through "
            "%s and register with %s (secret key ***)",
            self.config.sensor_id,
            self.config.mode,
            self.config.security,
            redact_url(self.config.provider) if self.config.provider else "(no provider)",
            redact_url(self.config.endpoint) if self.config.endpoint else "(no endpoint)",
        )
        return PublishResult(None, packet, debug=True)

    # -- the stages of one outbox row --------------------------------------------

    def _advance(self, row: OutboxRow) -> PublishResult | None:
        """Take one reading as far as it goes: registered (its result) or parked (``None``)."""
        timings: dict[str, float] = {}
        try:
            if row.stage is Stage.QUEUED:
                row = self._prepare(row, timings)
            while row.stage in (Stage.PREPARED, Stage.ATTACHED):
                if row.stage is Stage.PREPARED:
                    row = self._attach(row, timings)
                started = _time.perf_counter()
                try:
                    self.node.store_and_broadcast(row.attached)
                except NodeRejectedError as exc:
                    if not _refuses_the_reading(exc):
                        raise
                    row = self._refused(row, exc)
                    if row.stage is Stage.PARKED:
                        return None
                    continue
                finally:
                    timings["node"] = timings.get("node", 0.0) + _time.perf_counter() - started
                row = self.store.mark_stored(row.id)
            if row.stage is Stage.STORED:
                started = _time.perf_counter()
                assert row.root is not None and row.side_key is not None
                try:
                    self.marketplace.new_data(
                        self.config.sensor_id,
                        self.config.secret_key,
                        root=row.root,
                        sidekey=row.side_key,
                        time=row.time_ms,
                    )
                except MarketplaceRejectedError as exc:
                    if isinstance(exc, InvalidSecretKeyError) or not _refuses_the_reading(exc):
                        raise
                    self.store.park(row.id, Stage.STORED, self._clean(str(exc), row))
                    return None
                self.store.mark_registered(row.id)
                timings["marketplace"] = _time.perf_counter() - started
        except PublisherError as exc:
            self._record_error(row, exc)
            raise
        readings_log.info("published reading %d: root %s, tail %s", row.id, row.root, row.tail)
        return PublishResult(
            row.id,
            json.loads(packet_json(row.time_ms, row.data)),
            root=row.root,
            address=row.address,
            side_key=row.side_key,
            tail=row.tail,
            timings=timings,
        )

    def _refused(self, row: OutboxRow, exc: NodeRejectedError) -> OutboxRow:
        """The node refused the attached transactions: attach them again, or park."""
        error = self._clean(str(exc), row)
        if row.reattached >= MAX_REATTACH:
            return self.store.park(row.id, Stage.ATTACHED, error)
        log.warning(
            "the node refused the transactions of reading %d (%s); attaching the same "
            "message again (%d of %d)",
            row.id,
            error,
            row.reattached + 1,
            MAX_REATTACH,
        )
        return self.store.reattach(row.id, error)

    def _record_error(self, row: OutboxRow, exc: PublisherError) -> None:
        try:
            self.store.record_error(row.id, self._clean(str(exc), row))
        except StoreError as err:  # a full disk: the error itself is what matters
            log.debug("could not record the error of reading %d: %s", row.id, err)

    def _clean(self, text: str, row: OutboxRow) -> str:
        """``text`` without the secret key or the row's side key, to keep with the row."""
        for secret in (self.config.secret_key, row.side_key):
            if secret and secret != _NO_KEY and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    # -- time stamps that never go back ------------------------------------------

    def _stamp_clock(self) -> Callable[[], int]:
        """A clock in ms that never goes back from the last stamp this channel used
        (unless that lies more than :data:`STAMP_SLACK_MS` ahead: a clock set wrong,
        since put right). Its ``last`` attribute is the latest value handed out."""
        last = self.store.get_meta("stamp_ms")

        def now() -> int:
            nonlocal last
            current = int(self._clock() * 1000)
            if isinstance(last, int) and current < last <= current + STAMP_SLACK_MS:
                current = last
            last = current
            now.last = current  # type: ignore[attr-defined]
            return current

        now.last = None  # type: ignore[attr-defined]
        return now

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
            stamp = self._stamp_clock()()
            bundle = build_bundle(message.address, message.payload, self.config.tag, stamp // 1000)
            prepared = self.store.prepare(
                # public and private channels register the all-9 key they are masked with
                row.id,
                channel.to_dict(),
                root=message.root,
                side_key=channel.side_key or _NO_KEY,
                address=message.address,
                payload=message.payload,
                bundle=bundle,
                meta={"stamp_ms": stamp},
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
        stamps = self._stamp_clock()
        row = self._rebundle_if_ahead(row, stamps)
        assert row.bundle is not None
        attached = attach(
            self.node,
            row.bundle,
            depth=self.config.depth,
            mwm=self.config.mwm,
            pow=self.config.pow,
            threads=self.config.pow_threads,
            now=stamps,
        )
        timings["pow"] = timings.get("pow", 0.0) + _time.perf_counter() - started
        txs = [Transaction.from_trytes(t) for t in attached]
        tail = next(tx for tx in txs if tx.current_index == 0).hash
        last = stamps.last  # type: ignore[attr-defined]
        meta = {} if last is None else {"stamp_ms": last}
        return self.store.save_attached(row.id, attached, tail, meta=meta)

    def _rebundle_if_ahead(self, row: OutboxRow, stamps: Callable[[], int]) -> OutboxRow:
        """A prepared bundle dated more than :data:`FUTURE_LIMIT_S` ahead of now (the
        clock was wrong when it was built) is built again around the same address
        and payload (the MAM message unchanged), dated now."""
        assert row.bundle is not None and row.address is not None and row.payload is not None
        first = Transaction.from_trytes(row.bundle[0])
        if first.timestamp <= self._clock() + FUTURE_LIMIT_S:
            return row
        stamp = stamps()
        bundle = build_bundle(row.address, row.payload, first.tag, stamp // 1000)
        log.warning(
            "reading %d: its bundle is dated %d s ahead of now (the clock was wrong); "
            "rebuilding it around the same message",
            row.id,
            first.timestamp - int(self._clock()),
        )
        return self.store.rebundle(row.id, bundle, meta={"stamp_ms": stamp})
