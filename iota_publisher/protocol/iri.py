"""The legacy IRI node API, spoken once: names, limits, parameter and answer checks.

Sans-I/O: request bodies are built and answers checked here, as plain
dicts; sending them is the caller's business (the client in
:mod:`iota_publisher.node`, the sandbox server, the test stand-ins).

Every check raises :class:`~iota_publisher.errors.ProtocolError` naming the
wire parameter (``field``), the list entry (``index``) and what is wrong
(``kind``). A client turns it into an
:class:`~iota_publisher.errors.InvalidInputError` before anything is sent
(or an invalid-answer error when it checks an answer); a server answers
``400 {"error": iri_message(exc)}``, worded as IRI words its refusals.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidInputError, ProtocolError
from ..trinary import Transaction, is_trytes, pad_trytes, validate_bundle
from ..trinary.checksum import strip_checksum
from ..trinary.transaction import OFFSETS
from ..trinary.transaction import TRANSACTION_LENGTH as _TRANSACTION_LENGTH

__all__ = [
    "API_VERSION",
    "API_VERSION_HEADER",
    "ATTACH_TO_TANGLE",
    "BROADCAST_TRANSACTIONS",
    "CHECK_CONSISTENCY",
    "COMMANDS",
    "FIND_TRANSACTIONS",
    "GET_NODE_INFO",
    "GET_TRANSACTIONS_TO_APPROVE",
    "GET_TRYTES",
    "HASH_LENGTH",
    "HEADERS",
    "MAX_BODY_LENGTH",
    "MAX_DEPTH",
    "MAX_FIND_TRANSACTIONS",
    "MAX_GET_TRYTES",
    "MAX_MWM",
    "MAX_REQUEST_LIST",
    "MAX_TIMESTAMP_AHEAD",
    "MIN_MWM",
    "NONCE_LENGTH",
    "NULL_HASH",
    "NULL_TRYTES",
    "STORE_TRANSACTIONS",
    "TAG_LENGTH",
    "TRANSACTION_LENGTH",
    "address_list",
    "answer_limit",
    "attach_answer",
    "attach_to_tangle",
    "broadcast_transactions",
    "check_attached",
    "check_consistency",
    "consistency_answer",
    "depth",
    "encode",
    "error_of",
    "find_transactions",
    "get_node_info",
    "get_transactions_to_approve",
    "get_trytes",
    "hash_list",
    "hash_value",
    "integer",
    "iri_message",
    "mwm",
    "require",
    "store_transactions",
    "string_list",
    "tag_list",
    "tips_answer",
    "transaction_list",
    "transaction_of",
    "tryte_field",
    "tryte_list",
    "tryte_value",
]

# -- the wire ---------------------------------------------------------------------------

API_VERSION_HEADER = "X-IOTA-API-Version"
API_VERSION = "1"
HEADERS: Mapping[str, str] = {"Content-Type": "application/json", API_VERSION_HEADER: API_VERSION}

GET_NODE_INFO = "getNodeInfo"
GET_TRANSACTIONS_TO_APPROVE = "getTransactionsToApprove"
ATTACH_TO_TANGLE = "attachToTangle"
STORE_TRANSACTIONS = "storeTransactions"
BROADCAST_TRANSACTIONS = "broadcastTransactions"
FIND_TRANSACTIONS = "findTransactions"
GET_TRYTES = "getTrytes"
CHECK_CONSISTENCY = "checkConsistency"
COMMANDS = frozenset(
    {
        GET_NODE_INFO,
        "getNeighbors",
        "getTips",
        GET_TRANSACTIONS_TO_APPROVE,
        ATTACH_TO_TANGLE,
        "interruptAttachingToTangle",
        STORE_TRANSACTIONS,
        BROADCAST_TRANSACTIONS,
        FIND_TRANSACTIONS,
        GET_TRYTES,
        "getInclusionStates",
        CHECK_CONSISTENCY,
        "getBalances",
        "wereAddressesSpentFrom",
    }
)

# -- sizes and IRI's limits -----------------------------------------------------------------

HASH_LENGTH = 81  # trytes of a hash or an address (without checksum)
ADDRESS_WITH_CHECKSUM_LENGTH = 90
TAG_LENGTH = 27
NONCE_LENGTH = 27
TRANSACTION_LENGTH = _TRANSACTION_LENGTH  # 2673
NULL_HASH = "9" * HASH_LENGTH
NULL_TRYTES = "9" * TRANSACTION_LENGTH
MIN_MWM = 1
MAX_MWM = 243  # trits of a hash
MAX_REQUEST_LIST = 1_000  # IRI's maxRequestsList: trytes per store/broadcast/attach, keys per find
MAX_GET_TRYTES = 10_000  # IRI's maxGetTrytes
MAX_FIND_TRANSACTIONS = 100_000  # IRI's maxFindTransactions
MAX_DEPTH = 15  # IRI's maxDepth
MAX_BODY_LENGTH = 1_000_000  # IRI's maxBodyLength (characters of a request)
MAX_TIMESTAMP_AHEAD = 2 * 3600  # seconds a transaction's timestamp may lie ahead of the node's

_ANSWER_BASE = 1_000_000  # bytes an answer may take beyond its per-entry size
_DEFAULT_ANSWER = 10_000_000  # bytes of any other answer
_UNCHANGED_BY_ATTACH = OFFSETS["trunk_transaction"][0]  # attachToTangle keeps what lies before


def answer_limit(command: str, count: int = 0) -> int:
    """Bytes an answer to ``command`` about ``count`` entries may sensibly take.

    ``getTrytes`` and ``attachToTangle`` answer 2673 trytes per entry (a
    getTrytes of 10000 hashes is about 27 MB); ``findTransactions`` up to
    100000 hashes; everything else is small.
    """
    if command in (GET_TRYTES, ATTACH_TO_TANGLE):
        return _ANSWER_BASE + count * (TRANSACTION_LENGTH + 3)
    if command == FIND_TRANSACTIONS:
        return _ANSWER_BASE + MAX_FIND_TRANSACTIONS * (HASH_LENGTH + 3)
    return _DEFAULT_ANSWER


def iri_message(exc: ProtocolError) -> str:
    """A refusal worded as IRI words it (``Invalid trytes input: ...``), for a server's 400."""
    if exc.kind == "missing":
        return f"Invalid parameters: {exc}"
    if exc.kind == "too_many":
        return f"Could not complete request: more than {exc.limit} {exc.field}"
    return f"Invalid {exc.field} input: {exc}"


