"""A small client for the legacy IRI node HTTP API.

Every command is ``POST <url>`` with a JSON body ``{"command": ..., **params}``
and the header ``X-IOTA-API-Version: 1``; answers are JSON objects.

>>> with NodeClient("https://node.example:14265") as node:  # doctest: +SKIP
...     attached = attach(node, bundle_trytes, mwm=14)
...     node.store_and_broadcast(attached)

The requests and the checks of their answers are those of
:mod:`iota_publisher.protocol.iri`; HTTP goes through :mod:`iota_publisher._http`
(bounded time and size, no redirects). :func:`attach` (proof of work, local
or by the node) lives in :mod:`iota_publisher.attaching` and is re-exported here.

Failures come out as :class:`~iota_publisher.errors.NodeError` subclasses:
:class:`NodeUnavailableError` (no connection, timeout, HTTP 5xx, 408 or 429;
these are retried per the client's :class:`RetryPolicy` first),
:class:`NodeRejectedError` (other 4xx) and :class:`InvalidNodeResponseError`
(an answer that does not keep the API's promises). Bad arguments raise
:class:`InvalidInputError` before anything is sent. A client is not meant to
be shared between threads (neither is its ``requests`` session).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from ._http import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    Failure,
    HttpClient,
    RetryPolicy,
    clip,
    is_transient_status,
    scrub,
)
from .attaching import attach
from .errors import (
    ConfigError,
    InvalidNodeResponseError,
    NodeError,
    NodeRejectedError,
    NodeUnavailableError,
    ProtocolError,
)
from .protocol import invalid_input, iri

__all__ = ["NodeClient", "attach"]

log = logging.getLogger(__name__)

HASH_LENGTH = iri.HASH_LENGTH  # trytes of a hash or an address (without checksum)
TAG_LENGTH = iri.TAG_LENGTH
MAX_MWM = iri.MAX_MWM
# the client's argument names where they differ from the wire's
_ARGUMENTS = {
    "trunkTransaction": "trunk",
    "branchTransaction": "branch",
    "minWeightMagnitude": "mwm",
}


@contextmanager
def _arguments() -> Iterator[None]:
    """Turn a failed protocol check of the caller's arguments into an InvalidInputError."""
    try:
        yield
    except ProtocolError as exc:
        raise invalid_input(exc, _ARGUMENTS) from exc


