"""Small helpers for the words of error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["TEXT_LIMIT", "clip", "did_you_mean"]

TEXT_LIMIT = 500  # characters of a peer's error text kept in exceptions


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """``"; did you mean 'x'?"`` when ``word`` is close to one of ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters (``...`` marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
