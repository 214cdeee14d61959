"""A small client for the legacy IRI node HTTP API.

Every command is ``POST <url>`` with a JSON body ``{"command": ..., **params}``
and the header ``X-IOTA-API-Version: 1``; answers are JSON objects.

>>> with NodeClient("https://node.example:14265") as node:  # doctest: +SKIP
...     attached = attach(node, bundle_trytes, mwm=14)
...     node.store_and_broadcast(attached)

Failures come out as :class:`~iota_publisher.errors.NodeError` subclasses:
:class:`NodeUnavailableError` (no connection, timeout, HTTP 5xx or 429; these
are retried per the client's :class:`RetryPolicy` first),
:class:`NodeRejectedError` (other 4xx) and :class:`InvalidNodeResponseError`
(an answer that does not keep the API's promises). Bad arguments raise
:class:`InvalidInputError` before anything is sent. A client is not meant to
be shared between threads (neither is its ``requests`` session).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from . import pow as _pow
from ._http import DEFAULT_RETRY, DEFAULT_TIMEOUT, HttpClient, RetryPolicy, retry
from .errors import (
    ConfigError,
    InvalidInputError,
    InvalidNodeResponseError,
    NodeError,
    NodeRejectedError,
    NodeUnavailableError,
)
from .trinary._codec import is_trytes, pad_trytes, validate_trytes
from .trinary.transaction import OFFSETS, TRANSACTION_LENGTH

__all__ = ["NodeClient", "attach"]

log = logging.getLogger(__name__)

HASH_LENGTH = 81  # trytes of a hash or an address (without checksum)
TAG_LENGTH = 27
MAX_MWM = 243
_TEXT_LIMIT = 500  # characters of a node's error text kept in exceptions
_HEADERS = {"Content-Type": "application/json", "X-IOTA-API-Version": "1"}
# attachToTangle leaves a transaction alone up to its trunk field
_UNCHANGED_BY_ATTACH = OFFSETS["trunk_transaction"][0]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."


def _check_int(value: object, field: str, low: int, high: int | None = None) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise InvalidInputError(f"{field} must be an int {bounds}, not {value!r}", field=field)
    return value


def _tryte_list(
    values: object, field: str, length: int | None, max_length: int | None = None
) -> list[str]:
    """Check a non-empty list of tryte strings (each of ``length``, or at most ``max_length``)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise InvalidInputError(f"{field} must be a list of tryte strings", field=field)
    if not values:
        raise InvalidInputError(f"{field} must not be empty", field=field)
    return [
        validate_trytes(v, f"{field}[{i}]", length=length, max_length=max_length)
        for i, v in enumerate(values)
    ]