class NodeClient(HttpClient):
    """Talk to one IRI node at ``url`` (``http`` or ``https``).

    ``session`` defaults to a new one with this package's User-Agent (closed
    by :meth:`close`; a session passed in is left open). ``timeout`` bounds
    connecting, each read, and the whole answer, in seconds. Transient
    failures are retried per ``retry_policy``, waiting with ``sleep`` (by
    default a wait that :meth:`interrupt` ends); ``rng`` draws the jitter.
    TLS certificates are always verified: a session's CA bundle path is
    honoured, its ``verify=False`` is not. Redirects are refused.
    """

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self._display_url = _public_url(url)
        super().__init__(
            session=session, timeout=timeout, retry_policy=retry_policy, sleep=sleep, rng=rng
        )

    def __repr__(self) -> str:
        return f"NodeClient({self._display_url!r})"

    # -- the HTTP boundary ---------------------------------------------------

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        """Run one API command (retrying transient failures); return the answer object."""
        with _arguments():
            body = iri.encode({"command": command, **params})
        return self._call(command, body)

    def _send(self, request: dict[str, Any], count: int = 0) -> dict[str, Any]:
        """Run a request built by :mod:`iota_publisher.protocol.iri`."""
        command = request["command"]
        with _arguments():
            body = iri.encode(request)
        return self._call(command, body, iri.answer_limit(command, count))

    def _call(self, command: str, body: bytes, limit: int | None = None) -> dict[str, Any]:
        max_bytes = iri.answer_limit(command) if limit is None else limit
        return self._retry(
            lambda: self._post(command, body, max_bytes),
            what=f"{command} at {self._display_url}",
        )

    def _post(self, command: str, body: bytes, max_bytes: int) -> dict[str, Any]:
        """One request; every failure and bad answer is mapped here."""
        started = time.monotonic()
        try:
            answer = self._exchange(
                "POST",
                self.url,
                fail=partial(self._failure, command),
                max_bytes=max_bytes,
                data=body,
                headers=iri.HEADERS,
            )
        finally:
            elapsed = time.monotonic() - started
            log.debug("%s at %s took %.3f s", command, self._display_url, elapsed)
        status = answer.status
        data: Any = None
        cause: ValueError | None = None
        try:
            data = answer.json()
        except ValueError as exc:  # not JSON; the body's start goes into ``text``
            cause = exc
        error = iri.error_of(data)
        if 200 <= status < 300 and isinstance(data, dict) and error is None:
            return data
        text = (clip(scrub(error, answer.secrets)) if error is not None else answer.text()) or None
        cls: type[NodeError] = InvalidNodeResponseError
        if is_transient_status(status):
            cls, reason = NodeUnavailableError, f"HTTP {status}"
        elif 400 <= status < 500:
            cls, reason = NodeRejectedError, f"HTTP {status}"
        elif not 200 <= status < 300:
            reason = f"unexpected HTTP {status}"
        elif error is not None:
            reason = f"HTTP {status} with an error"
        else:
            reason = "answer is not JSON" if cause else "answer is not a JSON object"
        raise self._error(
            cls, f"{reason}: {text}" if text else reason, status, text, command=command
        ) from cause

    def _failure(self, command: str, failure: Failure) -> NodeError:
        """A request that brought no usable answer."""
        cls: type[NodeError]
        if failure.kind == "timeout":
            cls, reason = NodeUnavailableError, failure.reason
        elif failure.kind in ("connection", "tls"):  # a TLS failure may be a clock not yet set
            cls, reason = NodeUnavailableError, f"connection failed ({failure.name})"
        elif failure.kind == "decoding":
            cls, reason = InvalidNodeResponseError, "answer could not be decoded"
        elif failure.kind in ("redirect", "too_large"):
            cls, reason = InvalidNodeResponseError, failure.reason
        else:
            cls, reason = NodeError, f"request failed ({failure.name})"
        return self._error(cls, reason, failure.status, command=command)

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

    def _check(self, command: str, check: Callable[..., Any], *args: Any) -> Any:
        """Run an answer check of :mod:`iota_publisher.protocol.iri`."""
        try:
            return check(*args)
        except ProtocolError as exc:
            raise self._invalid(command, str(exc)) from None

    # -- commands ------------------------------------------------------------

    def get_node_info(self) -> dict[str, Any]:
        """The node's ``getNodeInfo`` answer, as it is."""
        return self._send(iri.get_node_info())

    def get_transactions_to_approve(
        self, depth: int = 3, reference: str | None = None
    ) -> tuple[str, str]:
        """Tips to attach to: ``(trunk, branch)``."""
        with _arguments():
            request = iri.get_transactions_to_approve(depth, reference)
        answer = self._send(request)
        return self._check(iri.GET_TRANSACTIONS_TO_APPROVE, iri.tips_answer, answer)

    def attach_to_tangle(
        self, trunk: str, branch: str, mwm: int, trytes: Sequence[str]
    ) -> list[str]:
        """Proof of work on the node; returns the attached trytes as the node orders them.

        The answer must hold as many transactions as were sent, and the same
        ones (every field before ``trunkTransaction`` unchanged). The proof of
        work itself is checked by :func:`iota_publisher.attaching.attach`.
        """
        with _arguments():
            request = iri.attach_to_tangle(trunk, branch, mwm, trytes)
        sent = request["trytes"]
        answer = self._send(request, len(sent))
        return self._check(iri.ATTACH_TO_TANGLE, iri.attach_answer, answer, sent)

    def store_transactions(self, trytes: Sequence[str]) -> None:
        """Store attached transactions on the node."""
        with _arguments():
            request = iri.store_transactions(trytes)
        self._send(request)

    def broadcast_transactions(self, trytes: Sequence[str]) -> None:
        """Send attached transactions to the node's neighbours."""
        with _arguments():
            request = iri.broadcast_transactions(trytes)
        self._send(request)

    def store_and_broadcast(self, trytes: Sequence[str]) -> None:
        """``storeTransactions`` then ``broadcastTransactions``, as the reference libraries do."""
        with _arguments():
            checked = iri.transaction_list(trytes)
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
        with _arguments():
            request = iri.find_transactions(
                addresses=addresses, bundles=bundles, tags=tags, approvees=approvees
            )
        answer = self._send(request)
        return self._check(iri.FIND_TRANSACTIONS, iri.tryte_field, answer, "hashes", HASH_LENGTH)

    def get_trytes(self, hashes: Sequence[str]) -> list[str]:
        """Transaction trytes, in the order of ``hashes``.

        IRI answers all-``9`` trytes for a hash it does not know; they are
        returned as they are.
        """
        with _arguments():
            request = iri.get_trytes(hashes)
        count = len(request["hashes"])
        answer = self._send(request, count)
        return self._check(
            iri.GET_TRYTES, iri.tryte_field, answer, "trytes", iri.TRANSACTION_LENGTH, count
        )

    def check_consistency(self, tails: Sequence[str]) -> tuple[bool, str | None]:
        """Whether the tails are consistent (safe to approve): ``(state, info)``."""
        with _arguments():
            request = iri.check_consistency(tails)
        answer = self._send(request)
        return self._check(iri.CHECK_CONSISTENCY, iri.consistency_answer, answer)


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
