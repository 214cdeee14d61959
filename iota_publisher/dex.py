"""A client for the HAT Data Exchange (DEX): offers, claims, and the pure check of
whether a device can satisfy an offer (:func:`satisfiable`).

Shapes are those of :mod:`iota_publisher.protocol.dex`; HTTP goes through
:mod:`iota_publisher._http`. Failures are :class:`~iota_publisher.errors.DexError`
subclasses: :class:`DexUnavailableError` (transient), :class:`DexAuthError`
(401/403), :class:`DexRejectedError` (other 4xx), :class:`InvalidDexResponseError`.

A HAT claims an offer with a token it issued for DEX
(:meth:`iota_publisher.hat.HatClient.application_token`); an offer's owner (an
account with the ``MarketPlace`` role) logs in with ``username``/``password``
to create offers, register claims and read the claims with their credentials.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

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
from .errors import (
    DexAuthError,
    DexError,
    DexRejectedError,
    DexUnavailableError,
    InvalidDexResponseError,
    InvalidInputError,
    OfferNotClaimableError,
    ProtocolError,
)
from .protocol import dex as _dex
from .protocol.dex import Claim, Credentials, Offer, Verdict, satisfiable
from .protocol.hat import TOKEN_HEADER

__all__ = [
    "Claim",
    "Credentials",
    "DexAuthError",
    "DexClient",
    "DexError",
    "DexRejectedError",
    "DexUnavailableError",
    "InvalidDexResponseError",
    "Offer",
    "OfferNotClaimableError",
    "Verdict",
    "satisfiable",
]

log = logging.getLogger(__name__)

_ANSWER_LIMIT = 10_000_000


class _Answer(NamedTuple):
    status: int
    data: Any
    text: str | None


def _base_url(url: object) -> str:
    if not isinstance(url, str):
        raise InvalidInputError("url must be a URL string", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"url must be an http(s) URL, not {url!r:.80}", field="url")
    return url.rstrip("/")


def _id(value: object, name: str = "offer_id") -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidInputError(f"{name} must be a non-empty string", field=name)
    return quote(value, safe="")


class DexClient(HttpClient):
    """Talk to DEX at ``url``. ``username``/``password`` (an offer owner's account) are
    needed only for the owner's calls. Reads and claims are retried on transient
    failures (a claim repeated answers the same claim); creating an offer is sent once."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.url = _base_url(url)
        if (username is None) != (password is None):
            raise InvalidInputError("give both username and password", field="password")
        self.username = username
        self._password = password
        self._token: str | None = None
        super().__init__(
            session=session, timeout=timeout, retry_policy=retry_policy, sleep=sleep, rng=rng
        )

    def __repr__(self) -> str:
        return f"DexClient({self.url!r})"

    def _send(
        self,
        method: str,
        path: str,
        call: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> _Answer:
        def fail(
            cls: type[DexError], reason: str, status: int | None = None, text: str | None = None
        ) -> DexError:
            return cls(f"DEX {call} failed: {reason}", call=call, status=status, text=text)

        def transport(failure: Failure) -> DexError:
            if failure.kind in ("timeout", "connection"):
                return fail(DexUnavailableError, failure.reason)
            if failure.kind in ("redirect", "too_large", "decoding"):
                return fail(InvalidDexResponseError, failure.reason, failure.status)
            return fail(DexError, failure.reason)

        masked = tuple(s for s in (*secrets, self._password, self._token) if s)
        answer = self._exchange(
            method,
            self.url + path,
            fail=transport,
            max_bytes=_ANSWER_LIMIT,
            params=params,
            json=body,
            headers=headers,
            secrets=masked,
        )
        status = answer.status
        log.debug("DEX %s %s: HTTP %d", method, call, status)
        try:
            data = answer.json()
        except ValueError:
            data, bad = None, True
        else:
            bad = False
        text = answer.text() or None
        if isinstance(data, dict):
            said = data.get("message") or data.get("error")
            cause = data.get("cause")
            if isinstance(said, str):
                if isinstance(cause, str) and cause and cause != said:
                    said = f"{said}: {cause}"
                text = clip(scrub(said, answer.secrets))
        said = f": {text}" if text else ""
        if status in (401, 403):
            raise fail(DexAuthError, f"HTTP {status}{said}", status, text)
        if is_transient_status(status):
            raise fail(DexUnavailableError, f"HTTP {status}{said}", status, text)
        if 400 <= status < 500:
            raise fail(DexRejectedError, f"HTTP {status}{said}", status, text)
        if not 200 <= status < 300:
            raise fail(InvalidDexResponseError, f"unexpected HTTP {status}", status)
        if bad:
            raise fail(InvalidDexResponseError, "the answer is not JSON", status, text)
        return _Answer(status, data, None if call in ("login", "claims") else text)

    def _invalid(self, call: str, answer: _Answer, exc: Exception) -> InvalidDexResponseError:
        return InvalidDexResponseError(
            f"DEX {call} failed: invalid answer: {exc}",
            call=call,
            status=answer.status,
            text=answer.text,
        )

    def _once_or_retried(self, call: Callable[[], _Answer], what: str, retried: bool) -> _Answer:
        return self._retry(call, what=f"DEX {what}", retried=retried)

    # -- the owner's account -------------------------------------------------------------

    def login(self) -> str:
        """Log in (``GET /api/users/access_token``, credentials in headers)."""
        if self.username is None or self._password is None:
            raise DexAuthError("DEX login failed: no username and password", call="login")
        headers = {"username": self.username, "password": self._password}
        answer = self._once_or_retried(
            lambda: self._send("GET", _dex.ACCESS_TOKEN_PATH, "login", headers=headers),
            "login",
            True,
        )
        token = answer.data.get("accessToken") if isinstance(answer.data, dict) else None
        if not isinstance(token, str) or not token:
            raise InvalidDexResponseError(
                "DEX login failed: invalid answer: no accessToken",
                call="login",
                status=answer.status,
            )
        self._token = token
        return token

    def _owner(
        self, method: str, path: str, call: str, *, retried: bool = True, **kw: Any
    ) -> _Answer:
        def once() -> _Answer:
            token = self._token or self.login()
            try:
                return self._send(method, path, call, headers={TOKEN_HEADER: token}, **kw)
            except DexAuthError as exc:
                if exc.status != 401 or self._password is None:
                    raise
                self._token = None
                token = self.login()
                return self._send(method, path, call, headers={TOKEN_HEADER: token}, **kw)

        return self._once_or_retried(once, call, retried)

    # -- public calls --------------------------------------------------------------------

    def register_hat(self, address: str) -> None:
        """Make a HAT known to DEX (``POST /api/users/registerHat {hatAddress}``): DEX
        fetches its public key to verify the tokens it issues."""
        if not isinstance(address, str) or not address:
            raise InvalidInputError("address must be a HAT address", field="address")
        self._once_or_retried(
            lambda: self._send(
                "POST", _dex.REGISTER_HAT_PATH, "registerHat", body={"hatAddress": address}
            ),
            "registerHat",
            True,
        )

    def offers(self) -> list[Offer]:
        """Every offer (``GET /api/v2/offers``)."""
        answer = self._once_or_retried(
            lambda: self._send("GET", _dex.OFFERS_PATH, "offers"), "offers", True
        )
        try:
            return _dex.offers(answer.data)
        except ProtocolError as exc:
            raise self._invalid("offers", answer, exc) from None

    def offer(self, offer_id: str) -> Offer:
        """One offer with its status and claim count (``GET /api/v2/offer/{id}``)."""
        path = f"{_dex.OFFER_PATH}/{_id(offer_id)}"
        answer = self._once_or_retried(lambda: self._send("GET", path, "offer"), "offer", True)
        try:
            return _dex.offer(answer.data)
        except ProtocolError as exc:
            raise self._invalid("offer", answer, exc) from None

    def claim(self, offer_id: str, hat_token: str) -> Claim:
        """Claim an offer for the HAT that issued ``hat_token`` for DEX
        (``GET /api/v2/offer/{id}/claim``); DEX registers the data debit on the HAT."""
        if not isinstance(hat_token, str) or not hat_token:
            raise InvalidInputError("hat_token must be a token the HAT issued", field="hat_token")
        path = f"{_dex.OFFER_PATH}/{_id(offer_id)}/claim"
        answer = self._once_or_retried(
            lambda: self._send("GET", path, "claim", headers={TOKEN_HEADER: hat_token}),
            "claim",
            True,
        )
        try:
            return _dex.claim(answer.data)
        except ProtocolError as exc:
            raise self._invalid("claim", answer, exc) from None

    # -- the offer owner's calls -----------------------------------------------------------

    def create_offer(self, offer: Mapping[str, Any]) -> Offer:
        """Register an offer (``POST /api/v2/offer``; the ``MarketPlace`` role). Sent once."""
        try:
            checked = _dex.offer(dict(offer))
        except ProtocolError as exc:
            raise InvalidInputError(f"offer: {exc}", field=exc.field) from None
        answer = self._owner(
            "POST", _dex.OFFER_PATH, "offer", body=checked.to_json(), retried=False
        )
        try:
            return _dex.offer(answer.data)
        except ProtocolError as exc:
            raise self._invalid("offer", answer, exc) from None

    def set_offer_status(self, offer_id: str, status: str) -> Offer:
        """``PUT /api/v2/offer/{id}?status=`` (``approved``, ``rejected``, ...)."""
        if status not in _dex.STATUSES:
            raise InvalidInputError(
                f"status must be one of {sorted(_dex.STATUSES)}", field="status"
            )
        path = f"{_dex.OFFER_PATH}/{_id(offer_id)}"
        answer = self._owner("PUT", path, "offer-status", params={"status": status})
        try:
            return _dex.offer(answer.data)
        except ProtocolError as exc:
            raise self._invalid("offer-status", answer, exc) from None

    def register_claim(self, offer_id: str, hat_address: str) -> Claim:
        """``PUT /api/v2/offer/{id}/registerClaim?hat=address`` (the offer's owner)."""
        _id(hat_address, "hat_address")
        path = f"{_dex.OFFER_PATH}/{_id(offer_id)}/registerClaim"
        answer = self._owner("PUT", path, "registerClaim", params={"hat": hat_address})
        try:
            return _dex.claim(answer.data)
        except ProtocolError as exc:
            raise self._invalid("registerClaim", answer, exc) from None

    def claims(self, offer_id: str) -> tuple[Credentials | None, list[Claim]]:
        """The offer's claims and the credentials for collecting the data
        (``GET /api/v2/offer/{id}/claims``; the offer's owner)."""
        path = f"{_dex.OFFER_PATH}/{_id(offer_id)}/claims"
        answer = self._owner("GET", path, "claims")
        try:
            return _dex.claims(answer.data)
        except ProtocolError as exc:
            raise self._invalid("claims", answer, exc) from None


def check_claimable(
    item: Offer, *, namespace: str, endpoint: str, field_ids: Any, now_ms: int
) -> Verdict:
    """:func:`satisfiable`, raising :class:`OfferNotClaimableError` when it is not."""
    verdict = satisfiable(
        item, namespace=namespace, endpoint=endpoint, field_ids=field_ids, now_ms=now_ms
    )
    if not verdict.ok:
        raise OfferNotClaimableError(
            f"offer {item.offer_id!r} cannot be claimed: {verdict.detail}",
            reason=verdict.reason,
            detail=verdict.detail,
        )
    return verdict
