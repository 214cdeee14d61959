"""A local HAT Data Exchange (DEX) for one machine, kept in SQLite.

Endpoints (errors are ``{"message", "cause"}``, as DEX answers them):

=========================================  ======  =============================================
``/api/users/access_token``                GET     headers ``username``, ``password`` ->
                                                   ``{accessToken}``; 401 otherwise
``/api/users/registerHat``                 POST    ``{hatAddress}``: DEX takes the HAT's public
                                                   key (the sandbox's own HAT only); 400 unknown
``/api/v2/offers``                         GET     every offer, with ``totalUserClaims``
``/api/v2/offer``                          POST    a new offer (``MarketPlace`` role); 201; 400
                                                   for a bad or taken ``offerId``
``/api/v2/offer/{id}``                     GET     one offer; PUT ``?status=approved|rejected``
                                                   (its owner)
``/api/v2/offer/{id}/claim``               GET     a claim by the HAT whose token (issued for
                                                   the application ``dex``) is ``X-Auth-Token``
``/api/v2/offer/{id}/registerClaim``       PUT     ``?hat=address``: a claim by the offer's owner
``/api/v2/offer/{id}/claims``              GET     the owner's: ``{credentials, claims}``
=========================================  ======  =============================================

A claim checks the offer (approved 400 ``rejected``; within ``starts`` and
``expires`` 400; at most ``requiredMaxUser`` HATs: 400 ``full``), registers a
data debit named after the offer on the HAT (its ``requiredData`` bundle, its
``dataConditions``, for ``collectionDuration`` from now) and gives the offer's
collecting login the ``DataDebitOwner`` role on it. The debit gives nothing
until the HAT's owner enables it; the claim is ``confirmed`` from then on. A
HAT claiming again gets its claim back. ``credentials`` are ``null`` until
``requiredMinUser`` claims are confirmed.

The demo buyer account (``buyer``, role ``MarketPlace``) has a random
password, kept in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import ProtocolError, PublisherError
from ..protocol import dex as _dex
from ..protocol import hat as _hat
from ._db import Database
from ._http import JsonServer, Request
from .hat import HatRefusal, SandboxHat

__all__ = ["BUYER", "DexRefusal", "PutJsonServer", "SandboxDex"]

log = logging.getLogger(__name__)

BUYER = "buyer"
TOKEN_TTL_MS = 24 * 3600 * 1000
_PBKDF2_ROUNDS = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    salt     BLOB NOT NULL,
    hash     BLOB NOT NULL,
    roles    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token      TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS hats (address TEXT PRIMARY KEY, public_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS offers (
    offer_id   TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    offer      TEXT NOT NULL,
    status     TEXT NOT NULL,
    login      TEXT NOT NULL,
    password   TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    offer_id       TEXT NOT NULL,
    address        TEXT NOT NULL,
    claimer_number INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL,
    PRIMARY KEY (offer_id, address)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class DexRefusal(PublisherError):
    """A refused request, answered ``{"message", "cause"}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_ERRORS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)