class NodeClient(HttpClient):
    """Talk to one IRI node at ``url`` (``http`` or ``https``).

    ``session`` defaults to a new one with this package's User-Agent (closed
    by :meth:`close`; a session passed in is left open). ``timeout`` bounds
    connecting and each read, in seconds. Transient failures are retried per
    ``retry_policy``, waiting with ``sleep``; ``rng`` draws the jitter. TLS
    certificates are always verified: a session's CA bundle path is honoured,
    its ``verify=False`` is not.
    """

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self._display_url = _public_url(url)
        super().__init__(
            session=session, timeout=timeout, retry_policy=retry_policy, sleep=sleep, rng=rng
        )
        self._timeout = (self._timeout_seconds, self._timeout_seconds)

    def __repr__(self) -> str:
        return f"NodeClient({self._display_url!r})"

    # -- the HTTP boundary ---------------------------------------------------

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        """Run one API command (retrying transient failures); return the answer object."""
        try:
            body = json.dumps({"command": command, **params}).encode("ascii")
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"{command} parameters are not JSON: {exc}", field="params"
            ) from exc
        return retry(
            lambda: self._post(command, body),
            self._retry_policy,
            what=f"{command} at {self._display_url}",
            sleep=self._sleep,
            rng=self._rng,
        )

    def _post(self, command: str, body: bytes) -> dict[str, Any]:
        """One request; every ``requests`` failure and bad answer is mapped here."""
        fail = partial(self._error, command=command)
        started = time.monotonic()
        try:
            response = self._session.post(
                self.url, data=body, headers=_HEADERS, timeout=self._timeout, verify=self._verify
            )
        except requests.Timeout as exc:
            raise fail(NodeUnavailableError, f"timed out ({type(exc).__name__})") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise fail(NodeUnavailableError, f"connection failed ({type(exc).__name__})") from exc
        except requests.exceptions.ContentDecodingError as exc:
            raise fail(InvalidNodeResponseError, "answer could not be decoded") from exc
        except requests.RequestException as exc:
            raise fail(NodeError, f"request failed ({type(exc).__name__})") from exc
        finally:
            elapsed = time.monotonic() - started
            log.debug("%s at %s took %.3f s", command, self._display_url, elapsed)
        status = response.status_code
        answer: Any = None
        cause: ValueError | None = None
        try:
            answer = response.json()
        except ValueError as exc:  # not JSON; the body's start goes into ``text``
            cause = exc
        error = answer.get("error", answer.get("exception")) if isinstance(answer, dict) else None
        if 200 <= status < 300 and isinstance(answer, dict) and error is None:
            return answer
        text = _clip(str(error) if error is not None else response.text) or None
        cls: type[NodeError] = InvalidNodeResponseError
        if status == 429 or status >= 500:
            cls, reason = NodeUnavailableError, f"HTTP {status}"
        elif 400 <= status < 500:
            cls, reason = NodeRejectedError, f"HTTP {status}"
        elif not 200 <= status < 300:
            reason = f"unexpected HTTP {status}"
        elif error is not None:
            reason = f"HTTP {status} with an error"
        else:
            reason = "answer is not JSON" if cause else "answer is not a JSON object"
        raise fail(cls, f"{reason}: {text}" if text else reason, status, text) from cause

    def _error(
        self,
        cls: type[NodeError],
        reason: str,
        status: int | None = None,
        text: str | None = None,
        *,
        command: str,
    ) -> NodeError:
        message = f"{command} failed at {self._display_url}: {reason}"
        return cls(message, command=command, status=status, text=text)

    def _invalid(self, command: str, what: str) -> NodeError:
        """A 2xx JSON object without the fields the command promises."""
        reason = f"invalid answer: {what}"
        return self._error(InvalidNodeResponseError, reason, 200, command=command)

    def _tryte_field(
        self, answer: dict[str, Any], command: str, key: str, length: int, count: int | None = None
    ) -> list[str]:
        value = answer.get(key)
        if not (isinstance(value, list) and all(is_trytes(v, length) for v in value)):
            raise self._invalid(command, f"{key!r} must be a list of {length}-tryte strings")
        if count is not None and len(value) != count:
            raise self._invalid(command, f"{key!r} holds {len(value)} entries, not {count}")
        return value

    # -- commands ------------------------------------------------------------

    def get_node_info(self) -> dict[str, Any]:
        """The node's ``getNodeInfo`` answer, as it is."""
        return self.call("getNodeInfo")

    def get_transactions_to_approve(
        self, depth: int = 3, reference: str | None = None
    ) -> tuple[str, str]:
        """Tips to attach to: ``(trunk, branch)``."""
        params: dict[str, Any] = {"depth": _check_int(depth, "depth", 1)}
        if reference is not None:
            params["reference"] = validate_trytes(reference, "reference", length=HASH_LENGTH)
        command = "getTransactionsToApprove"
        answer = self.call(command, **params)
        tips = []
        for key in ("trunkTransaction", "branchTransaction"):
            value = answer.get(key)
            if not is_trytes(value, HASH_LENGTH):
                raise self._invalid(command, f"{key!r} must be an 81-tryte hash")
            tips.append(value)
        return tips[0], tips[1]

    def attach_to_tangle(
        self, trunk: str, branch: str, mwm: int, trytes: Sequence[str]
    ) -> list[str]:
        """Proof of work on the node; returns the attached trytes as the node orders them.

        The answer must hold as many transactions as were sent, and the same
        ones (every field before ``trunkTransaction`` unchanged).
        """
        validate_trytes(trunk, "trunk", length=HASH_LENGTH)
        validate_trytes(branch, "branch", length=HASH_LENGTH)
        sent = _tryte_list(trytes, "trytes", TRANSACTION_LENGTH)
        command = "attachToTangle"
        answer = self.call(
            command,
            trunkTransaction=trunk,
            branchTransaction=branch,
            minWeightMagnitude=_check_int(mwm, "mwm", 1, MAX_MWM),
            trytes=sent,
        )
        attached = self._tryte_field(answer, command, "trytes", TRANSACTION_LENGTH, len(sent))
        cut = _UNCHANGED_BY_ATTACH
        if Counter(t[:cut] for t in attached) != Counter(t[:cut] for t in sent):
            raise self._invalid(command, "'trytes' are not the transactions sent")
        return attached

    def store_transactions(self, trytes: Sequence[str]) -> None:
        """Store attached transactions on the node."""
        self.call("storeTransactions", trytes=_tryte_list(trytes, "trytes", TRANSACTION_LENGTH))

    def broadcast_transactions(self, trytes: Sequence[str]) -> None:
        """Send attached transactions to the node's neighbours."""
        self.call("broadcastTransactions", trytes=_tryte_list(trytes, "trytes", TRANSACTION_LENGTH))

    def store_and_broadcast(self, trytes: Sequence[str]) -> None:
        """``storeTransactions`` then ``broadcastTransactions``, as the reference libraries do."""
        checked = _tryte_list(trytes, "trytes", TRANSACTION_LENGTH)
        self.store_transactions(checked)
        self.broadcast_transactions(checked)

    def find_transactions(
        self,
        *,
        addresses: Sequence[str] | None = None,
        bundles: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        approvees: Sequence[str] | None = None,
    ) -> list[str]:
        """Hashes of transactions matching any of the given values (at least one list).

        Addresses are 81 trytes, without checksum; tags up to 27 trytes,
        sent padded with ``9``.
        """
        params: dict[str, list[str]] = {}
        hashes = {"addresses": addresses, "bundles": bundles, "approvees": approvees}
        for field, values in hashes.items():
            if values is not None:
                params[field] = _tryte_list(values, field, HASH_LENGTH)
        if tags is not None:
            checked = _tryte_list(tags, "tags", None, TAG_LENGTH)
            params["tags"] = [pad_trytes(t, TAG_LENGTH) for t in checked]
        if not params:
            raise InvalidInputError(
                "find_transactions needs addresses, bundles, tags or approvees", field="addresses"
            )
        command = "findTransactions"
        return self._tryte_field(self.call(command, **params), command, "hashes", HASH_LENGTH)

    def get_trytes(self, hashes: Sequence[str]) -> list[str]:
        """Transaction trytes, in the order of ``hashes``.

        IRI answers all-``9`` trytes for a hash it does not know; they are
        returned as they are.
        """
        checked = _tryte_list(hashes, "hashes", HASH_LENGTH)
        command = "getTrytes"
        answer = self.call(command, hashes=checked)
        return self._tryte_field(answer, command, "trytes", TRANSACTION_LENGTH, len(checked))

    def check_consistency(self, tails: Sequence[str]) -> tuple[bool, str | None]:
        """Whether the tails are consistent (safe to approve): ``(state, info)``."""
        command = "checkConsistency"
        answer = self.call(command, tails=_tryte_list(tails, "tails", HASH_LENGTH))
        state, info = answer.get("state"), answer.get("info")
        if not isinstance(state, bool):
            raise self._invalid(command, "'state' must be a boolean")
        if info is not None and not isinstance(info, str):
            raise self._invalid(command, "'info' must be a string")
        return state, info


