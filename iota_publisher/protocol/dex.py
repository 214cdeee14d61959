"""The HAT Data Exchange (DEX) API: paths, offers, claims, and whether a device can
satisfy an offer. Sans-I/O, shared by :mod:`iota_publisher.dex` and
:mod:`iota_publisher.sandbox.dex`.

An offer is ``{offerId, title, description, starts, expires (ms),
collectionDuration (ms), dataConditions?, requiredData: {name, bundle},
requiredMinUser, requiredMaxUser, status}``; DEX's list adds how many HATs
claimed it (``totalUserClaims``, when it says). A claim is ``{offerId, user:
{address, publicKey}, relationship: "claim", confirmed, dataDebitId,
dateCreated, claimerNumber?}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProtocolError
from . import hat as _hat

__all__ = [
    "ACCESS_TOKEN_PATH",
    "APPLICATION",
    "MARKETPLACE_ROLE",
    "REASONS",
    "Claim",
    "Credentials",
    "Offer",
    "Verdict",
    "claim",
    "claims",
    "offer",
    "offers",
    "satisfiable",
]

ACCESS_TOKEN_PATH = "/api/users/access_token"
REGISTER_HAT_PATH = "/api/users/registerHat"
OFFERS_PATH = "/api/v2/offers"
OFFER_PATH = "/api/v2/offer"
APPLICATION = "dex"  # the application a HAT issues DEX's token for
MARKETPLACE_ROLE = "MarketPlace"
# DEX's offer statuses; an approved offer stays claimable once satisfied (requiredMinUser
# reached) and is full when oversubscribed
STATUSES = frozenset({"draft", "paid", "approved", "rejected", "oversubscribed", "satisfied"})
CLAIMABLE_STATUSES = frozenset({"approved", "satisfied"})
FULL_STATUS = "oversubscribed"
REASONS = ("ok", "rejected", "not_started", "expired", "full", "unsatisfiable")


def _ms(value: object, name: str) -> int:
    if isinstance(value, str):  # DEX's DateTimes may come as ISO 8601 strings
        return _hat.parse_time(value, name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(name, "must be a non-negative int (ms)", kind="type")
    return value


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(name, "must be a non-negative int", kind="type")
    return value


def _text(data: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ProtocolError(name, "must be a non-empty string", kind="type")
    return value


@dataclass(frozen=True)
class Offer:
    """One DEX offer (times in ms). ``claims`` is how many HATs claimed it, if DEX said;
    ``collection_duration`` is ``None`` when the offer sets none (data until it expires)."""

    offer_id: str
    title: str
    description: str
    starts: int
    expires: int
    collection_duration: int | None
    bundle_name: str
    required_data: Mapping[str, Any] = field(repr=False)
    min_users: int
    max_users: int
    status: str
    data_conditions: Mapping[str, Any] | None = field(default=None, repr=False)
    claims: int | None = None

    def collects_for(self, now_ms: int) -> int:
        """Milliseconds a claim made at ``now_ms`` collects data."""
        if self.collection_duration is not None:
            return self.collection_duration
        return max(0, self.expires - now_ms)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "offerId": self.offer_id,
            "title": self.title,
            "description": self.description,
            "starts": self.starts,
            "expires": self.expires,
            "requiredData": {"name": self.bundle_name, "bundle": dict(self.required_data)},
            "requiredMinUser": self.min_users,
            "requiredMaxUser": self.max_users,
            "status": self.status,
        }
        if self.collection_duration is not None:
            out["collectionDuration"] = self.collection_duration
        if self.data_conditions is not None:
            out["dataConditions"] = dict(self.data_conditions)
        if self.claims is not None:
            out["totalUserClaims"] = self.claims
        return out


def _bundle_of(value: object, name: str) -> tuple[str, dict[str, Any]]:
    """``(name, bundle)`` of ``{name, bundle}`` (or of a bare bundle: its name is empty)."""
    if isinstance(value, dict) and isinstance(value.get("bundle"), dict):
        label = value.get("name")
        return (label if isinstance(label, str) else ""), _hat.bundle(value["bundle"])
    if isinstance(value, dict):
        return "", _hat.bundle(value)
    raise ProtocolError(name, "must be a data bundle", kind="type")


def offer(data: object) -> Offer:
    """A checked offer."""
    if not isinstance(data, dict):
        raise ProtocolError("offer", "is not an object", kind="type")
    bundle_name, required = _bundle_of(data.get("requiredData"), "requiredData")
    conditions = data.get("dataConditions")
    if conditions is not None:
        conditions = _bundle_of(conditions, "dataConditions")[1]
    status = _text(data, "status")
    min_users = _count(data.get("requiredMinUser", 0), "requiredMinUser")
    max_users = _count(data.get("requiredMaxUser"), "requiredMaxUser")
    if max_users < max(min_users, 1):
        raise ProtocolError("requiredMaxUser", "must be at least 1 and requiredMinUser")
    starts, expires = _ms(data.get("starts"), "starts"), _ms(data.get("expires"), "expires")
    if expires <= starts:
        raise ProtocolError("expires", "must be after starts", kind="range")
    claimed = data.get("totalUserClaims")
    duration = data.get("collectionDuration")
    return Offer(
        offer_id=_text(data, "offerId"),
        title=_text(data, "title"),
        description=_text(data, "description", required=False),
        starts=starts,
        expires=expires,
        collection_duration=None if duration is None else _ms(duration, "collectionDuration"),
        bundle_name=bundle_name or _text(data, "offerId"),
        required_data=required,
        min_users=min_users,
        max_users=max_users,
        status=status,
        data_conditions=conditions,
        claims=None if claimed is None else _count(claimed, "totalUserClaims"),
    )


def offers(data: object) -> list[Offer]:
    """The offers list (a JSON array)."""
    if not isinstance(data, list):
        raise ProtocolError("offers", "expected a list of offers", kind="type")
    return [offer(entry) for entry in data]


@dataclass(frozen=True)
class Claim:
    """A claim of an offer by the HAT at ``address``; ``data_debit_id`` names the debit."""

    offer_id: str
    address: str
    confirmed: bool
    data_debit_id: str
    date_created: int
    public_key: str = field(default="", repr=False)
    claimer_number: int | None = None


def claim(data: object) -> Claim:
    if not isinstance(data, dict):
        raise ProtocolError("claim", "is not an object", kind="type")
    user = data.get("user")
    if not isinstance(user, dict):
        raise ProtocolError("user", "is missing from the claim", kind="missing")
    number = data.get("claimerNumber")
    return Claim(
        offer_id=_text(data, "offerId"),
        address=_text(user, "address"),
        confirmed=data.get("confirmed") is True,
        data_debit_id=_text(data, "dataDebitId"),
        date_created=_ms(data.get("dateCreated", 0), "dateCreated"),
        public_key=user.get("publicKey") if isinstance(user.get("publicKey"), str) else "",
        claimer_number=number if isinstance(number, int) and not isinstance(number, bool) else None,
    )


@dataclass(frozen=True)
class Credentials:
    """What DEX issues an offer's owner to collect data: ``login`` and ``password``."""

    offer_id: str
    login: str
    password: str = field(repr=False)


