"""A legacy IRI API node for one machine, its Tangle kept in SQLite.

Speaks the HTTP API the publisher, the reference libraries and PyOTA use:
``POST`` a JSON ``{"command": ..., ...}`` with the API version header
(:data:`~iota_publisher.protocol.iri.API_VERSION_HEADER`). Answers are JSON
objects with ``duration`` (ms); refusals are ``{"error": "...", "duration":
ms}`` with HTTP 400, worded as IRI words them (``Invalid API Version``,
``Command [x] is unknown``, ``Invalid trytes input``, ``Invalid
parameters``) plus a detail after a colon where IRI says nothing useful.
Parameters are checked by :mod:`iota_publisher.protocol.iri` (the checks the
client makes, with the leniency below) and refused in the words of
:func:`~iota_publisher.protocol.iri.iri_message`.

What it checks before storing (``storeTransactions``; ``broadcastTransactions``
checks the same and stores nothing, since a sandbox has no neighbours):

* each transaction: 2673 trytes that decode, zero value (the sandbox keeps
  no ledger), ``currentIndex <= lastIndex``, a timestamp at most two hours
  ahead, and a hash with at least the node's ``minWeightMagnitude`` trailing
  zero trits (proof of work);
* bundles, as soon as one is complete. A request holding every index of a
  bundle once is checked as that bundle (hash, indexes, the trunk/branch
  chaining ``attachToTangle`` makes) and refused whole if it is
  inconsistent. Transactions of a bundle the request does not complete are
  stored as *pending*; when a later request completes the chain (a tail
  whose trunks lead through ``lastIndex``, from stored and new transactions)
  that bundle is checked then, and a request completing it inconsistently is
  refused. Pending transactions are never offered as tips and are not
  consistent for ``checkConsistency``.

Where IRI is lenient, legacy clients rely on it and the sandbox is too:
empty lists are answered with empty lists (``getTrytes`` with no hashes, as
``@iota/mam.js`` asks at the end of every channel; ``findTransactions``,
``getInclusionStates``, ``getBalances``, ``wereAddressesSpentFrom``;
``checkConsistency`` of no tails is ``true``), addresses may carry their
checksum, tags may be padded with ``9`` beyond 27 trytes, a null
``reference`` is none, the ``threshold`` and ``tips`` older clients send are
accepted, ``attachToTangle`` chains transactions by index whatever order they
come in, and the peer commands (``getNeighbors``, ``addNeighbors``,
``removeNeighbors``, ``getMissingTransactions``) answer as a node without
neighbours.

Transactions already stored were checked then: sending them again (a
publisher resuming after a crash, the broadcast after a store) costs a
lookup.

A store that completes bundles confirms them at once with a new milestone
(the tail of the newest), as a dev chain mines a block per transaction.
``getInclusionStates`` counts every stored transaction as confirmed;
balances are all zero.

Thread-safe: request threads borrow SQLite connections from a pool (WAL, so
reads run in parallel); the check-and-insert of a store runs under one lock
so two requests cannot both complete the same bundle; proof of work for
``attachToTangle`` runs one request at a time on all cores, as IRI does.
"""

from __future__ import annotations

import logging
import os
import platform
import sqlite3
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..errors import InvalidInputError, ProtocolError
from ..pow import attach_to_tangle, check_mwm
from ..protocol import iri
from ..protocol.iri import (
    API_VERSION_HEADER,
    MAX_BODY_LENGTH,
    MAX_FIND_TRANSACTIONS,
    MAX_GET_TRYTES,
    MAX_REQUEST_LIST,
    MAX_TIMESTAMP_AHEAD,
    NULL_HASH,
    NULL_TRYTES,
    TRANSACTION_LENGTH,
    iri_message,
    require,
)
from ..trinary import Transaction, transaction_hash, validate_bundle
from ..trinary.bundle import trailing_zeros
from ._db import Database
from ._http import Request

__all__ = ["ApiError", "SandboxNode"]

log = logging.getLogger(__name__)

