"""The Data Marketplace API of the blueprint, for one machine, kept in SQLite.

Endpoints (the blueprint's "API" sections; answers as the cloud functions
give them):

=====================  ======  ===================================================
``/newData``           POST    ``{id, sk, packet: {root, sidekey, time}}`` -> ``{success: true}``;
                               400 ``Ensure all fields are included``; 403 unknown device or
                               wrong key. A root already registered for the device is
                               answered success and not stored again (a resent packet
                               whose answer was lost)
``/newDevice``         POST    ``{apiKey, id, device}`` -> ``{success: true, sk}`` (5 devices
                               per user; the device is checked with ``validate_device``)
``/devices``           GET     every device (no secret keys), or ``?userId=&apiKey=``: that
                               user's, with their ``sk``
``/delete``            DELETE  ``{apiKey, deviceId}`` -> ``{success: true}`` (its data and
                               purchases go with it)
``/user``              GET     ``?userId=&apiKey=`` -> ``{userId, numberOfDevices, wallet:
                               {seed, balance, address, keyIndex}}`` (``wallet`` null until
                               funded)
``/wallet``            POST    ``{userId, apiKey}`` -> ``{success: true}``: creates the wallet if
                               need be and adds 1,000,000 free tokens (a faucet)
``/stream``            GET     ``?deviceId=&userId=&apiKey=&time=`` -> up to 20 ``{time, root,
                               sidekey}``, newest first, older than ``time``; ``{success:
                               false}`` unless the user bought the stream
``/purchaseStream``    POST    ``{userId, apiKey, deviceId}`` -> ``{success: true}``, the
                               device's price taken from the wallet; 200 ``{error}`` when funds
                               are short
=====================  ======  ===================================================

Missing fields are 400 ``{"error": "Ensure all fields are included"}``; a
wrong API key, an unknown user or device and other refusals are 403
``{"error": ...}``, as the cloud functions answer. Unlike the 2019 cloud
functions, the endpoints that hand out or spend a user's data (``/user``
returns the wallet seed, ``/wallet``, ``/purchaseStream``, ``/stream``)
require that user's ``apiKey``: 403 when it is missing or wrong. Tokens here
are numbers in the database: the sandbox node keeps no ledger.

A demo user (id ``demo-user``) exists from the start, its wallet prefunded
(like a dev chain's well-known accounts); its API key and wallet seed, and
the demo device's (:meth:`SandboxMarket.create_demo_device`) secret key and
seed, are drawn at random when they are created and kept in the database,
so they differ from one data directory to the next and stay the same across
restarts. Devices created through ``/newDevice`` get random keys too.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputError
from ..marketplace import validate_device
from ..protocol.marketplace import STREAM_PAGE_SIZE
from ..trinary import TRYTE_ALPHABET, is_trytes, trits_to_trytes, trytes_to_trits
from ..trinary.signing import address, digests, key, subseed
from ._db import Database
from ._http import Request

__all__ = [
    "DEMO_DEVICE",
    "DEMO_USER_ID",
    "MarketError",
    "SandboxMarket",
]

log = logging.getLogger(__name__)

DEVICE_LIMIT = 5  # devices per user (the blueprint's default)
FAUCET = 1_000_000  # tokens per /wallet call (the blueprint: 100,000 to 1,000,000)
DEFAULT_PRICE = 1_000  # for a device without a price (the blueprint suggests 1,000 to 50,000)
SECRET_KEY_LENGTH = 15  # characters of a device secret key (as the cloud function's seedGen(15))

DEMO_USER_ID = "demo-user"
DEMO_DEVICE: dict[str, Any] = {
    "sensorId": "sandbox-station",
    "type": "Weather Station",
    "company": "iota-publisher sandbox",
    "price": 1_000,
    "inactive": False,
    "location": {"city": "Berlin", "country": "Germany"},
    "lat": 52.52,
    "lon": 13.405,
    "dataTypes": [
        {"id": "temperature", "name": "Temperature", "unit": "C"},
        {"id": "humidity", "name": "Humidity", "unit": "%"},
        {"id": "pressure", "name": "Air pressure", "unit": "hPa"},
    ],
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id             TEXT PRIMARY KEY,
    api_key        TEXT NOT NULL UNIQUE,
    device_limit   INTEGER NOT NULL,
    wallet_seed    TEXT,
    wallet_address TEXT,
    balance        INTEGER NOT NULL DEFAULT 0,
    key_index      INTEGER NOT NULL DEFAULT 0,
    created_ms     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    sk         TEXT NOT NULL,
    seed       TEXT NOT NULL,
    address    TEXT NOT NULL,
    price      INTEGER NOT NULL,
    device     TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_owner ON devices(owner);
CREATE TABLE IF NOT EXISTS packets (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    time      INTEGER NOT NULL,
    root      TEXT NOT NULL,
    sidekey   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS packets_device_time ON packets(device_id, time DESC, seq DESC);
CREATE INDEX IF NOT EXISTS packets_device_root ON packets(device_id, root);
CREATE TABLE IF NOT EXISTS purchases (
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    price     INTEGER NOT NULL,
    time_ms   INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_RANDOM_DEMO_KEYS = "demo_keys_random"  # meta key: the demo accounts' keys were drawn at random

MISSING = "Ensure all fields are included"


class MarketError(Exception):
    """A refused request: answered ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def random_trytes(length: int) -> str:
    return "".join(secrets.choice(TRYTE_ALPHABET) for _ in range(length))


