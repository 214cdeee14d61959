"""Attach a bundle: tips from the node, proof of work here or on the node.

The choice of proof of work is a strategy, kept out of the node client:
``"local"`` searches the nonces on this machine
(:func:`iota_publisher.pow.attach_to_tangle`), ``"remote"`` asks the node's
``attachToTangle`` and checks its answer before anything uses it (a node
that skips the work, or hands back other transactions, is caught here), and
any callable ``(node, trunk, branch, mwm, trytes) -> attached trytes`` is
used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from . import pow as _pow
from .errors import InvalidInputError, InvalidNodeResponseError, ProtocolError
from .protocol import invalid_input, iri

__all__ = ["POW_STRATEGIES", "Attacher", "attach", "local_pow", "remote_pow"]


class Attacher(Protocol):
    """A proof-of-work strategy: the attached trytes of a bundle (highest index first in)."""

    def __call__(
        self, node: Any, trunk: str, branch: str, mwm: int, trytes: Sequence[str]
    ) -> list[str]: ...


def local_pow(
    threads: int | None = None,
    timeout: float | None = None,
    now: Callable[[], int] | None = None,
) -> Callable[[Any, str, str, int, Sequence[str]], list[str]]:
    """Proof of work on this machine, with ``threads``, a per-transaction ``timeout``
    and ``now()`` (ms) for the attachment timestamps (the system clock if ``None``)."""

    def run(node: Any, trunk: str, branch: str, mwm: int, trytes: Sequence[str]) -> list[str]:
        return _pow.attach_to_tangle(
            trunk, branch, mwm, trytes, threads=threads, timeout=timeout, now=now
        )

    return run


def remote_pow(node: Any, trunk: str, branch: str, mwm: int, trytes: Sequence[str]) -> list[str]:
    """The node's ``attachToTangle``, its answer checked: the transactions sent, one
    consistent bundle chained on ``trunk`` and ``branch``, each hash with at
    least ``mwm`` trailing zero trits and a nonce that is not all ``9``.
    A bad answer is an :class:`~iota_publisher.errors.InvalidNodeResponseError`."""
    attached = node.attach_to_tangle(trunk, branch, mwm, trytes)
    try:
        iri.check_attached(attached, trunk, branch, mwm)
    except ProtocolError as exc:
        raise InvalidNodeResponseError(
            f"{iri.ATTACH_TO_TANGLE} failed: invalid answer from {node!r}: {exc}",
            command=iri.ATTACH_TO_TANGLE,
            status=200,
        ) from None
    return attached


POW_STRATEGIES = ("local", "remote")


def attach(
    node: Any,
    trytes: Sequence[str],
    *,
    depth: int = 3,
    mwm: int = 9,
    pow: str | Attacher = "local",
    threads: int | None = None,
    timeout: float | None = None,
    now: Callable[[], int] | None = None,
) -> list[str]:
    """Attach bundle ``trytes`` (highest index first) to tips the node chooses.

    ``pow="local"``: the nonces are searched here (with ``threads``, a
    per-transaction ``timeout``, and ``now()`` in ms stamping the attachment,
    by default the system clock); ``pow="remote"``: by the node's
    ``attachToTangle`` (:func:`remote_pow`; ``threads``, ``timeout`` and
    ``now`` are then unused: the node stamps); or a strategy of your own
    (:class:`Attacher`). Returns the
    attached trytes, tail first, ready for ``node.store_and_broadcast``.
    """
    strategy: Attacher
    if pow == "local":
        strategy = local_pow(threads, timeout, now)
    elif pow == "remote":
        strategy = remote_pow
    elif callable(pow) and not isinstance(pow, str):
        strategy = pow
    else:
        raise InvalidInputError(f"pow must be 'local' or 'remote', not {pow!r}", field="pow")
    try:
        checked = iri.transaction_list(trytes)
        iri.mwm(mwm, "mwm")
    except ProtocolError as exc:
        raise invalid_input(exc) from exc
    trunk, branch = node.get_transactions_to_approve(depth)
    return strategy(node, trunk, branch, mwm, checked)
