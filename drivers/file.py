"""The ``file`` source: a file's JSON records, one per read.

It replaces the 2019 marketplace template's first example (publishing each
object of a static ``data.json``). Records become readings as :mod:`._json`
describes; after the last record a read raises :class:`SourceExhausted`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError
from ._base import Option, Readings, SensorUnavailableError, SourceExhausted, check_value
from ._json import JSON_OPTIONS, JsonSource

__all__ = ["FileSource"]


class _Bad:
    """A record that could not be decoded, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_WS = re.compile(r"[ \t\n\r]*")
_BOM = b"\xef\xbb\xbf"


def _array_records(text: str) -> Iterator[tuple[int, Any]]:
    """(line, element) for each element of a JSON array; a syntax error ends it with a _Bad."""
    decoder = json.JSONDecoder()
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    pos = _WS.match(text).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "[":
        yield line_at(pos), _Bad("expected a JSON array of objects")
        return
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "]":
        while True:
            try:
                element, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                yield (
                    exc.lineno,
                    _Bad(
                        f"not valid JSON ({exc.msg}, column {exc.colno}); "
                        "the rest of the file is skipped"
                    ),
                )
                return
            yield line_at(pos), element
            pos = _WS.match(text, end).end()  # type: ignore[union-attr]
            if text[pos : pos + 1] == ",":
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
                continue
            if text[pos : pos + 1] == "]":
                break
            yield (
                line_at(pos),
                _Bad("expected ',' or ']' in the JSON array; the rest of the file is skipped"),
            )
            return
    if _WS.match(text, pos + 1).end() != len(text):  # type: ignore[union-attr]
        yield line_at(pos + 1), _Bad("text after the end of the JSON array")


class FileSource(JsonSource):
    """Publish a file's records one by one: a JSON array of objects, or JSON Lines.

    Each :meth:`read` returns the next object's numbers and strings (nested
    ones flattened to ``a.b``). After the last record it raises
    :class:`SourceExhausted`, or with ``loop`` starts over (re-reading the
    file). A record that is not valid JSON, not an object, or holds nothing to
    publish raises :class:`SensorDataError` naming the file and line, and the
    next read moves on to the record after it. A syntax error inside a JSON
    array cannot be stepped over: the records before it are read, then the
    error, then the file counts as ended.

    JSON Lines files are read a line at a time (they may be large); an array
    is read whole, on the first read. Files are UTF-8; blank lines are skipped.

    Options: ``path`` (required; an existing file; relative to the working
    directory), ``format`` (``auto``: an array if the file starts with
    ``[``, else JSON Lines; ``json``; ``jsonl``), ``loop`` (default false),
    ``time_key`` (a path to the record's time, see :func:`parse_time`),
    ``units`` (reading name -> unit). Config, for the template's ``data.json``::

        {"name": "vehicles", "driver": "file",
         "options": {"path": "/home/pi/data.json", "loop": true}}

    and for a log of measurements ``{"ts": 1556712000123, "temp": 21.5}``::

        {"driver": "file", "options": {"path": "log.jsonl", "time_key": "ts",
                                        "units": {"temp": "C"}}}
    """

    name: ClassVar[str] = "file"
    FORMATS: ClassVar[tuple[str, ...]] = ("auto", "json", "jsonl")
    OPTIONS = (
        Option("path", (str, os.PathLike), None, "the file of records", required=True),
        Option("format", str, "auto", "a JSON array, JSON Lines, or guess", choices=FORMATS),
        Option("loop", bool, False, "start over after the last record"),
        *JSON_OPTIONS,
    )

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        format: str = "auto",
        loop: bool = False,
        time_key: str | None = None,
        units: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(time_key, units)
        given = check_value(self.name, "path", path, (str, os.PathLike), required=True)
        self.path = Path(given)
        if not self.path.is_file():
            raise ConfigError(
                f"driver 'file': option 'path': no file {str(self.path)!r}", field="path"
            )
        self.format: str = self.option("format").check(self.name, format)
        self.loop: bool = self.option("loop").check(self.name, loop)
        self._records: Iterator[tuple[int, Any]] | None = None
        self._taken = 0  # records (good or bad) taken in this pass over the file
        self._exhausted = False

    def read(self) -> Readings:
        self._check_open()
        while True:
            if self._exhausted:
                raise SourceExhausted(f"file: no more records in {self.path}", driver=self.name)
            if self._records is None:
                self._records = self._iter_records()
                self._taken = 0
            try:
                line, record = next(self._records)
            except StopIteration:
                self._records = None
                if not self.loop:
                    self._exhausted = True
                elif self._taken == 0:
                    raise SourceExhausted(
                        f"file: {self.path} holds no records", driver=self.name
                    ) from None
                continue
            except OSError as exc:
                self._records = None
                raise SensorUnavailableError(
                    f"file: cannot read {self.path}: {exc.strerror or exc}", driver=self.name
                ) from exc
            self._taken += 1
            where = f"{self.path}, line {line}"
            if isinstance(record, _Bad):
                raise self._bad(where, record.reason)
            return self._object_readings(record, where)

    def close(self) -> None:
        super().close()
        if self._records is not None:
            self._records.close()  # type: ignore[attr-defined]  # a generator: closes the file
            self._records = None

    def _iter_records(self) -> Iterator[tuple[int, Any]]:
        with open(self.path, "rb") as f:
            fmt = self.format
            if fmt == "auto":
                fmt = "json" if self._first_byte(f) == b"[" else "jsonl"
            if fmt == "jsonl":
                yield from self._line_records(f)
                return
            raw = f.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield raw.count(b"\n", 0, exc.start) + 1, _Bad("not UTF-8 text")
            return
        yield from _array_records(text)

    @staticmethod
    def _first_byte(f: Any) -> bytes:
        head = f.read(4096).removeprefix(_BOM)
        while head:
            stripped = head.lstrip(b" \t\r\n")
            if stripped:
                f.seek(0)
                return stripped[:1]
            head = f.read(4096)
        f.seek(0)
        return b""

    @staticmethod
    def _line_records(f: Any) -> Iterator[tuple[int, Any]]:
        for number, line in enumerate(f, 1):
            raw = line.removeprefix(_BOM) if number == 1 else line
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, _Bad("not UTF-8 text")
                continue
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, _Bad(f"not valid JSON ({exc.msg}, column {exc.colno})")