FEATURES = ("RemotePOW", "WereAddressesSpentFrom", "testnet")  # IRI's names
_SQL_CHUNK = 500  # values per IN (...) clause
_HASH_CACHE = 4096  # transaction hashes remembered (by trytes) between requests

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS transactions (
    hash                 TEXT PRIMARY KEY,
    address              TEXT NOT NULL,
    bundle               TEXT NOT NULL,
    tag                  TEXT NOT NULL,
    obsolete_tag         TEXT NOT NULL,
    trunk                TEXT NOT NULL,
    branch               TEXT NOT NULL,
    current_index        INTEGER NOT NULL,
    last_index           INTEGER NOT NULL,
    value                INTEGER NOT NULL,
    timestamp            INTEGER NOT NULL,
    attachment_timestamp INTEGER NOT NULL,
    trytes               TEXT NOT NULL,
    bundle_ok            INTEGER NOT NULL DEFAULT 0,  -- 1: part of a complete, valid bundle
    stored_ms            INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_address ON transactions(address);
CREATE INDEX IF NOT EXISTS transactions_bundle ON transactions(bundle);
CREATE INDEX IF NOT EXISTS transactions_tag ON transactions(tag);
CREATE INDEX IF NOT EXISTS transactions_obsolete_tag ON transactions(obsolete_tag);
CREATE INDEX IF NOT EXISTS transactions_trunk ON transactions(trunk);
CREATE INDEX IF NOT EXISTS transactions_branch ON transactions(branch);
-- transactions no stored transaction approves
CREATE TABLE IF NOT EXISTS tips (hash TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('schema', '1');
INSERT OR IGNORE INTO meta VALUES ('milestone', '"""
    + NULL_HASH
    + """');
INSERT OR IGNORE INTO meta VALUES ('milestone_index', '0');
"""
)


class ApiError(Exception):
    """A refused command: answered ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Checked:
    """A transaction that passed the per-transaction checks."""

    hash: str
    trytes: str
    tx: Transaction


@dataclass(frozen=True)
class _Link:
    """What bundle assembly needs of a transaction (stored or new)."""

    hash: str
    trytes: str
    current_index: int
    last_index: int
    trunk: str


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), _SQL_CHUNK):
        yield values[i : i + _SQL_CHUNK]


def _marks(values: Sequence[str]) -> str:
    return ",".join("?" * len(values))


# -- request parameters: the checks of protocol.iri, with the leniency IRI has ---------------------


def _hashes(
    request: dict[str, Any], name: str, *, limit: int | None = MAX_REQUEST_LIST
) -> list[str]:
    """A list of 81-tryte hashes; an empty one is answered as IRI does (empty)."""
    return iri.hash_list(require(request, name), name, empty=True, limit=limit)


def _addresses(request: dict[str, Any], name: str = "addresses") -> list[str]:
    """81-tryte addresses, or 90 with their checksum; the list may be empty."""
    return iri.address_list(require(request, name), name, empty=True, checksum=True)


class SandboxNode:
    """The IRI API over the SQLite Tangle at ``path``.

    ``mwm`` is the node's minWeightMagnitude (what stored transactions must
    carry, and the least ``attachToTangle`` accepts); ``max_attach_mwm``
    bounds what ``attachToTangle`` will search for (default ``max(mwm, 18)``,
    so one request cannot keep the machine busy for hours). ``pow_threads``
    go to the nonce search (default every core); ``clock`` gives seconds.
    :meth:`route` serves HTTP requests; :meth:`execute` runs a command given
    as a dict.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mwm: int = 9,
        max_attach_mwm: int | None = None,
        pow_threads: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mwm = check_mwm(mwm)
        self.max_attach_mwm = max(self.mwm, 18) if max_attach_mwm is None else max_attach_mwm
        self._pow_threads = pow_threads
        self._clock = clock
        self._write_lock = threading.Lock()
        self._pow_lock = threading.Lock()
        self._hash_lock = threading.Lock()
        self._hashes: OrderedDict[str, str] = OrderedDict()  # trytes -> hash, least recent first
        self.db = Database(path, _SCHEMA)
        self._commands: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            iri.GET_NODE_INFO: self._get_node_info,
            "getNodeAPIConfiguration": self._get_node_api_configuration,
            "getNeighbors": lambda _r: {"neighbors": []},
            # a sandbox has no peers: neighbours are neither added nor removed, as IRI answers
            # for URIs it cannot use
            "addNeighbors": lambda r: {"addedNeighbors": self._no_neighbors(r)},
            "removeNeighbors": lambda r: {"removedNeighbors": self._no_neighbors(r)},
            "getTips": self._get_tips,
            "getMissingTransactions": lambda _r: {"hashes": []},
            iri.GET_TRANSACTIONS_TO_APPROVE: self._get_transactions_to_approve,
            iri.ATTACH_TO_TANGLE: self._attach_to_tangle,
            "interruptAttachingToTangle": lambda _r: {},
            iri.STORE_TRANSACTIONS: self._store_transactions,
            iri.BROADCAST_TRANSACTIONS: self._broadcast_transactions,
            iri.FIND_TRANSACTIONS: self._find_transactions,
            iri.GET_TRYTES: self._get_trytes,
            "getInclusionStates": self._get_inclusion_states,
            iri.CHECK_CONSISTENCY: self._check_consistency,
            "getBalances": self._get_balances,
            "wereAddressesSpentFrom": self._were_addresses_spent_from,
        }

    def close(self) -> None:
        self.db.close()

    # -- dispatch ---------------------------------------------------------------

    def route(self, request: Request) -> tuple[int, dict[str, Any]]:
        """Answer one HTTP request (any path, as IRI does)."""
        started = time.monotonic()
        status, answer = self._route(request)
        answer["duration"] = int((time.monotonic() - started) * 1000)
        return status, answer

    def _route(self, request: Request) -> tuple[int, dict[str, Any]]:
        if request.headers.get(API_VERSION_HEADER) is None:
            return 400, {"error": "Invalid API Version"}
        if request.body is None:
            return 400, {"error": "Request too long"}
        if request.method != "POST":
            return 400, {"error": "Invalid request: send commands with POST"}
        try:
            body = request.json()
        except ValueError:
            return 400, {"error": "Invalid request payload: the body is not JSON"}
        return self.execute(body)

    def execute(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Run one command given as the request's JSON object: ``(status, answer)``."""
        if not isinstance(body, dict):
            return 400, {"error": "Invalid request payload: expected a JSON object"}
        command = body.get("command")
        if not isinstance(command, str):
            return 400, {"error": "COMMAND parameter has not been specified in the request."}
        handler = self._commands.get(command)
        if handler is None:
            return 400, {"error": f"Command [{command}] is unknown"}
        try:
            return 200, handler(body)
        except ProtocolError as exc:  # a parameter check of protocol.iri, worded as IRI words it
            message = iri_message(exc)
            log.info("%s refused: %s", command, message)
            return 400, {"error": message}
        except ApiError as exc:
            log.info("%s refused: %s", command, exc)
            return exc.status, {"error": str(exc)}

    # -- state ------------------------------------------------------------------------

    @staticmethod
    def _meta(conn: sqlite3.Connection) -> tuple[str, int]:
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        return rows["milestone"], int(rows["milestone_index"])

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- commands ----------------------------------------------------------------------

    def _get_node_info(self, _request: dict[str, Any]) -> dict[str, Any]:
        with self.db.connect() as conn:
            milestone, index = self._meta(conn)
            tips = conn.execute("SELECT COUNT(*) FROM tips").fetchone()[0]
        return {
            "appName": "iota-publisher sandbox",
            "appVersion": __version__,
            "jreAvailableProcessors": os.cpu_count() or 1,
            # IRI reports its JVM here; clients only display these
            "jreFreeMemory": 0,
            "jreVersion": f"Python {platform.python_version()}",
            "jreMaxMemory": 0,
            "jreTotalMemory": 0,
            "latestMilestone": milestone,
            "latestMilestoneIndex": index,
            "latestSolidSubtangleMilestone": milestone,
            "latestSolidSubtangleMilestoneIndex": index,
            "milestoneStartIndex": 0,
            "lastSnapshottedMilestoneIndex": 0,
            "neighbors": 0,
            "packetsQueueSize": 0,
            "time": self._now_ms(),
            "tips": tips,
            "transactionsToRequest": 0,
            "features": list(FEATURES),
            "coordinatorAddress": NULL_HASH,
            "dbSizeInBytes": self.db.size(),
        }

    @staticmethod
    def _get_node_api_configuration(_request: dict[str, Any]) -> dict[str, Any]:
        return {
            "maxFindTransactions": MAX_FIND_TRANSACTIONS,
            "maxRequestsList": MAX_REQUEST_LIST,
            "maxGetTrytes": MAX_GET_TRYTES,
            "maxBodyLength": MAX_BODY_LENGTH,
            "testNet": True,
            "milestoneStartIndex": 0,
        }

    @staticmethod
    def _no_neighbors(request: dict[str, Any]) -> int:
        iri.string_list(require(request, "uris"), "uris", empty=True)
        return 0

    def _get_tips(self, _request: dict[str, Any]) -> dict[str, Any]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT hash FROM tips").fetchall()
        return {"hashes": [r[0] for r in rows]}

    def _get_transactions_to_approve(self, request: dict[str, Any]) -> dict[str, Any]:
        iri.depth(require(request, "depth"), low=0, floats=True)  # IRI accepts a depth of 0
        # a null reference is no reference (clients that build requests from options send one)
        given = request.get("reference")
        reference = iri.hash_value(given, "reference") if given is not None else None
        with self.db.connect() as conn:
            # the two newest tips that are tails of complete, valid bundles
            rows = conn.execute(
                "SELECT t.hash FROM tips JOIN transactions t ON t.hash = tips.hash "
                "WHERE t.current_index = 0 AND t.bundle_ok = 1 ORDER BY t.rowid DESC LIMIT 2"
            ).fetchall()
            chosen = [r[0] for r in rows]
            if not chosen:  # every valid tail is approved by pending transactions only
                row = conn.execute(
                    "SELECT hash FROM transactions WHERE current_index = 0 AND bundle_ok = 1 "
                    "ORDER BY rowid DESC LIMIT 1"
                ).fetchone()
                chosen = [row[0]] if row else [NULL_HASH]
            if reference is not None:
                known = conn.execute(
                    "SELECT 1 FROM transactions WHERE hash = ?", (reference,)
                ).fetchone()
                if known is None:
                    raise ApiError("reference transaction not found")
                chosen = [reference, chosen[0]]
        trunk = chosen[0]
        branch = chosen[1] if len(chosen) > 1 else chosen[0]
        return {"trunkTransaction": trunk, "branchTransaction": branch}

    def _attach_to_tangle(self, request: dict[str, Any]) -> dict[str, Any]:
        trunk = iri.hash_value(require(request, "trunkTransaction"), "trunkTransaction")
        branch = iri.hash_value(require(request, "branchTransaction"), "branchTransaction")
        mwm = iri.mwm(require(request, "minWeightMagnitude"), floats=True)
        if mwm < self.mwm:
            raise ApiError(
                f"Invalid minWeightMagnitude input: {mwm} is below this node's {self.mwm}"
            )
        if mwm > self.max_attach_mwm:
            raise ApiError(
                f"Invalid minWeightMagnitude input: {mwm} is above the {self.max_attach_mwm} "
                "this node searches for"
            )
        trytes = iri.tryte_list(
            require(request, "trytes"), "trytes", length=TRANSACTION_LENGTH, empty=True
        )
        indexes = [iri.transaction_of(t, i).current_index for i, t in enumerate(trytes)]
        if not trytes:
            return {"trytes": []}
        # chained from the highest index down, whatever order they came in (IRI sorts them too)
        order = sorted(range(len(trytes)), key=lambda i: indexes[i], reverse=True)
        trytes = [trytes[i] for i in order]
        with self._pow_lock:
            attached = attach_to_tangle(
                trunk, branch, mwm, trytes, threads=self._pow_threads, now=self._now_ms
            )
        return {"trytes": attached}

    def _store_transactions(self, request: dict[str, Any]) -> dict[str, Any]:
        checked = self._check_each(iri.transaction_list(require(request, "trytes")))
        if not checked:
            return {}  # all stored already
        with self._write_lock, self.db.write() as conn:
            known, valid, tails = self._plan(conn, checked)
            new = [c for c in checked if c.hash not in known]
            self._insert(conn, new, valid, tails)
        if new:
            log.info("stored %d transaction(s)", len(new))
        return {}

    def _broadcast_transactions(self, request: dict[str, Any]) -> dict[str, Any]:
        checked = self._check_each(iri.transaction_list(require(request, "trytes")))
        if checked:
            with self.db.connect() as conn:
                self._plan(conn, checked)  # no neighbours: checked, then accepted
        return {}

    def _find_transactions(self, request: dict[str, Any]) -> dict[str, Any]:
        keys: list[tuple[list[str], tuple[str, ...]]] = []
        if "addresses" in request:
            keys.append((_addresses(request), ("address",)))
        if "bundles" in request:
            keys.append((_hashes(request, "bundles"), ("bundle",)))
        if "tags" in request:
            # IRI pads tags with 9s, so a longer one ending in 9s is the same tag
            tags = iri.tag_list(request["tags"], "tags", empty=True, padded=True)
            keys.append((tags, ("tag", "obsolete_tag")))
        if "approvees" in request:
            keys.append((_hashes(request, "approvees"), ("trunk", "branch")))
        if not keys:
            raise ProtocolError(
                "addresses", "(or bundles, tags or approvees) must be given", kind="missing"
            )
        found: dict[str, int] | None = None  # hash -> rowid, the intersection so far
        with self.db.connect() as conn:
            for values, columns in keys:
                matches: dict[str, int] = {}
                for chunk in _chunks(sorted(set(values))):
                    where = " OR ".join(f"{c} IN ({_marks(chunk)})" for c in columns)
                    for rowid, h in conn.execute(
                        f"SELECT rowid, hash FROM transactions WHERE {where}",
                        list(chunk) * len(columns),
                    ):
                        matches[h] = rowid
                if found is not None:
                    matches = {h: r for h, r in found.items() if h in matches}
                found = matches
                if not found:
                    break
        assert found is not None
        if len(found) > MAX_FIND_TRANSACTIONS:
            raise ApiError(
                f"Could not complete request: more than {MAX_FIND_TRANSACTIONS} transactions match"
            )
        return {"hashes": sorted(found, key=found.__getitem__)}

    def _get_trytes(self, request: dict[str, Any]) -> dict[str, Any]:
        hashes = _hashes(request, "hashes", limit=MAX_GET_TRYTES)
        stored = self._lookup(hashes, "trytes")
        return {"trytes": [stored.get(h, NULL_TRYTES) for h in hashes]}

    def _get_inclusion_states(self, request: dict[str, Any]) -> dict[str, Any]:
        hashes = _hashes(request, "transactions")
        if "tips" in request:  # older IRI required them; later ones ignore them
            _hashes(request, "tips")  # checked; every stored transaction is confirmed
        stored = self._lookup(hashes, "hash")
        return {"states": [h in stored for h in hashes]}

    def _check_consistency(self, request: dict[str, Any]) -> dict[str, Any]:
        tails = _hashes(request, "tails")
        with self.db.connect() as conn:
            rows = {
                r["hash"]: r
                for chunk in _chunks(tails)
                for r in conn.execute(
                    "SELECT hash, current_index, bundle_ok FROM transactions "
                    f"WHERE hash IN ({_marks(chunk)})",
                    list(chunk),
                )
            }
        for h in tails:
            if h in rows and rows[h]["current_index"] != 0:
                raise ApiError(f"Invalid transaction, not a tail: {h}")
        for h in tails:
            if h not in rows:
                return {
                    "state": False,
                    "info": f"tails are not solid (missing a referenced tx): {h}",
                }
            if not rows[h]["bundle_ok"]:
                return {
                    "state": False,
                    "info": f"tails are not consistent (bundle is incomplete or invalid): {h}",
                }
        return {"state": True}

    def _get_balances(self, request: dict[str, Any]) -> dict[str, Any]:
        addresses = _addresses(request)
        if "threshold" in request:  # older IRI required 100; later ones ignore it
            threshold = iri.integer(request["threshold"], "threshold", floats=True)
            if not 0 < threshold <= 100:
                raise ApiError("Illegal 'threshold'")
        tips = _hashes(request, "tips") if "tips" in request else []
        with self.db.connect() as conn:
            milestone, index = self._meta(conn)
        return {
            "balances": ["0"] * len(addresses),  # a zero-value sandbox: nothing holds tokens
            "references": tips or [milestone],  # what the balances were computed from
            "milestone": milestone,
            "milestoneIndex": index,
        }

    def _were_addresses_spent_from(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"states": [False] * len(_addresses(request))}

    # -- storing ----------------------------------------------------------------------

    def _lookup(self, hashes: Sequence[str], column: str) -> dict[str, Any]:
        """``{hash: column}`` for the stored ones of ``hashes``."""
        out: dict[str, Any] = {}
        with self.db.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(hashes))):
                for h, value in conn.execute(
                    f"SELECT hash, {column} FROM transactions WHERE hash IN ({_marks(chunk)})",
                    list(chunk),
                ):
                    out[h] = value
        return out

    def hash_of(self, trytes: str) -> str:
        """The hash of a transaction's trytes, remembered for the next few thousand
        (the broadcast after a store, a caller keeping what was stored)."""
        with self._hash_lock:
            h = self._hashes.get(trytes)
            if h is not None:
                self._hashes.move_to_end(trytes)
                return h
        h = transaction_hash(trytes)
        with self._hash_lock:
            self._hashes[trytes] = h
            if len(self._hashes) > _HASH_CACHE:
                self._hashes.popitem(last=False)
        return h

    def _check_each(self, trytes: Sequence[str]) -> list[_Checked]:
        """IRI's per-transaction checks of the transactions not stored yet (those were
        checked when they were); duplicates collapse. ``trytes`` passed
        :func:`~iota_publisher.protocol.iri.transaction_list`. Raises :class:`ApiError`
        (or :class:`ProtocolError` for trytes that do not decode)."""
        hashes = [self.hash_of(t) for t in trytes]
        stored = self._lookup(hashes, "hash")
        horizon = self._clock() + MAX_TIMESTAMP_AHEAD
        out: dict[str, _Checked] = {}
        for i, (t, h) in enumerate(zip(trytes, hashes, strict=True)):
            if h in stored or h in out:
                continue
            tx = iri.transaction_of(t, i)
            if tx.value != 0:
                raise ApiError(
                    f"Invalid trytes input: transaction {i} moves {tx.value} IOTA; this sandbox "
                    "holds zero-value transactions only"
                )
            if not 0 <= tx.current_index <= tx.last_index:
                raise ApiError(
                    f"Invalid trytes input: transaction {i} has currentIndex {tx.current_index} "
                    f"and lastIndex {tx.last_index}"
                )
            seconds = tx.attachment_timestamp / 1000 if tx.attachment_timestamp else tx.timestamp
            if seconds > horizon:
                raise ApiError(f"Invalid timestamp: transaction {i} is dated in the future")
            weight = trailing_zeros(h)
            if weight < self.mwm:
                raise ApiError(
                    f"Invalid transaction hash: transaction {i} has weight magnitude {weight}, "
                    f"below this node's minWeightMagnitude {self.mwm} (attach with at least "
                    f"{self.mwm})"
                )
            out[h] = _Checked(h, t, tx)
        return list(out.values())

    def _plan(
        self, conn: sqlite3.Connection, checked: Sequence[_Checked]
    ) -> tuple[set[str], set[str], list[str]]:
        """Check the bundles ``checked`` completes: ``(hashes already stored, valid
        hashes, tails of the complete bundles)``.

        Valid hashes are those of every complete bundle, new or stored, that
        a transaction of ``checked`` belongs to. Raises :class:`ApiError` for
        an inconsistent one.
        """
        known: set[str] = set()
        for chunk in _chunks([c.hash for c in checked]):
            known.update(
                r[0]
                for r in conn.execute(
                    f"SELECT hash FROM transactions WHERE hash IN ({_marks(chunk)})", list(chunk)
                )
            )
        groups: dict[str, list[_Checked]] = defaultdict(list)
        for c in checked:
            groups[c.tx.bundle].append(c)
        valid: set[str] = set()
        tails: list[str] = []
        for bundle, group in groups.items():
            if all(c.hash in known for c in group):
                continue  # a resend: checked when it was first stored
            last = group[0].tx.last_index
            indexes = sorted(c.tx.current_index for c in group)
            if indexes == list(range(last + 1)):  # the request holds the whole bundle
                self._validate(bundle, [c.trytes for c in group])
                valid.update(c.hash for c in group)
                tails.append(next(c.hash for c in group if c.tx.current_index == 0))
                continue
            links = {
                r["hash"]: _Link(
                    r["hash"], r["trytes"], r["current_index"], r["last_index"], r["trunk"]
                )
                for r in conn.execute(
                    "SELECT hash, trytes, current_index, last_index, trunk FROM transactions "
                    "WHERE bundle = ?",
                    (bundle,),
                )
            }
            for c in group:
                links[c.hash] = _Link(
                    c.hash, c.trytes, c.tx.current_index, c.tx.last_index, c.tx.trunk_transaction
                )
            mine = {c.hash for c in group}
            for tail in [link for link in links.values() if link.current_index == 0]:
                chain = [tail]
                while chain[-1].current_index < tail.last_index:
                    nxt = links.get(chain[-1].trunk)
                    if (
                        nxt is None
                        or nxt.current_index != chain[-1].current_index + 1
                        or nxt.last_index != tail.last_index
                    ):
                        break
                    chain.append(nxt)
                complete = chain[-1].current_index == tail.last_index
                if complete and any(link.hash in mine for link in chain):
                    self._validate(bundle, [link.trytes for link in chain])
                    valid.update(link.hash for link in chain)
                    tails.append(tail.hash)
        return known, valid, tails

    @staticmethod
    def _validate(bundle: str, trytes: list[str]) -> None:
        try:
            validate_bundle(trytes)
        except InvalidInputError as exc:
            raise ApiError(f"Invalid bundle {bundle}: {exc}") from exc

    def _insert(
        self,
        conn: sqlite3.Connection,
        new: Sequence[_Checked],
        valid: set[str],
        tails: Sequence[str],
    ) -> None:
        now = self._now_ms()
        for c in new:
            tx = c.tx
            conn.execute(
                "INSERT OR IGNORE INTO transactions (hash, address, bundle, tag, obsolete_tag, "
                "trunk, branch, current_index, last_index, value, timestamp, attachment_timestamp, "
                "trytes, bundle_ok, stored_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    c.hash,
                    tx.address,
                    tx.bundle,
                    tx.tag,
                    tx.obsolete_tag,
                    tx.trunk_transaction,
                    tx.branch_transaction,
                    tx.current_index,
                    tx.last_index,
                    tx.value,
                    tx.timestamp,
                    tx.attachment_timestamp,
                    c.trytes,
                    int(c.hash in valid),
                    now,
                ),
            )
            conn.execute(
                "DELETE FROM tips WHERE hash IN (?, ?)",
                (tx.trunk_transaction, tx.branch_transaction),
            )
            approved = conn.execute(
                "SELECT 1 FROM transactions WHERE trunk = ? OR branch = ? LIMIT 1", (c.hash, c.hash)
            ).fetchone()
            if approved is None:
                conn.execute("INSERT OR IGNORE INTO tips VALUES (?)", (c.hash,))
        older = sorted(valid - {c.hash for c in new})
        for chunk in _chunks(older):
            conn.execute(
                f"UPDATE transactions SET bundle_ok = 1 WHERE hash IN ({_marks(chunk)})",
                list(chunk),
            )
        if tails:  # every newly complete bundle is confirmed at once by a milestone: its tail
            _milestone, index = self._meta(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'milestone'", (tails[-1],))
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'milestone_index'", (str(index + 1),)
            )