# -- parameter checks (shared by the client and the sandbox server) ----------------------------


def require(params: Mapping[str, Any], name: str) -> Any:
    """``params[name]``; a missing one is a ``missing`` :class:`ProtocolError`."""
    if name not in params:
        raise ProtocolError(name, "is missing", kind="missing")
    return params[name]


def integer(
    value: object,
    name: str,
    low: int | None = None,
    high: int | None = None,
    *,
    floats: bool = False,
) -> int:
    """An int in ``low..high`` (bools are not ints; with ``floats``, 3.0 counts as 3)."""
    if floats and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON numbers from some clients
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        if low is not None and high is not None:
            bounds = f" from {low} to {high}"
        elif low is not None:
            bounds = f" of at least {low}"
        else:
            bounds = ""
        kind = "type" if isinstance(value, bool) or not isinstance(value, int) else "range"
        raise ProtocolError(name, f"must be an int{bounds}, not {value!r:.40}", kind=kind)
    return value


def depth(value: object, *, low: int = 0, floats: bool = False) -> int:
    """Tip selection depth: ``low`` (IRI: 0) to :data:`MAX_DEPTH`."""
    return integer(value, "depth", low, MAX_DEPTH, floats=floats)


def mwm(value: object, name: str = "minWeightMagnitude", *, floats: bool = False) -> int:
    """A minimum weight magnitude, :data:`MIN_MWM` to :data:`MAX_MWM` trits."""
    return integer(value, name, MIN_MWM, MAX_MWM, floats=floats)