def _public_url(url: object) -> str:
    """Check ``url``; return it without userinfo, query or fragment, for messages and logs."""
    if not isinstance(url, str):
        raise ConfigError(f"node URL must be a string, not {type(url).__name__}", field="provider")
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number in 0..65535
        host = port = None
    if parts.scheme not in ("http", "https") or not host:
        shown = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        raise ConfigError(
            f"node URL must be http(s)://host[:port], not {shown!r}", field="provider"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def attach(
    node: NodeClient,
    trytes: Sequence[str],
    *,
    depth: int = 3,
    mwm: int = 9,
    pow: str = "local",
    threads: int | None = None,
    timeout: float | None = None,
) -> list[str]:
    """Attach bundle ``trytes`` (highest index first) to tips the node chooses.

    With ``pow="local"`` the nonces are searched here
    (:func:`iota_publisher.pow.attach_to_tangle`, with ``threads`` and a
    per-transaction ``timeout``); with ``pow="remote"`` by the node's
    ``attachToTangle`` (``threads`` and ``timeout`` are then unused). Returns
    the attached trytes, tail first, ready for :meth:`NodeClient.store_and_broadcast`.
    """
    if pow not in ("local", "remote"):
        raise InvalidInputError(f"pow must be 'local' or 'remote', not {pow!r}", field="pow")
    checked = _tryte_list(trytes, "trytes", TRANSACTION_LENGTH)
    _check_int(mwm, "mwm", 1, MAX_MWM)
    trunk, branch = node.get_transactions_to_approve(depth)
    if pow == "remote":
        return node.attach_to_tangle(trunk, branch, mwm, checked)
    return _pow.attach_to_tangle(trunk, branch, mwm, checked, threads=threads, timeout=timeout)
