"""A local HAT (Hub of All Things) for one machine, kept in SQLite.

Endpoints (answers shaped as the HAT's; errors are ``{"message", "cause"}``):

==========================================  ======  =============================================
``/users/access_token``                     GET     headers ``username``, ``password`` ->
                                                    ``{accessToken, userId}`` (an RS256 JWT);
                                                    401 for wrong credentials
``/users/access_token/validate``            GET     200 ``{message: "Authenticated"}`` or 401
``/publickey``                              GET     the public key (PEM, as a JSON string)
``/healthz``                                GET     ``{status: "ok"}``
``/api/v2.6/applications/{app}/access-token`` GET   the owner's: a token for ``app`` (claims
                                                    ``application``, ``applicationVersion``)
``/api/v2.6/data/{ns}/{ep}``                POST    a record or a list, all or nothing (with
                                                    ``?skipErrors=true`` duplicates are skipped);
                                                    201 ``[{endpoint, recordId, data}]``; 400
                                                    ``Duplicate Data`` when the same data
                                                    (SHA-256) is stored at that endpoint
``/api/v2.6/data/{ns}/{ep}``                GET     ``?orderBy=&ordering=&skip=&take=`` (1000)
``/api/v2.6/data/sources``                  GET     ``{namespace: [endpoint]}``
``/api/v2.6/data-bundle/{id}``              POST    store a bundle (checked); GET: its data
``/api/v2.6/combinator/{name}``             POST    store a list of endpoint queries; GET: data
``/api/v2.6/data-debit[/{key}]``            GET     the debits (owner), one debit (owner or its
                                                    holder)
``/api/v2.6/data-debit/{key}``              POST    register (owner): the v2.6 request; 201
``/api/v2.6/data-debit/{key}/enable``       GET     the owner's consent
``/api/v2.6/data-debit/{key}/disable``      GET     ``?atPeriodEnd=true|false``
``/api/v2.6/data-debit/{key}/values``       GET     ``{conditions?, bundle}``; 400 until enabled,
                                                    after its end, or when disabled
``/api/v2/data-debit/{key}``                POST    the v2 request ``{bundle, startDate, endDate,
                                                    rolling}``; ``/enable/{bundleName}``,
                                                    ``/disable``, ``/values`` (``{prop: [..]}``)
==========================================  ======  =============================================

Permissions: every call but login, validate, publickey and healthz needs
``X-Auth-Token`` (401 without a valid one). The owner passes every role check,
but not with an application token; another user writes to a namespace only
with ``NamespaceWrite(ns)`` (reads with ``NamespaceRead(ns)``) and reads a
data debit only with ``DataDebitOwner(key)``: 403 otherwise. Unknown paths are
404; bad bodies 400 ``Bad Request``.

The owner's password and the RSA key pair that signs tokens are drawn at
random when the data directory is created and kept in its database (``0600``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError, PublisherError
from ..protocol import hat as _hat
from ._db import Database, SandboxError
from ._http import Request

__all__ = [
    "DEMO_ENDPOINT",
    "DEMO_NAMESPACE",
    "OWNER",
    "HatRefusal",
    "SandboxHat",
]

log = logging.getLogger(__name__)

OWNER = "owner"  # the HAT owner's username
DEMO_NAMESPACE = "iota-publisher"
DEMO_ENDPOINT = "sandbox-station"
TOKEN_TTL = 3 * 24 * 3600  # seconds a login token lasts (a HAT's are days)
DEFAULT_TAKE = 1000
_PBKDF2_ROUNDS = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username   TEXT PRIMARY KEY,
    salt       BLOB NOT NULL,
    hash       BLOB NOT NULL,
    roles      TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id  TEXT NOT NULL UNIQUE,
    endpoint   TEXT NOT NULL,
    digest     TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (endpoint, digest)
);
CREATE INDEX IF NOT EXISTS records_endpoint ON records(endpoint, seq);
CREATE TABLE IF NOT EXISTS bundles (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS debits (
    key         TEXT PRIMARY KEY,
    version     TEXT NOT NULL,
    request     TEXT NOT NULL,
    bundle_name TEXT NOT NULL,
    bundle      TEXT NOT NULL,
    conditions  TEXT,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 0,
    cancelled   INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class HatRefusal(PublisherError):
    """A refused request, answered ``{"message", "cause"}`` with ``status`` (Python
    callers of :class:`SandboxHat`'s methods get it raised)."""

    def __init__(self, status: int, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.cause = cause or message


def _bad(cause: str) -> HatRefusal:
    return HatRefusal(400, "Bad Request", cause)


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)


@dataclass(frozen=True)
class _Caller:
    username: str
    roles: tuple[tuple[str, str], ...]
    application: str | None

    @property
    def owner(self) -> bool:
        return self.application is None and ("owner", "") in self.roles

    def has(self, role: str, detail: str) -> bool:
        return self.owner or (self.application is None and (role, detail) in self.roles)


def _jwt() -> Any:
    try:
        import jwt
    except ImportError as exc:  # pragma: no cover - the hat extra brings it
        raise SandboxError(
            "the sandbox HAT needs PyJWT with cryptography: pip install 'iota-publisher[hat]'"
        ) from exc
    return jwt


class SandboxHat:
    """The HAT over the SQLite file at ``path``; :meth:`route` serves HTTP. ``address``
    (``host:port``) is the issuer named in its tokens: set it once the server listens."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        address: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
        token_ttl: int = TOKEN_TTL,
    ) -> None:
        self._jwt = _jwt()
        self._clock = clock
        self.address = address
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self.db = Database(path, _SCHEMA)
        try:
            self._private_pem, self.public_key = self._ensure_keys()
            self._ensure_owner()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- keys and accounts (also for Python callers) -------------------------------------

    def _meta(self, conn: Any, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def _ensure_keys(self) -> tuple[bytes, str]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        with self.db.connect() as conn:
            private = self._meta(conn, "private_key")
        if private is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            with self.db.write() as conn:
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('private_key', ?)", (pem,))
                private = self._meta(conn, "private_key")
        assert private is not None
        key = serialization.load_pem_private_key(private.encode(), password=None)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return private.encode(), public.decode()

    def _ensure_owner(self) -> None:
        with self.db.connect() as conn:
            if self._meta(conn, "owner_password") is not None:
                return
        password = secrets.token_urlsafe(18)
        with self.db.write() as conn:
            if self._meta(conn, "owner_password") is not None:
                return
            conn.execute("INSERT INTO meta VALUES ('owner_password', ?)", (password,))
            self._put_user(conn, OWNER, password, [("owner", "")])

    @property
    def owner_password(self) -> str:
        """The owner's password (random per data directory)."""
        with self.db.connect() as conn:
            value = self._meta(conn, "owner_password")
        assert value is not None
        return value

    def _put_user(
        self, conn: Any, username: str, password: str, roles: list[tuple[str, str]]
    ) -> None:
        salt = secrets.token_bytes(16)
        conn.execute(
            "INSERT INTO users (username, salt, hash, roles, created_ms) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(username) DO UPDATE SET salt = excluded.salt, hash = excluded.hash, "
            "roles = excluded.roles",
            (username, salt, _hash(password, salt), json.dumps(roles), self._now_ms()),
        )

    def add_user(self, username: str, password: str, roles: list[tuple[str, str]]) -> None:
        """Create (or replace) a user with ``roles``: ``("namespacewrite", ns)``,
        ``("namespaceread", ns)``, ``("datadebitowner", key)``."""
        if not username or username == OWNER or not password:
            raise ValueError("a user needs a name other than the owner's, and a password")
        with self.db.write() as conn:
            self._put_user(conn, username, password, [(r.lower(), d) for r, d in roles])

    def grant(self, username: str, role: str, detail: str) -> None:
        """Add a role to an existing user."""
        with self.db.write() as conn:
            row = conn.execute("SELECT roles FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                raise KeyError(username)
            roles = [tuple(r) for r in json.loads(row["roles"])]
            if (role.lower(), detail) not in roles:
                roles.append((role.lower(), detail))
            conn.execute(
                "UPDATE users SET roles = ? WHERE username = ?", (json.dumps(roles), username)
            )

    def has_user(self, username: str) -> bool:
        with self.db.connect() as conn:
            row = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
        return row is not None

    # -- tokens --------------------------------------------------------------------------

    def issue_token(self, username: str, *, application: str | None = None) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "sub": username,
            "iss": self.address,
            "iat": now,
            "exp": now + self.token_ttl,
            "jti": secrets.token_hex(8),
        }
        if application is not None:
            claims["application"] = application
            claims["applicationVersion"] = "1.0.0"
        return str(self._jwt.encode(claims, self._private_pem, algorithm="RS256"))

    def verify_token(self, token: str) -> dict[str, Any]:
        """The claims of a token this HAT signed and that has not expired (or 401)."""
        jwt = self._jwt
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub"]},
            )
        except jwt.PyJWTError:
            raise HatRefusal(401, "Not Authenticated", "the token is not valid") from None
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= self._clock():
            raise HatRefusal(401, "Not Authenticated", "the token has expired")
        return claims

    def _caller(self, request: Request) -> _Caller:
        token = request.headers.get(_hat.TOKEN_HEADER)
        if not token:
            raise HatRefusal(401, "Not Authenticated", "X-Auth-Token is missing")
        claims = self.verify_token(token)
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT roles FROM users WHERE username = ?", (claims["sub"],)
            ).fetchone()
        if row is None:
            raise HatRefusal(401, "Not Authenticated", "the token's user does not exist")
        roles = tuple(tuple(r) for r in json.loads(row["roles"]))
        app = claims.get("application")
        return _Caller(claims["sub"], roles, app if isinstance(app, str) else None)  # type: ignore[arg-type]

    def _login(self, request: Request) -> tuple[int, Any]:
        username = request.headers.get("username") or ""
        password = request.headers.get("password") or ""
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT salt, hash FROM users WHERE username = ?", (username,)
            ).fetchone()
        if row is None or not hmac.compare_digest(_hash(password, row["salt"]), row["hash"]):
            raise HatRefusal(401, "Not Authenticated", "Wrong username or password")
        return 200, {"accessToken": self.issue_token(username), "userId": username}

    # -- records -------------------------------------------------------------------------

    def store(
        self, endpoint: str, items: list[Any], *, skip_errors: bool = False
    ) -> list[_hat.Record]:
        """Store records at ``namespace/endpoint``, all or nothing (``skip_errors``: the
        duplicates are left out); a duplicate is a 400 ``Duplicate Data``."""
        now = self._now_ms()
        stored: list[_hat.Record] = []
        with self._lock, self.db.write() as conn:
            seen: set[str] = set()
            for data in items:
                digest = _hat.record_digest(data)
                dup = digest in seen or (
                    conn.execute(
                        "SELECT 1 FROM records WHERE endpoint = ? AND digest = ?",
                        (endpoint, digest),
                    ).fetchone()
                    is not None
                )
                if dup:
                    if skip_errors:
                        continue
                    raise HatRefusal(
                        400, _hat.DUPLICATE_DATA, "Could not insert data - Duplicate data"
                    )
                seen.add(digest)
                record_id = str(uuid.uuid4())
                conn.execute(
                    "INSERT INTO records (record_id, endpoint, digest, data, created_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (record_id, endpoint, digest, json.dumps(data), now),
                )
                stored.append(_hat.Record(endpoint, record_id, data))
        return stored

    def records(self, endpoint: str) -> list[_hat.Record]:
        """Every record of ``namespace/endpoint``, in storage order."""
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT record_id, data FROM records WHERE endpoint = ? ORDER BY seq", (endpoint,)
            ).fetchall()
        return [_hat.Record(endpoint, r["record_id"], json.loads(r["data"])) for r in rows]

    def _write(self, request: Request, ns: str, ep: str) -> tuple[int, Any]:
        caller = self._caller(request)
        if not caller.has("namespacewrite", ns):
            raise HatRefusal(403, "Forbidden", f"writing to namespace {ns} is not permitted")
        try:
            body = request.json()
        except ValueError:
            raise _bad("the body is not JSON") from None
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(i, dict) for i in items):
            raise _bad("expected a JSON object or a list of objects")
        skip = request.query.get("skipErrors") == "true"
        stored = self.store(f"{ns}/{ep}", items, skip_errors=skip)
        return 201, [r.to_json() for r in stored]

    def _read(self, request: Request, ns: str, ep: str) -> tuple[int, Any]:
        caller = self._caller(request)
        if not caller.has("namespaceread", ns):
            raise HatRefusal(403, "Forbidden", f"reading namespace {ns} is not permitted")
        query = request.query
        ordering = query.get("ordering", "ascending")
        if ordering not in ("ascending", "descending"):
            raise _bad("ordering must be ascending or descending")
        skip, take = _count(query, "skip", 0), _count(query, "take", DEFAULT_TAKE)
        found = _hat.order_records(self.records(f"{ns}/{ep}"), query.get("orderBy"), ordering)
        return 200, [r.to_json() for r in found[skip : skip + take]]

    def _sources(self, request: Request) -> tuple[int, Any]:
        if not self._caller(request).owner:
            raise HatRefusal(403, "Forbidden", "only the owner lists the sources")
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT DISTINCT endpoint FROM records ORDER BY endpoint"
            ).fetchall()
        out: dict[str, list[str]] = {}
        for row in rows:
            ns, _, ep = row["endpoint"].partition("/")
            out.setdefault(ns, []).append(ep)
        return 200, out

    # -- bundles -------------------------------------------------------------------------

    def evaluate(self, spec: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        return _hat.evaluate_bundle(spec, self.records)

    def _bundle(self, request: Request, kind: str, name: str) -> tuple[int, Any]:
        if not self._caller(request).owner:
            raise HatRefusal(403, "Forbidden", f"only the owner uses {kind}s")
        if request.method == "POST":
            try:
                body = request.json()
                spec = {"combinator": {"endpoints": body}} if kind == "combinator" else body
                _hat.bundle(spec)
            except (ValueError, ProtocolError) as exc:
                raise _bad(f"not a valid {kind}: {exc}") from None
            with self.db.write() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO bundles VALUES (?, ?, ?)",
                    (f"{kind}:{name}", kind, json.dumps(spec)),
                )
            return 201, {"name": name, "bundle": spec} if kind == "bundle" else body
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT spec FROM bundles WHERE name = ?", (f"{kind}:{name}",)
            ).fetchone()
        if row is None:
            raise HatRefusal(404, "Not Found", f"no {kind} named {name}")
        data = self.evaluate(json.loads(row["spec"]))
        return 200, data["combinator"] if kind == "combinator" else data

    # -- data debits ---------------------------------------------------------------------

    def register_debit(
        self, key: str, request: Mapping[str, Any], *, version: str = "v2.6"
    ) -> dict[str, Any]:
        """Register a data debit from a v2.6 (or ``version="v2"``) request; 400 if the key
        is taken or the request is bad. Not enabled until the owner enables it."""
        try:
            if version == "v2":
                spec = request["bundle"]
                bundle_name, bundle = spec["name"], _hat.bundle(spec["bundle"])
                start = _hat.parse_time(request["startDate"], "startDate")
                end = _hat.parse_time(request["endDate"], "endDate")
                conditions = None
            else:
                spec = request["bundle"]
                bundle_name, bundle = spec["name"], _hat.bundle(spec["bundle"])
                start = _hat.parse_time(request["start"], "start")
                period = request["period"]
                if isinstance(period, bool) or not isinstance(period, int) or period <= 0:
                    raise ProtocolError("period", "must be a positive int (seconds)")
                end = start + period * 1000
                cond = request.get("conditions")
                conditions = None if cond is None else _hat.bundle(cond["bundle"])
                for name in ("purpose", "requestClientName", "requestClientUrl", "termsUrl"):
                    if not isinstance(request.get(name), str):
                        raise ProtocolError(name, "is missing", kind="missing")
            if not isinstance(bundle_name, str) or not bundle_name:
                raise ProtocolError("name", "the bundle needs a name", kind="missing")
        except (KeyError, TypeError, ProtocolError) as exc:
            raise _bad(f"not a valid data debit request: {exc}") from None
        if end <= start:
            raise _bad("the data debit ends before it starts")
        with self._lock, self.db.write() as conn:
            if conn.execute("SELECT 1 FROM debits WHERE key = ?", (key,)).fetchone():
                raise _bad(f"Data Debit {key} already exists")
            conn.execute(
                "INSERT INTO debits (key, version, request, bundle_name, bundle, conditions, "
                "start_ms, end_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    version,
                    json.dumps(dict(request)),
                    bundle_name,
                    json.dumps(bundle),
                    None if conditions is None else json.dumps(conditions),
                    start,
                    end,
                    self._now_ms(),
                ),
            )
        return self.debit(key)

    def _row(self, key: str) -> Any:
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM debits WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise HatRefusal(404, "Not Found", f"Data Debit {key} not found")
        return row

    def debit(self, key: str) -> dict[str, Any]:
        """A data debit as the API answers it."""
        row = self._row(key)
        now = self._now_ms()
        enabled = bool(row["enabled"]) and not row["cancelled"]
        active = enabled and row["start_ms"] <= now < row["end_ms"]
        request = json.loads(row["request"])
        bundle = {"name": row["bundle_name"], "bundle": json.loads(row["bundle"])}
        if row["version"] == "v2":
            return {
                "dataDebitKey": key,
                "dateCreated": _hat.iso_time(row["created_ms"]),
                "active": active,
                "bundles": [
                    {
                        "bundle": bundle,
                        "startDate": _hat.iso_time(row["start_ms"]),
                        "endDate": _hat.iso_time(row["end_ms"]),
                        "rolling": bool(request.get("rolling")),
                        "enabled": enabled,
                    }
                ],
            }
        permission: dict[str, Any] = {
            "dateCreated": _hat.iso_time(row["created_ms"]),
            "purpose": request.get("purpose"),
            "start": _hat.iso_time(row["start_ms"]),
            "period": request.get("period"),
            "end": _hat.iso_time(row["end_ms"]),
            "cancelAtPeriodEnd": bool(request.get("cancelAtPeriodEnd")),
            "termsUrl": request.get("termsUrl"),
            "bundle": bundle,
            "accepted": enabled,
            "active": active,
            "enabled": enabled,
        }
        if row["conditions"] is not None:
            permission["conditions"] = {
                "name": f"{key}-conditions",
                "bundle": json.loads(row["conditions"]),
            }
        return {
            "dataDebitKey": key,
            "dateCreated": _hat.iso_time(row["created_ms"]),
            "requestClientName": request.get("requestClientName"),
            "requestClientUrl": request.get("requestClientUrl"),
            "requestClientLogoUrl": request.get("requestClientLogoUrl"),
            "requestApplicationId": request.get("requestApplicationId"),
            "requestDescription": request.get("requestDescription"),
            "active": active,
            "permissions": [permission],
        }

    def set_enabled(self, key: str, enabled: bool) -> dict[str, Any]:
        row = self._row(key)
        if enabled and self._now_ms() >= row["end_ms"]:
            raise _bad(f"Data Debit {key} has ended")
        with self.db.write() as conn:
            conn.execute(
                "UPDATE debits SET enabled = ?, cancelled = 0 WHERE key = ?", (int(enabled), key)
            )
        return self.debit(key)

    def is_enabled(self, key: str) -> bool:
        try:
            row = self._row(key)
        except HatRefusal:
            return False
        return bool(row["enabled"]) and not row["cancelled"]

    def values(self, key: str, *, v2: bool = False) -> dict[str, Any]:
        """What the debit gives now: 400 unless enabled and within its dates."""
        row = self._row(key)
        now = self._now_ms()
        if not row["enabled"] or row["cancelled"]:
            raise _bad(f"Data Debit {key} not enabled")
        if not row["start_ms"] <= now < row["end_ms"]:
            raise _bad(f"Data Debit {key} not active")
        bundle = self.evaluate(json.loads(row["bundle"]))
        if v2:
            return bundle
        if row["conditions"] is None:
            return {"bundle": bundle}
        met = {p: bool(r) for p, r in self.evaluate(json.loads(row["conditions"])).items()}
        return {"conditions": met, "bundle": bundle if all(met.values()) else {}}

    def _debits(self, request: Request, rest: list[str], version: str) -> tuple[int, Any]:
        caller = self._caller(request)
        if not rest:
            if request.method != "GET":
                raise HatRefusal(405, "Method Not Allowed", "use GET")
            if not caller.owner:
                raise HatRefusal(403, "Forbidden", "only the owner lists the data debits")
            with self.db.connect() as conn:
                keys = [
                    r["key"] for r in conn.execute("SELECT key FROM debits ORDER BY created_ms")
                ]
            return 200, [self.debit(k) for k in keys]
        key, action = rest[0], rest[1:]
        if not action:
            if request.method == "POST":
                if not caller.owner:
                    raise HatRefusal(403, "Forbidden", "only the owner registers data debits")
                try:
                    body = request.json()
                except ValueError:
                    raise _bad("the body is not JSON") from None
                if not isinstance(body, dict):
                    raise _bad("expected a data debit request")
                return 201, self.register_debit(key, body, version=version)
            if not caller.has("datadebitowner", key):
                raise HatRefusal(403, "Forbidden", f"Data Debit {key} is not yours")
            return 200, self.debit(key)
        if request.method != "GET":
            raise HatRefusal(405, "Method Not Allowed", "use GET")
        if action == ["values"]:
            if not caller.has("datadebitowner", key):
                raise HatRefusal(403, "Forbidden", f"Data Debit {key} is not yours")
            return 200, self.values(key, v2=version == "v2")
        if not caller.owner:
            raise HatRefusal(403, "Forbidden", "only the owner enables or disables data debits")
        if action[0] == "enable" and (
            (version == "v2.6" and len(action) == 1) or (version == "v2" and len(action) == 2)
        ):
            if version == "v2" and action[1] != self._row(key)["bundle_name"]:
                raise _bad(f"Data Debit {key} has no bundle {action[1]}")
            return 200, self.set_enabled(key, True)
        if action == ["disable"]:
            if request.query.get("atPeriodEnd") == "true":
                return 200, self.debit(key)  # it runs to its end, and debits here never renew
            return 200, self.set_enabled(key, False)
        raise HatRefusal(404, "Not Found", "no such data debit action")

    # -- routing -------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[int, Any]:
        try:
            if request.body is None:
                raise HatRefusal(413, "Request Entity Too Large", "the body is too long")
            return self._dispatch(request)
        except HatRefusal as exc:
            return exc.status, {"message": exc.message, "cause": exc.cause}

    def _dispatch(self, request: Request) -> tuple[int, Any]:
        path = request.path.rstrip("/") or "/"
        method = request.method

        def only(*methods: str) -> None:
            if method not in methods:
                raise HatRefusal(405, "Method Not Allowed", f"use {' or '.join(methods)}")

        if path == _hat.ACCESS_TOKEN_PATH:
            only("GET")
            return self._login(request)
        if path == _hat.ACCESS_TOKEN_PATH + "/validate":
            only("GET")
            self._caller(request)
            return 200, {"message": "Authenticated"}
        if path == "/publickey":
            only("GET")
            return 200, self.public_key
        if path == "/healthz":
            return 200, {"status": "ok"}
        for prefix, version in ((_hat.API, "v2.6"), ("/api/v2.0", "v2"), (_hat.API_V2, "v2")):
            if path.startswith(prefix + "/"):
                return self._api(request, path[len(prefix) + 1 :].split("/"), version)
        raise HatRefusal(404, "Not Found", f"no endpoint {path}")

    def _api(self, request: Request, parts: list[str], version: str) -> tuple[int, Any]:
        method = request.method
        head = parts[0]
        if head == "data-debit":
            return self._debits(request, parts[1:], version)
        if version != "v2.6":
            raise HatRefusal(404, "Not Found", "this sandbox HAT serves data at /api/v2.6")
        if head == "data" and parts[1:] == ["sources"] and method == "GET":
            return self._sources(request)
        if head == "data" and len(parts) >= 3:
            try:
                ns = _hat.namespace(parts[1])
                ep = _hat.endpoint("/".join(parts[2:]))
            except ProtocolError as exc:
                raise HatRefusal(404, "Not Found", str(exc)) from None
            if method == "POST":
                return self._write(request, ns, ep)
            if method == "GET":
                return self._read(request, ns, ep)
            raise HatRefusal(405, "Method Not Allowed", "use GET or POST")
        if head in ("data-bundle", "combinator") and len(parts) == 2 and method in ("GET", "POST"):
            return self._bundle(
                request, "bundle" if head == "data-bundle" else "combinator", parts[1]
            )
        if head == "applications" and len(parts) == 3 and parts[2] == "access-token":
            if method != "GET":
                raise HatRefusal(405, "Method Not Allowed", "use GET")
            if not self._caller(request).owner:
                raise HatRefusal(403, "Forbidden", "only the owner issues application tokens")
            if not re.fullmatch(r"[0-9a-z-]+", parts[1]):
                raise HatRefusal(404, "Not Found", "no such application")
            token = self.issue_token(OWNER, application=parts[1])
            return 200, {"accessToken": token}
        raise HatRefusal(404, "Not Found", f"no endpoint {'/'.join(parts)}")


def _count(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise _bad(f"{name} must be a non-negative integer")
    return int(value)