def claims(data: object) -> tuple[Credentials | None, list[Claim]]:
    """``(credentials, claims)`` of an offer's claims answer (credentials ``None`` when DEX
    has not issued them yet)."""
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ProtocolError("claims", "expected {credentials, claims}", kind="type")
    raw = data.get("credentials")
    creds = None
    if isinstance(raw, dict):
        creds = Credentials(_text(raw, "offerId"), _text(raw, "login"), _text(raw, "passwordPlain"))
    return creds, [claim(c) for c in data["claims"]]


# -- can this device satisfy an offer? ----------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether a device can claim an offer: ``reason`` is ``"ok"`` or one of
    :data:`REASONS`; ``detail`` says why in words; ``fields`` lists
    ``(property, name in the buyer's data, path in the record)`` the debit gives."""

    reason: str
    detail: str
    fields: tuple[tuple[str, str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def _unknown_paths(
    query: Mapping[str, Any], record_fields: frozenset[str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """(paths the device's records lack, [(out, path)] of the mapping)."""
    mapping = query.get("mapping")
    pairs = list(mapping.items()) if isinstance(mapping, dict) else []
    paths = [p for _, p in pairs] + [f["field"] for f in query.get("filters") or ()]
    missing = [p for p in paths if p.split(".")[0] not in record_fields]
    return missing, pairs


def _check_bundle(
    spec: Mapping[str, Any], target: str, record_fields: frozenset[str], what: str
) -> tuple[str | None, list[tuple[str, str, str]]]:
    given: list[tuple[str, str, str]] = []
    for prop, entry in spec.items():
        for query in entry["endpoints"]:
            ep = query["endpoint"]
            if ep != target:
                return f"{what} asks for endpoint {ep!r}; this device writes {target!r}", []
            missing, pairs = _unknown_paths(query, record_fields)
            if missing:
                return (
                    f"{what} asks for {', '.join(repr(m) for m in missing)}, which this "
                    f"device's records do not hold",
                    [],
                )
            if query.get("links"):
                return f"{what} asks for linked endpoints, which this device does not write", []
            if not pairs:
                given.extend((prop, name, name) for name in sorted(record_fields))
            given.extend((prop, out, path) for out, path in pairs)
    return None, given


def satisfiable(
    item: Offer,
    *,
    namespace: str,
    endpoint: str,
    field_ids: Iterable[str],
    now_ms: int,
) -> Verdict:
    """Whether a device whose HAT records live at ``namespace/endpoint`` and hold
    ``field_ids`` (plus ``time`` and ``deviceId``) can claim ``item`` at ``now_ms``:
    approved, started, not expired, not full, and every endpoint query of its
    ``requiredData`` (and ``dataConditions``) asks for this endpoint and only for
    fields its records have."""
    target = _hat.full_endpoint(namespace, endpoint)
    record_fields = frozenset(field_ids) | {_hat.RECORD_TIME, _hat.RECORD_DEVICE}
    if item.status == FULL_STATUS:
        return Verdict("full", "the offer is oversubscribed")
    if item.status not in CLAIMABLE_STATUSES:
        return Verdict("rejected", f"the offer's status is {item.status!r}")
    if now_ms < item.starts:
        return Verdict("not_started", "the offer is not open for claims yet")
    if now_ms >= item.expires:
        return Verdict("expired", "the offer has expired")
    if item.claims is not None and item.claims >= item.max_users:
        return Verdict("full", f"{item.claims} of at most {item.max_users} HATs claimed it")
    problem, given = _check_bundle(item.required_data, target, record_fields, "requiredData")
    if problem is None and item.data_conditions is not None:
        problem, _ = _check_bundle(item.data_conditions, target, record_fields, "dataConditions")
    if problem is not None:
        return Verdict("unsatisfiable", problem)
    return Verdict("ok", "this device's records hold everything the offer asks for", tuple(given))
