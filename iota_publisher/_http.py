"""What the HTTP clients share: sessions, timeouts, and retrying transient failures.

Clients map every ``requests`` failure to this package's exceptions at one
boundary; failures that may pass (connection errors, timeouts, 5xx, 429) are
:class:`~iota_publisher.errors.TransientError` and :func:`retry` tries them
again with capped exponential backoff and jitter. Everything else is raised
at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from ._version import __version__
from .errors import InvalidInputError, TransientError

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "USER_AGENT",
    "HttpClient",
    "RetryPolicy",
    "new_session",
    "retry",
]

log = logging.getLogger(__name__)

USER_AGENT = f"iota-publisher/{__version__}"
DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each read

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    ``attempts`` counts every try (1 = no retry). The n-th wait is
    ``min(max_delay, base_delay * 2**n)``, shortened by up to ``jitter``
    (a fraction) at random so that many devices do not retry in step.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidInputError("retry attempts must be at least 1", field="attempts")
        if self.base_delay < 0 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise InvalidInputError("retry delays must be >= 0 and jitter in 0..1", field="retry")

    def delay(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry ``retry_number`` (0-based)."""
        capped = min(self.max_delay, self.base_delay * 2**retry_number)
        return capped * (1 - self.jitter * rng())


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def retry(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Run ``call``; on a :class:`TransientError`, wait and try again per ``policy``.

    ``what`` names the operation in log lines (never put secrets in it).
    The last transient error is raised when the attempts are used up.
    """
    for attempt in range(policy.attempts):
        try:
            return call()
        except TransientError as exc:
            if attempt + 1 >= policy.attempts:
                raise
            wait = policy.delay(attempt, rng)
            log.warning(
                "%s failed (%s); retry %d of %d in %.1f s",
                what,
                exc,
                attempt + 1,
                policy.attempts - 1,
                wait,
            )
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def new_session() -> requests.Session:
    """A session with this package's User-Agent (TLS verification stays on)."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class HttpClient:
    """What the node and marketplace clients share: the session they own (or
    were given), TLS verification that cannot be switched off, a validated
    timeout, and the retry seams (``sleep``, ``rng``)."""

    def __init__(
        self,
        *,
        session: requests.Session | None,
        timeout: float,
        retry_policy: RetryPolicy,
        sleep: Callable[[float], None],
        rng: Callable[[], float],
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidInputError(
                f"timeout must be a positive number, not {timeout!r}", field="timeout"
            )
        self._timeout_seconds = float(timeout)
        self._retry_policy = retry_policy
        self._sleep = sleep
        self._rng = rng
        self._owns_session = session is None
        self._session = new_session() if session is None else session
        verify = self._session.verify  # a CA bundle path is honoured, verify=False is not
        self._verify: bool | str = verify if isinstance(verify, str) else True

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session:
            self._session.close()
