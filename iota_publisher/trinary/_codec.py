"""Trytes, trits, integers and the legacy ASCII codec.

A *trit* is -1, 0 or 1; a *tryte* is three trits, written as one character of
``9ABCDEFGHIJKLMNOPQRSTUVWXYZ`` (``9`` = 0, ``A``..``M`` = 1..13,
``N``..``Z`` = -13..-1). Trits are little-endian: the first trit of a tryte
is the least significant, and so are the first trits of an integer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import chain

from ..errors import InvalidInputError, InvalidTrytesError

__all__ = [
    "TRYTE_ALPHABET",
    "ascii_to_trytes",
    "int_to_trits",
    "is_trytes",
    "pad_trytes",
    "trits_to_int",
    "trits_to_trytes",
    "tryte_value",
    "trytes_to_ascii",
    "trytes_to_trits",
    "validate_trits",
    "validate_trytes",
]

TRYTE_ALPHABET = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_TRYTES_RE = re.compile(r"[9A-Z]*")
_BAD_TRYTE_RE = re.compile(r"[^9A-Z]")


def _balanced_digits(value: int, count: int) -> tuple[int, ...]:
    digits = []
    for _ in range(count):
        r = value % 3
        value //= 3
        if r == 2:
            r = -1
            value += 1
        digits.append(r)
    return tuple(digits)


# tryte character -> its three trits, and back
_TRYTE_TRITS: dict[str, tuple[int, int, int]] = {
    c: _balanced_digits(i if i <= 13 else i - 27, 3)  # type: ignore[misc]
    for i, c in enumerate(TRYTE_ALPHABET)
}
_TRITS_TRYTE: dict[tuple[int, int, int], str] = {v: k for k, v in _TRYTE_TRITS.items()}
_TRYTE_VALUE: dict[str, int] = {c: (i if i <= 13 else i - 27) for i, c in enumerate(TRYTE_ALPHABET)}


def is_trytes(value: object, length: int | None = None) -> bool:
    """Tell whether ``value`` is a tryte string (of exactly ``length``, if given)."""
    if not isinstance(value, str) or not _TRYTES_RE.fullmatch(value):
        return False
    return length is None or len(value) == length


def validate_trytes(
    value: object,
    field: str = "trytes",
    *,
    length: int | None = None,
    max_length: int | None = None,
    secret: bool = False,
) -> str:
    """Return ``value`` if it is a valid tryte string, else raise.

    ``field`` names the argument in the error message. With ``secret=True``
    the message says where the bad character is but not what it is, so that
    a mistyped seed is not half-printed into a log.
    """
    if not isinstance(value, str):
        raise InvalidTrytesError(
            f"{field} must be a string of trytes (9 and A-Z), not {type(value).__name__}",
            field=field,
        )
    bad = _BAD_TRYTE_RE.search(value)
    if bad is not None:
        what = "an invalid character" if secret else f"the character {bad.group()!r}"
        raise InvalidTrytesError(
            f"{field} must contain only the characters 9 and A-Z; "
            f"found {what} at position {bad.start()}",
            field=field,
        )
    if length is not None and len(value) != length:
        raise InvalidTrytesError(
            f"{field} must be exactly {length} trytes long, not {len(value)}", field=field
        )
    if max_length is not None and len(value) > max_length:
        raise InvalidTrytesError(
            f"{field} must be at most {max_length} trytes long, not {len(value)}", field=field
        )
    return value


def validate_trits(value: Sequence[int], field: str = "trits", *, multiple_of: int = 1) -> None:
    """Raise unless ``value`` holds only -1, 0 and 1 (and its length is a multiple)."""
    if len(value) % multiple_of:
        raise InvalidInputError(
            f"{field} must have a length that is a multiple of {multiple_of}, not {len(value)}",
            field=field,
        )
    if not set(value) <= {-1, 0, 1}:
        bad = next(t for t in value if t not in (-1, 0, 1))
        raise InvalidInputError(f"{field} must hold only -1, 0 and 1; found {bad!r}", field=field)


def pad_trytes(value: str, length: int) -> str:
    """Pad a tryte string on the right with ``9`` up to ``length``."""
    return value + "9" * (length - len(value))


def tryte_value(tryte: str) -> int:
    """The integer value (-13..13) of one tryte character."""
    try:
        return _TRYTE_VALUE[tryte]
    except KeyError:
        raise InvalidTrytesError(f"{tryte!r} is not a tryte", field="tryte") from None


def trytes_to_trits(trytes: str) -> list[int]:
    """Convert a tryte string to a list of trits (3 per tryte)."""
    validate_trytes(trytes)
    return list(chain.from_iterable(map(_TRYTE_TRITS.__getitem__, trytes)))


def trits_to_trytes(trits: Sequence[int]) -> str:
    """Convert trits (length a multiple of 3) to a tryte string."""
    if len(trits) % 3:
        raise InvalidInputError(
            f"trits must have a length that is a multiple of 3 to form trytes, not {len(trits)}",
            field="trits",
        )
    it = iter(trits)
    try:
        return "".join(map(_TRITS_TRYTE.__getitem__, zip(it, it, it, strict=False)))
    except KeyError:
        validate_trits(trits)
        raise  # pragma: no cover - validate_trits raised already


def trits_to_int(trits: Iterable[int]) -> int:
    """The integer whose balanced-ternary digits (least significant first) are ``trits``."""
    value = 0
    for t in reversed(list(trits)):
        value = value * 3 + t
    return value


def int_to_trits(value: int, length: int | None = None) -> list[int]:
    """Balanced-ternary digits of ``value``, least significant first.

    Without ``length`` the shortest form is returned (``[]`` for 0, as the
    reference ``fromValue`` does); with ``length`` the digits are padded with
    zeros, and a value that does not fit raises.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInputError(f"value must be an int, not {type(value).__name__}", field="value")
    digits: list[int] = []
    v = value
    while v:  # a tryte (three digits) per step
        v, r = divmod(v, 27)
        if r > 13:
            r -= 27
            v += 1
        digits.extend(_TRYTE_TRITS[TRYTE_ALPHABET[r]])
    while digits and digits[-1] == 0:
        digits.pop()
    if length is not None:
        if len(digits) > length:
            raise InvalidInputError(f"{value} does not fit in {length} trits", field="value")
        digits.extend([0] * (length - len(digits)))
    return digits