def random_api_key() -> str:
    """An API key shaped as the cloud function's (a version 4 UUID), from :mod:`secrets`."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def seed_address(seed: str) -> str:
    """The address at index 0, security 2, of ``seed`` (as a wallet shows it first)."""
    sub = subseed(trytes_to_trits(seed), 0)
    return trits_to_trytes(address(digests(key(sub, 2))))


def _text(body: dict[str, Any], *names: str) -> list[str]:
    """Non-empty string fields of a request, or 400 ``Ensure all fields are included``."""
    values = [body.get(n) for n in names]
    if not all(isinstance(v, str) and v for v in values):
        raise MarketError(MISSING, 400)
    return values  # type: ignore[return-value]


class SandboxMarket:
    """The marketplace over the SQLite file at ``path``; :meth:`route` serves HTTP."""

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self.db = Database(path, _SCHEMA)
        self._routes: dict[str, tuple[str, Callable[[Request], Any]]] = {
            "/newData": ("POST", self._new_data),
            "/newDevice": ("POST", self._new_device),
            "/devices": ("GET", self._devices),
            "/delete": ("DELETE", self._delete),
            "/user": ("GET", self._user),
            "/wallet": ("POST", self._wallet),
            "/stream": ("GET", self._stream),
            "/purchaseStream": ("POST", self._purchase_stream),
        }
        try:
            self._ensure_demo_user()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- accounts (also for Python callers) ----------------------------------------------

    def _ensure_demo_user(self) -> None:
        """Create the demo user; or, in a data directory from before the demo keys were
        random (anyone could derive them), replace its keys and its device's, once."""
        with self.db.connect() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = ?", (_RANDOM_DEMO_KEYS,)).fetchone():
                return
            existing = (
                conn.execute("SELECT 1 FROM users WHERE id = ?", (DEMO_USER_ID,)).fetchone()
                is not None
            )
        seed = random_trytes(81)
        wallet = (seed, seed_address(seed))
        if existing:
            device_seed = random_trytes(81)
            device = (random_trytes(SECRET_KEY_LENGTH), device_seed, seed_address(device_seed))
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = ?", (_RANDOM_DEMO_KEYS,)).fetchone():
                return  # another process got here first
            if not existing:  # prefunded, as a dev chain's accounts are
                conn.execute(
                    "INSERT INTO users (id, api_key, device_limit, wallet_seed, "
                    "wallet_address, balance, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (DEMO_USER_ID, random_api_key(), DEVICE_LIMIT, *wallet, FAUCET, self._now_ms()),
                )
            else:
                conn.execute(
                    "UPDATE users SET api_key = ?, wallet_seed = ?, wallet_address = ? "
                    "WHERE id = ?",
                    (random_api_key(), *wallet, DEMO_USER_ID),
                )
                conn.execute(
                    "UPDATE devices SET sk = ?, seed = ?, address = ? WHERE id = ? AND owner = ?",
                    (*device, DEMO_DEVICE["sensorId"], DEMO_USER_ID),
                )
                log.info("the demo accounts' derived keys were replaced by random ones")
            conn.execute("INSERT INTO meta VALUES (?, '1')", (_RANDOM_DEMO_KEYS,))

    @property
    def demo_api_key(self) -> str:
        """The demo user's API key (random, kept in this marketplace's database)."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT api_key FROM users WHERE id = ?", (DEMO_USER_ID,)).fetchone()
        return str(row["api_key"])

    def create_user(self, user_id: str | None = None) -> tuple[str, str]:
        """A new user without a wallet: ``(user id, API key)``."""
        user_id = user_id or secrets.token_urlsafe(21)[:28]
        api_key = random_api_key()
        with self.db.write() as conn:
            try:
                conn.execute(
                    "INSERT INTO users (id, api_key, device_limit, created_ms) VALUES (?, ?, ?, ?)",
                    (user_id, api_key, DEVICE_LIMIT, self._now_ms()),
                )
            except sqlite3.IntegrityError as exc:
                raise MarketError(f"user {user_id!r} exists") from exc
        return user_id, api_key

    @staticmethod
    def _authorized(conn: sqlite3.Connection, user_id: str, api_key: object) -> sqlite3.Row:
        """The user ``user_id`` if ``api_key`` is theirs; 403 otherwise (unknown users too)."""
        if not isinstance(api_key, str) or not api_key:
            raise MarketError("This needs the user's API key (apiKey)")
        row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None or not hmac.compare_digest(row["api_key"].encode(), api_key.encode()):
            raise MarketError("Invalid API key")
        return row

    def _check_key(self, user_id: str, api_key: object) -> None:
        with self.db.connect() as conn:
            self._authorized(conn, user_id, api_key)

    def _user_by_key(self, conn: sqlite3.Connection, api_key: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM users WHERE api_key = ?", (api_key,)).fetchone()
        if row is None:
            raise MarketError("Invalid API key")
        return row

    def create_device(
        self,
        api_key: str,
        device_id: str,
        device: dict[str, Any],
        *,
        secret_key: str | None = None,
        seed: str | None = None,
    ) -> str:
        """Create a device for the owner of ``api_key``; return its secret key."""
        if not isinstance(device, dict):
            raise MarketError(MISSING, 400)
        with self.db.connect() as conn:
            owner = self._user_by_key(conn, api_key)["id"]
        described = dict(device, sensorId=device_id, owner=owner)
        described.setdefault("inactive", False)
        try:
            clean = validate_device(described)
        except InvalidInputError as exc:
            raise MarketError(str(exc), 400) from exc
        price = clean.setdefault("price", DEFAULT_PRICE)
        sk = secret_key or random_trytes(SECRET_KEY_LENGTH)
        seed = seed or random_trytes(81)
        device_address = seed_address(seed)
        with self.db.write() as conn:
            user = self._user_by_key(conn, api_key)
            if conn.execute("SELECT 1 FROM devices WHERE id = ?", (device_id,)).fetchone():
                raise MarketError(f"A device with the id {device_id!r} exists")
            count = conn.execute(
                "SELECT COUNT(*) FROM devices WHERE owner = ?", (owner,)
            ).fetchone()[0]
            if count >= user["device_limit"]:
                raise MarketError(
                    f"You have too many devices ({user['device_limit']} at most). Please delete "
                    "one to clear space"
                )
            conn.execute(
                "INSERT INTO devices (id, owner, sk, seed, address, price, device, created_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    device_id,
                    owner,
                    sk,
                    seed,
                    device_address,
                    price,
                    json.dumps(clean),
                    self._now_ms(),
                ),
            )
        log.info("device %r created for user %r", device_id, owner)
        return sk

    def create_demo_device(self) -> tuple[str, str]:
        """The demo user's demo device (created once): ``(device id, secret key)``."""
        device_id = DEMO_DEVICE["sensorId"]
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT owner, sk FROM devices WHERE id = ?", (device_id,)
            ).fetchone()
        if row is not None:
            if row["owner"] != DEMO_USER_ID:
                raise MarketError(f"device {device_id!r} belongs to another user")
            return device_id, row["sk"]
        sk = self.create_device(self.demo_api_key, device_id, dict(DEMO_DEVICE, owner=DEMO_USER_ID))
        return device_id, sk

    def fund(self, user_id: str, amount: int = FAUCET) -> int:
        """Create the user's wallet if need be and add ``amount``; return the balance."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT wallet_seed FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise MarketError("Unknown user")
        seed = row["wallet_seed"] or random_trytes(81)
        wallet_address = seed_address(seed) if row["wallet_seed"] is None else None
        with self.db.write() as conn:
            if wallet_address is not None:
                conn.execute(
                    "UPDATE users SET wallet_seed = ?, wallet_address = ? "
                    "WHERE id = ? AND wallet_seed IS NULL",
                    (seed, wallet_address, user_id),
                )
            conn.execute("UPDATE users SET balance = balance + ? WHERE id = ?", (amount, user_id))
            balance = conn.execute("SELECT balance FROM users WHERE id = ?", (user_id,)).fetchone()[
                0
            ]
        log.info("wallet of user %r funded: balance %d", user_id, balance)
        return balance

    def purchase(self, user_id: str, device_id: str) -> None:
        """Buy ``device_id``'s stream for ``user_id`` (a second purchase costs nothing).

        Raises :class:`MarketError` with status 200 when funds are short (the
        cloud function refuses that with a 200 ``{error}``).
        """
        with self.db.write() as conn:
            user = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            if user is None:
                raise MarketError("Unknown user")
            device = conn.execute("SELECT price FROM devices WHERE id = ?", (device_id,)).fetchone()
            if device is None:
                raise MarketError(f"Unknown device {device_id!r}")
            if conn.execute(
                "SELECT 1 FROM purchases WHERE user_id = ? AND device_id = ?", (user_id, device_id)
            ).fetchone():
                return
            price = device["price"]
            if user["wallet_seed"] is None:
                raise MarketError("Wallet not set: fund it first (POST /wallet)", 200)
            if user["balance"] < price:
                raise MarketError(
                    f"Not enough funds: the stream costs {price}, the wallet holds "
                    f"{user['balance']}",
                    200,
                )
            conn.execute("UPDATE users SET balance = balance - ? WHERE id = ?", (price, user_id))
            conn.execute(
                "INSERT INTO purchases VALUES (?, ?, ?, ?)",
                (user_id, device_id, price, self._now_ms()),
            )
        log.info("user %r bought the stream of %r for %d", user_id, device_id, price)

    def purchased(self, user_id: str, device_id: str) -> bool:
        with self.db.connect() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM purchases WHERE user_id = ? AND device_id = ?",
                    (user_id, device_id),
                ).fetchone()
                is not None
            )

    # -- HTTP ----------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[int, Any]:
        path = request.path.rstrip("/") or "/"
        entry = self._routes.get(path)
        if entry is None:
            return 404, {"error": f"Unknown endpoint {path}"}
        method, handler = entry
        if request.method != method:
            return 405, {"error": f"Use {method} for {path}"}
        if request.body is None:
            return 400, {"error": "Request too long"}
        try:
            return 200, handler(request)
        except MarketError as exc:
            return exc.status, {"error": str(exc)}

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MarketError(MISSING, 400)
        return body

    def _new_data(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        device_id, sk = _text(body, "id", "sk")
        packet = body.get("packet")
        if not isinstance(packet, dict) or not packet:
            raise MarketError(MISSING, 400)
        root, sidekey, t = packet.get("root"), packet.get("sidekey"), packet.get("time")
        if not (
            is_trytes(root, 81)
            and is_trytes(sidekey, 81)
            and isinstance(t, int)
            and not isinstance(t, bool)
            and t >= 0
        ):
            raise MarketError(
                f"{MISSING}: packet needs root and sidekey (81 trytes each) and time (ms)", 400
            )
        with self.db.write() as conn:
            row = conn.execute("SELECT sk FROM devices WHERE id = ?", (device_id,)).fetchone()
            if row is None:
                raise MarketError(f"Device {device_id!r} does not exist")
            if not hmac.compare_digest(row["sk"].encode(), sk.encode()):
                raise MarketError("The secret key is incorrect")
            known = conn.execute(
                "SELECT 1 FROM packets WHERE device_id = ? AND root = ? LIMIT 1",
                (device_id, root),
            ).fetchone()
            if known is None:
                conn.execute(
                    "INSERT INTO packets (device_id, time, root, sidekey) VALUES (?, ?, ?, ?)",
                    (device_id, t, root, sidekey),
                )
        if known is not None:
            # a publisher whose answer got lost sends it again: success, and kept once
            log.info(
                "newData from %r: root of the packet of %d is registered already", device_id, t
            )
        else:
            log.info("newData from %r: packet of %d", device_id, t)
        return {"success": True}

    def _new_device(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        api_key, device_id = _text(body, "apiKey", "id")
        device = body.get("device")
        if not isinstance(device, dict) or not device:
            raise MarketError(MISSING, 400)
        return {"success": True, "sk": self.create_device(api_key, device_id, device)}

    @staticmethod
    def _public(row: sqlite3.Row, *, with_key: bool = False) -> dict[str, Any]:
        device = json.loads(row["device"])
        device.update(
            sensorId=row["id"], owner=row["owner"], address=row["address"], price=row["price"]
        )
        if with_key:
            device["sk"] = row["sk"]
        return device

    def _devices(self, request: Request) -> list[dict[str, Any]]:
        user_id, api_key = request.query.get("userId"), request.query.get("apiKey")
        with self.db.connect() as conn:
            if not user_id and not api_key:
                rows = conn.execute("SELECT * FROM devices ORDER BY rowid").fetchall()
                return [self._public(r) for r in rows]
            if not user_id or not api_key:
                raise MarketError(MISSING, 400)
            user = self._user_by_key(conn, api_key)
            if not hmac.compare_digest(user["id"].encode(), user_id.encode()):
                raise MarketError("Invalid API key")
            rows = conn.execute(
                "SELECT * FROM devices WHERE owner = ? ORDER BY rowid", (user_id,)
            ).fetchall()
        return [self._public(r, with_key=True) for r in rows]

    def _delete(self, request: Request) -> dict[str, Any]:
        api_key, device_id = _text(self._body(request), "apiKey", "deviceId")
        with self.db.write() as conn:
            user = self._user_by_key(conn, api_key)
            row = conn.execute("SELECT owner FROM devices WHERE id = ?", (device_id,)).fetchone()
            if row is None:
                raise MarketError(f"Unknown device {device_id!r}")
            if row["owner"] != user["id"]:
                raise MarketError("You don't have permission to delete this device")
            for table, column in (
                ("devices", "id"),
                ("packets", "device_id"),
                ("purchases", "device_id"),
            ):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (device_id,))
        log.info("device %r deleted", device_id)
        return {"success": True}

    def _user(self, request: Request) -> dict[str, Any]:
        user_id = request.query.get("userId")
        if not user_id:
            raise MarketError(MISSING, 400)
        with self.db.connect() as conn:
            row = self._authorized(conn, user_id, request.query.get("apiKey"))
        wallet = None
        if row["wallet_seed"] is not None:
            wallet = {
                "seed": row["wallet_seed"],
                "balance": row["balance"],
                "address": row["wallet_address"],
                "keyIndex": row["key_index"],
            }
        return {"userId": row["id"], "numberOfDevices": row["device_limit"], "wallet": wallet}

    def _wallet(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        (user_id,) = _text(body, "userId")
        self._check_key(user_id, body.get("apiKey"))
        self.fund(user_id)
        return {"success": True}

    def _stream(self, request: Request) -> Any:
        device_id, user_id = request.query.get("deviceId"), request.query.get("userId")
        if not device_id or not user_id:
            raise MarketError(MISSING, 400)
        raw = request.query.get("time", "")
        cursor: int | None = None
        if raw not in ("", "null", "undefined"):
            if not raw.isascii() or not raw.isdigit():
                raise MarketError(f"time must be a time in ms, not {raw[:30]!r}", 400)
            cursor = int(raw)
        self._check_key(user_id, request.query.get("apiKey"))
        if not self.purchased(user_id, device_id):
            return {"success": False}
        query = "SELECT time, root, sidekey FROM packets WHERE device_id = ?"
        params: list[Any] = [device_id]
        if cursor is not None:
            query += " AND time < ?"
            params.append(cursor)
        query += " ORDER BY time DESC, seq DESC LIMIT ?"
        params.append(STREAM_PAGE_SIZE)
        with self.db.connect() as conn:
            rows = conn.execute(query, params).fetchall()
        return [{"time": r["time"], "root": r["root"], "sidekey": r["sidekey"]} for r in rows]

    def _purchase_stream(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        user_id, device_id = _text(body, "userId", "deviceId")
        self._check_key(user_id, body.get("apiKey"))
        try:
            self.purchase(user_id, device_id)
        except MarketError as exc:
            if exc.status == 200:  # refused in the answer, as the cloud function does
                return {"error": str(exc)}
            raise
        return {"success": True}