class PutJsonServer(JsonServer):
    """A :class:`JsonServer` that also routes PUT (DEX sets statuses and claims with it)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        base = self.RequestHandlerClass

        def do_PUT(handler: Any) -> None:
            handler._handle("PUT")

        self.RequestHandlerClass = type("PutHandler", (base,), {"do_PUT": do_PUT})


class SandboxDex:
    """DEX over the SQLite file at ``path``; ``hats`` finds the local HAT of an address."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hats: Callable[[str], SandboxHat | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._hats = hats
        self._clock = clock
        self._lock = threading.Lock()
        self.db = Database(path, _SCHEMA)
        try:
            self._ensure_buyer()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- accounts ------------------------------------------------------------------------

    def _ensure_buyer(self) -> None:
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'buyer_password'").fetchone():
                return
            password = secrets.token_urlsafe(18)
            conn.execute("INSERT INTO meta VALUES ('buyer_password', ?)", (password,))
            self._put_account(conn, BUYER, password, [_dex.MARKETPLACE_ROLE])

    @property
    def buyer_password(self) -> str:
        with self.db.connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'buyer_password'").fetchone()
        return str(row["value"])

    @staticmethod
    def _put_account(conn: Any, username: str, password: str, roles: list[str]) -> None:
        salt = secrets.token_bytes(16)
        conn.execute(
            "INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?)",
            (username, salt, _hash(password, salt), json.dumps(roles)),
        )

    def add_account(self, username: str, password: str, roles: list[str]) -> None:
        """Create (or replace) an account; ``["MarketPlace"]`` may register offers."""
        with self.db.write() as conn:
            self._put_account(conn, username, password, roles)

    def _login(self, request: Request) -> dict[str, Any]:
        username = request.headers.get("username") or ""
        password = request.headers.get("password") or ""
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT salt, hash FROM accounts WHERE username = ?", (username,)
            ).fetchone()
        if row is None or not hmac.compare_digest(_hash(password, row["salt"]), row["hash"]):
            raise DexRefusal(401, "Wrong username or password")
        token = secrets.token_urlsafe(32)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO tokens VALUES (?, ?, ?)",
                (token, username, self._now_ms() + TOKEN_TTL_MS),
            )
        return {"accessToken": token, "userId": username}

    def _account(self, request: Request) -> tuple[str, list[str]]:
        token = request.headers.get(_hat.TOKEN_HEADER)
        if not token:
            raise DexRefusal(401, "X-Auth-Token is missing")
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT a.username, a.roles, t.expires_ms FROM tokens t "
                "JOIN accounts a ON a.username = t.username WHERE t.token = ?",
                (token,),
            ).fetchone()
        if row is None or row["expires_ms"] <= self._now_ms():
            raise DexRefusal(401, "the token is not valid")
        return row["username"], json.loads(row["roles"])

    # -- HATs ----------------------------------------------------------------------------

    def _register_hat(self, request: Request) -> dict[str, Any]:
        body = _json_body(request)
        address = body.get("hatAddress")
        if not isinstance(address, str) or not address:
            raise DexRefusal(400, "hatAddress is missing")
        hat = self._hats(address)
        if hat is None:
            raise DexRefusal(400, f"no HAT answers at {address}")
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO hats VALUES (?, ?)", (address, hat.public_key))
        return {"message": f"HAT {address} registered"}

    def _hat_of_token(self, token: str | None) -> tuple[str, str]:
        """(address, public key) of the registered HAT that signed ``token`` for DEX."""
        import jwt

        if not token:
            raise DexRefusal(401, "X-Auth-Token is missing")
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise DexRefusal(401, "the token is not a HAT's") from None
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT public_key FROM hats WHERE address = ?", (issuer,)
            ).fetchone()
        if row is None:
            raise DexRefusal(401, "the token's HAT is not registered (registerHat)")
        try:
            claims = jwt.decode(
                token, row["public_key"], algorithms=["RS256"], options={"verify_exp": False}
            )
        except jwt.PyJWTError:
            raise DexRefusal(401, "the token's signature does not verify") from None
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= self._clock():
            raise DexRefusal(401, "the token has expired")
        if claims.get("application") != _dex.APPLICATION:
            raise DexRefusal(403, "the token was not issued for DEX")
        return str(issuer), str(row["public_key"])

    # -- offers --------------------------------------------------------------------------

    def _offer_row(self, offer_id: str) -> Any:
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM offers WHERE offer_id = ?", (offer_id,)).fetchone()
        if row is None:
            raise DexRefusal(404, f"no offer {offer_id}")
        return row

    def _claim_count(self, offer_id: str) -> int:
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT COUNT(*) AS n FROM claims WHERE offer_id = ?", (offer_id,)
            ).fetchone()
        return int(row["n"])

    def _offer_json(self, row: Any) -> dict[str, Any]:
        data = json.loads(row["offer"])
        data["status"] = row["status"]
        data["totalUserClaims"] = self._claim_count(row["offer_id"])
        return data

    def _create_offer(self, request: Request) -> tuple[int, Any]:
        username, roles = self._account(request)
        if _dex.MARKETPLACE_ROLE not in roles:
            raise DexRefusal(403, "registering offers needs the MarketPlace role")
        body = _json_body(request)
        body.pop("totalUserClaims", None)
        try:
            offer = _dex.offer(body)
        except ProtocolError as exc:
            raise DexRefusal(400, f"not a valid offer: {exc}") from None
        if offer.status not in _dex.STATUSES:
            raise DexRefusal(400, f"status must be one of {sorted(_dex.STATUSES)}")
        login = f"dex-{secrets.token_hex(6)}"
        with self._lock, self.db.write() as conn:
            if conn.execute(
                "SELECT 1 FROM offers WHERE offer_id = ?", (offer.offer_id,)
            ).fetchone():
                raise DexRefusal(400, f"offer {offer.offer_id} exists")
            conn.execute(
                "INSERT INTO offers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    offer.offer_id,
                    username,
                    json.dumps(offer.to_json()),
                    offer.status,
                    login,
                    secrets.token_urlsafe(18),
                    self._now_ms(),
                ),
            )
        return 201, self._offer_json(self._offer_row(offer.offer_id))

    def _set_status(self, request: Request, offer_id: str) -> dict[str, Any]:
        username, _ = self._account(request)
        row = self._offer_row(offer_id)
        if row["owner"] != username:
            raise DexRefusal(403, "only the offer's owner sets its status")
        status = request.query.get("status")
        if status not in _dex.STATUSES:
            raise DexRefusal(400, f"status must be one of {sorted(_dex.STATUSES)}")
        with self.db.write() as conn:
            conn.execute("UPDATE offers SET status = ? WHERE offer_id = ?", (status, offer_id))
        return self._offer_json(self._offer_row(offer_id))

    # -- claims --------------------------------------------------------------------------

    def _claim_json(self, offer_id: str, address: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT c.*, h.public_key FROM claims c LEFT JOIN hats h ON h.address = c.address "
                "WHERE c.offer_id = ? AND c.address = ?",
                (offer_id, address),
            ).fetchone()
        hat = self._hats(address)
        return {
            "offerId": offer_id,
            "user": {"address": address, "publicKey": row["public_key"] or ""},
            "relationship": "claim",
            "confirmed": hat is not None and hat.is_enabled(offer_id),
            "dataDebitId": offer_id,
            "dateCreated": row["created_ms"],
            "claimerNumber": row["claimer_number"],
        }

    def claim(self, offer_id: str, address: str) -> dict[str, Any]:
        """Claim ``offer_id`` for the HAT at ``address`` (registered): the checks, the data
        debit on the HAT, the claim (the same claim again for a HAT that claimed it)."""
        row = self._offer_row(offer_id)
        hat = self._hats(address)
        with self.db.connect() as conn:
            known = conn.execute("SELECT 1 FROM hats WHERE address = ?", (address,)).fetchone()
        if hat is None or known is None:
            raise DexRefusal(400, f"the HAT {address} is not registered (registerHat)")
        with self._lock:
            with self.db.connect() as conn:
                mine = conn.execute(
                    "SELECT 1 FROM claims WHERE offer_id = ? AND address = ?", (offer_id, address)
                ).fetchone()
            if mine is not None:
                return self._claim_json(offer_id, address)
            offer = _dex.offer(self._offer_json(row))
            now = self._now_ms()
            if offer.status == _dex.FULL_STATUS:
                raise DexRefusal(400, "the offer is full (oversubscribed)")
            if offer.status not in _dex.CLAIMABLE_STATUSES:
                raise DexRefusal(400, f"the offer is {offer.status}")
            if now < offer.starts:
                raise DexRefusal(400, "the offer is not open for claims yet")
            if now >= offer.expires:
                raise DexRefusal(400, "the offer has expired")
            claimed = self._claim_count(offer_id)
            if claimed >= offer.max_users:
                raise DexRefusal(400, f"the offer is full ({claimed} of {offer.max_users})")
            self._debit_on(hat, offer, row["owner"], row["login"], row["password"], now)
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO claims VALUES (?, ?, ?, ?)", (offer_id, address, claimed + 1, now)
                )
        return self._claim_json(offer_id, address)

    @staticmethod
    def _debit_on(
        hat: SandboxHat, offer: _dex.Offer, owner: str, login: str, password: str, now: int
    ) -> None:
        request = _hat.debit_request(
            offer.offer_id,
            dict(offer.required_data),
            purpose=offer.description or offer.title,
            start_ms=now,
            period_s=max(1, offer.collects_for(now) // 1000),
            client_name=owner,
            client_url="http://127.0.0.1/",
            terms_url="http://127.0.0.1/terms",
            conditions=None if offer.data_conditions is None else dict(offer.data_conditions),
            description=offer.title,
            application_id=_dex.APPLICATION,
        )
        try:
            hat.register_debit(offer.offer_id, request)
        except HatRefusal as exc:
            if "already exists" not in exc.cause:
                raise DexRefusal(400, f"the HAT refused the data debit: {exc.cause}") from None
        if hat.has_user(login):
            hat.grant(login, "datadebitowner", offer.offer_id)
        else:
            hat.add_user(login, password, [("datadebitowner", offer.offer_id)])

    def _claims(self, request: Request, offer_id: str) -> dict[str, Any]:
        username, _ = self._account(request)
        row = self._offer_row(offer_id)
        if row["owner"] != username:
            raise DexRefusal(403, "only the offer's owner reads its claims")
        with self.db.connect() as conn:
            addresses = [
                r["address"]
                for r in conn.execute(
                    "SELECT address FROM claims WHERE offer_id = ? ORDER BY claimer_number",
                    (offer_id,),
                )
            ]
        claims = [self._claim_json(offer_id, a) for a in addresses]
        offer = json.loads(row["offer"])
        confirmed = sum(1 for c in claims if c["confirmed"])
        credentials = None
        if confirmed and confirmed >= offer.get("requiredMinUser", 0):
            credentials = {
                "offerId": offer_id,
                "login": row["login"],
                "passwordPlain": row["password"],
                "passwordHash": hashlib.sha256(row["password"].encode()).hexdigest(),
                "dateCreated": row["created_ms"],
            }
        return {"credentials": credentials, "claims": claims}

    # -- routing -------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[int, Any]:
        try:
            if request.body is None:
                raise DexRefusal(413, "the body is too long")
            return self._dispatch(request)
        except DexRefusal as exc:
            return exc.status, {"message": _ERRORS.get(exc.status, "Error"), "cause": exc.message}

    def _dispatch(self, request: Request) -> tuple[int, Any]:
        path = request.path.rstrip("/") or "/"
        method = request.method

        def only(wanted: str) -> None:
            if method != wanted:
                raise DexRefusal(405, f"use {wanted}")

        if path == _dex.ACCESS_TOKEN_PATH:
            only("GET")
            return 200, self._login(request)
        if path == _dex.REGISTER_HAT_PATH:
            only("POST")
            return 200, self._register_hat(request)
        if path == _dex.OFFERS_PATH:
            only("GET")
            with self.db.connect() as conn:
                rows = conn.execute("SELECT * FROM offers ORDER BY created_ms").fetchall()
            return 200, [self._offer_json(r) for r in rows]
        if path == _dex.OFFER_PATH:
            only("POST")
            return self._create_offer(request)
        if path.startswith(_dex.OFFER_PATH + "/"):
            parts = path[len(_dex.OFFER_PATH) + 1 :].split("/")
            offer_id = parts[0]
            if len(parts) == 1:
                if method == "PUT":
                    return 200, self._set_status(request, offer_id)
                only("GET")
                return 200, self._offer_json(self._offer_row(offer_id))
            if parts[1:] == ["claim"]:
                only("GET")
                address, _ = self._hat_of_token(request.headers.get(_hat.TOKEN_HEADER))
                return 200, self.claim(offer_id, address)
            if parts[1:] == ["registerClaim"]:
                only("PUT")
                username, _ = self._account(request)
                if self._offer_row(offer_id)["owner"] != username:
                    raise DexRefusal(403, "only the offer's owner registers claims")
                address = request.query.get("hat")
                if not address:
                    raise DexRefusal(400, "hat is missing")
                return 200, self.claim(offer_id, address)
            if parts[1:] == ["claims"]:
                only("GET")
                return 200, self._claims(request, offer_id)
        raise DexRefusal(404, f"no endpoint {path}")


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DexRefusal(400, "expected a JSON object")
    return body