def ascii_to_trytes(text: str) -> str:
    """Encode ASCII text as trytes, two trytes per character (the legacy codec).

    Only characters 0-127 are accepted: the reference decoders read nothing
    else back. Escape other characters first (``json.dumps`` does by default).
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a str, not {type(text).__name__}", field="text")
    if not text.isascii():
        pos, ch = next((i, c) for i, c in enumerate(text) if ord(c) > 127)
        raise InvalidInputError(
            f"text must be ASCII; character {ch!r} (U+{ord(ch):04X}) at position {pos} is not",
            field="text",
        )
    return "".join(
        TRYTE_ALPHABET[code % 27] + TRYTE_ALPHABET[code // 27] for code in text.encode("ascii")
    )


def trytes_to_ascii(trytes: str) -> str:
    """Decode trytes written by :func:`ascii_to_trytes` (even length required).

    As the reference decoder does, every pair becomes one character (so trytes
    that were never ASCII decode to characters above 127 rather than failing)
    and ``99`` pairs (NUL) are dropped, which also drops the ``9`` padding of
    a message read back from the Tangle.
    """
    validate_trytes(trytes)
    if len(trytes) % 2:
        raise InvalidTrytesError(
            f"trytes must have an even length to decode as ASCII, not {len(trytes)}",
            field="trytes",
        )
    index = TRYTE_ALPHABET.index
    codes = (index(trytes[i]) + 27 * index(trytes[i + 1]) for i in range(0, len(trytes), 2))
    return "".join(chr(code) for code in codes if code)