def tryte_value(
    value: object,
    name: str,
    *,
    length: int | None = None,
    max_length: int | None = None,
    index: int | None = None,
) -> str:
    """A tryte string (of exactly ``length``, or at most ``max_length``)."""
    if not isinstance(value, str):
        raise ProtocolError(
            name,
            f"must be a string of trytes (9 and A-Z), not {type(value).__name__}",
            kind="trytes",
            index=index,
        )
    if not is_trytes(value):
        bad = next(i for i, c in enumerate(value) if not is_trytes(c))
        raise ProtocolError(
            name,
            f"must contain only the characters 9 and A-Z; found {value[bad]!r} at position {bad}",
            kind="trytes",
            index=index,
        )
    if length is not None and len(value) != length:
        raise ProtocolError(
            name,
            f"must be exactly {length} trytes long, not {len(value)}",
            kind="trytes",
            index=index,
        )
    if max_length is not None and len(value) > max_length:
        raise ProtocolError(
            name,
            f"must be at most {max_length} trytes long, not {len(value)}",
            kind="trytes",
            index=index,
        )
    return value


def hash_value(value: object, name: str) -> str:
    """One 81-tryte hash."""
    return tryte_value(value, name, length=HASH_LENGTH)


def _entries(values: object, name: str, empty: bool, limit: int | None) -> Sequence[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ProtocolError(name, "must be a list of tryte strings", kind="type")
    if not values and not empty:
        raise ProtocolError(name, "must not be empty", kind="empty")
    if limit is not None and len(values) > limit:
        raise ProtocolError(
            name,
            f"must hold at most {limit} entries, not {len(values)}",
            kind="too_many",
            limit=limit,
        )
    return values


def tryte_list(
    values: object,
    name: str,
    *,
    length: int | None = None,
    max_length: int | None = None,
    empty: bool = False,
    limit: int | None = MAX_REQUEST_LIST,
) -> list[str]:
    """A list of tryte strings (non-empty unless ``empty``, at most ``limit`` entries)."""
    return [
        tryte_value(v, name, length=length, max_length=max_length, index=i)
        for i, v in enumerate(_entries(values, name, empty, limit))
    ]


def hash_list(
    values: object, name: str, *, empty: bool = False, limit: int | None = MAX_REQUEST_LIST
) -> list[str]:
    """A list of 81-tryte hashes."""
    return tryte_list(values, name, length=HASH_LENGTH, empty=empty, limit=limit)


def transaction_list(
    values: object, name: str = "trytes", *, limit: int | None = MAX_REQUEST_LIST
) -> list[str]:
    """A non-empty list of 2673-tryte transactions."""
    return tryte_list(values, name, length=TRANSACTION_LENGTH, limit=limit)


def address_list(
    values: object, name: str = "addresses", *, empty: bool = False, checksum: bool = True
) -> list[str]:
    """81-tryte addresses; with ``checksum``, 90 trytes with a valid checksum are stripped to 81."""
    out = []
    for i, given in enumerate(_entries(values, name, empty, MAX_REQUEST_LIST)):
        value = given
        if checksum and is_trytes(given, ADDRESS_WITH_CHECKSUM_LENGTH):
            try:
                value = strip_checksum(given)
            except InvalidInputError as exc:
                raise ProtocolError(name, "has a wrong checksum", kind="trytes", index=i) from exc
        out.append(tryte_value(value, name, length=HASH_LENGTH, index=i))
    return out


def tag_list(
    values: object, name: str = "tags", *, empty: bool = False, padded: bool = False
) -> list[str]:
    """Tags of up to 27 trytes, padded with ``9`` to 27 (as IRI stores them).

    With ``padded`` (a server's leniency), a tag of up to 81 trytes whose
    trytes beyond the 27th are all ``9`` is that padding of its first 27:
    IRI pads tags with ``9``, so it is the same tag."""
    if not padded:
        checked = tryte_list(values, name, max_length=TAG_LENGTH, empty=empty)
        return [pad_trytes(t, TAG_LENGTH) for t in checked]
    out = []
    for i, tag in enumerate(tryte_list(values, name, max_length=HASH_LENGTH, empty=empty)):
        if tag[TAG_LENGTH:].strip("9"):
            raise ProtocolError(
                name,
                f"must be at most {TAG_LENGTH} trytes long (or padded with 9), not {len(tag)}",
                kind="trytes",
                index=i,
            )
        out.append(pad_trytes(tag[:TAG_LENGTH], TAG_LENGTH))
    return out


def string_list(
    values: object, name: str, *, empty: bool = False, limit: int | None = MAX_REQUEST_LIST
) -> list[str]:
    """A list of strings of any content (neighbour URIs)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ProtocolError(name, "must be a list of strings", kind="type")
    checked = list(_entries(values, name, empty, limit))
    for i, value in enumerate(checked):
        if not isinstance(value, str):
            raise ProtocolError(
                name, f"must be a string, not {type(value).__name__}", kind="type", index=i
            )
    return checked


# -- requests ---------------------------------------------------------------------------------


def encode(body: Mapping[str, Any]) -> bytes:
    """A request body as JSON bytes (ASCII); a value JSON cannot hold is a ``type`` error."""
    try:
        return json.dumps(body).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise ProtocolError("params", f"are not JSON: {exc}", kind="type") from exc


def get_node_info() -> dict[str, Any]:
    return {"command": GET_NODE_INFO}


def get_transactions_to_approve(depth_: int = 3, reference: str | None = None) -> dict[str, Any]:
    """Tips to approve; a client asks for a depth of at least 1."""
    body: dict[str, Any] = {"command": GET_TRANSACTIONS_TO_APPROVE, "depth": depth(depth_, low=1)}
    if reference is not None:
        body["reference"] = hash_value(reference, "reference")
    return body


def attach_to_tangle(trunk: str, branch: str, mwm_: int, trytes: object) -> dict[str, Any]:
    """Proof of work on the node for ``trytes`` (highest index first)."""
    return {
        "command": ATTACH_TO_TANGLE,
        "trunkTransaction": hash_value(trunk, "trunkTransaction"),
        "branchTransaction": hash_value(branch, "branchTransaction"),
        "minWeightMagnitude": mwm(mwm_),
        "trytes": transaction_list(trytes),
    }


def store_transactions(trytes: object) -> dict[str, Any]:
    return {"command": STORE_TRANSACTIONS, "trytes": transaction_list(trytes)}


def broadcast_transactions(trytes: object) -> dict[str, Any]:
    return {"command": BROADCAST_TRANSACTIONS, "trytes": transaction_list(trytes)}


def find_transactions(
    *,
    addresses: object = None,
    bundles: object = None,
    tags: object = None,
    approvees: object = None,
) -> dict[str, Any]:
    """Hashes matching any value of each list given (at least one). Addresses are
    81 trytes (no checksum); tags up to 27, sent padded."""
    body: dict[str, Any] = {"command": FIND_TRANSACTIONS}
    if addresses is not None:
        body["addresses"] = address_list(addresses, checksum=False)
    if bundles is not None:
        body["bundles"] = hash_list(bundles, "bundles")
    if tags is not None:
        body["tags"] = tag_list(tags)
    if approvees is not None:
        body["approvees"] = hash_list(approvees, "approvees")
    if len(body) == 1:
        raise ProtocolError(
            "addresses", "(or bundles, tags or approvees) must be given", kind="missing"
        )
    return body


def get_trytes(hashes: object) -> dict[str, Any]:
    return {"command": GET_TRYTES, "hashes": hash_list(hashes, "hashes", limit=MAX_GET_TRYTES)}


def check_consistency(tails: object) -> dict[str, Any]:
    return {"command": CHECK_CONSISTENCY, "tails": hash_list(tails, "tails")}


# -- answers ----------------------------------------------------------------------------------


def error_of(answer: object) -> str | None:
    """The refusal an answer carries (IRI's ``error``, or ``exception`` for a crash), if any."""
    if not isinstance(answer, dict):
        return None
    error = answer.get("error", answer.get("exception"))
    return None if error is None else str(error)


def tryte_field(
    answer: Mapping[str, Any], key: str, length: int, count: int | None = None
) -> list[str]:
    """``answer[key]``: a list of ``length``-tryte strings (``count`` of them, if given)."""
    value = answer.get(key)
    if not (isinstance(value, list) and all(is_trytes(v, length) for v in value)):
        raise ProtocolError(key, f"must be a list of {length}-tryte strings", kind="type")
    if count is not None and len(value) != count:
        raise ProtocolError(key, f"holds {len(value)} entries, not {count}", kind="range")
    return value


def tips_answer(answer: Mapping[str, Any]) -> tuple[str, str]:
    """``(trunk, branch)`` of a getTransactionsToApprove answer."""
    tips = []
    for key in ("trunkTransaction", "branchTransaction"):
        value = answer.get(key)
        if not is_trytes(value, HASH_LENGTH):
            raise ProtocolError(key, "must be an 81-tryte hash", kind="trytes")
        tips.append(value)
    return tips[0], tips[1]


def attach_answer(answer: Mapping[str, Any], sent: Sequence[str]) -> list[str]:
    """The ``trytes`` of an attachToTangle answer: as many as were sent, and the
    same transactions (every field before ``trunkTransaction`` unchanged)."""
    attached = tryte_field(answer, "trytes", TRANSACTION_LENGTH, len(sent))
    cut = _UNCHANGED_BY_ATTACH
    if Counter(t[:cut] for t in attached) != Counter(t[:cut] for t in sent):
        raise ProtocolError("trytes", "are not the transactions sent", kind="format")
    return attached


def check_attached(attached: Sequence[str], trunk: str, branch: str, mwm_: int) -> None:
    """Check attached trytes as attachToTangle must have made them (for remote PoW).

    One consistent bundle (indexes, bundle hash), every hash with at least
    ``mwm_`` trailing zero trits (the work itself: a node that did none is
    caught here; an all-``9`` nonce is no sign of that, since a search that
    starts from the transaction's own nonce, as IRI's does, returns it when
    the hash already has the weight), and the chaining attachToTangle makes:
    the head (highest index) approves ``trunk`` and ``branch``, every other
    transaction has the next index's hash as trunk and ``trunk`` as branch.
    """
    try:
        txs = validate_bundle(list(attached), mwm=mwm_)
    except InvalidInputError as exc:
        raise ProtocolError("trytes", f"are not an attached bundle: {exc}") from exc
    head = txs[-1]
    if (head.trunk_transaction, head.branch_transaction) != (trunk, branch):
        raise ProtocolError("trytes", "do not approve the tips given", kind="format")


def consistency_answer(answer: Mapping[str, Any]) -> tuple[bool, str | None]:
    """``(state, info)`` of a checkConsistency answer."""
    state, info = answer.get("state"), answer.get("info")
    if not isinstance(state, bool):
        raise ProtocolError("state", "must be a boolean", kind="type")
    if info is not None and not isinstance(info, str):
        raise ProtocolError("info", "must be a string", kind="type")
    return state, info


def transaction_of(trytes: str, index: int | None = None, name: str = "trytes") -> Transaction:
    """Decode one transaction's trytes; a bad one is a ``trytes`` :class:`ProtocolError`."""
    try:
        return Transaction.from_trytes(trytes)
    except InvalidInputError as exc:
        raise ProtocolError(name, f"do not decode: {exc}", kind="trytes", index=index) from exc
