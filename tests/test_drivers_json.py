"""The JSON helpers the file, http and command sources share (drivers/_json.py)."""

from __future__ import annotations

import math

import pytest
from iota_publisher.drivers._json import flatten, get_path, parse_path, parse_time

T0 = 1_556_712_000.0  # 2019-05-01T12:00:00Z


# -- helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, parts",
    [
        ("temp", ("temp",)),
        ("main.temp", ("main", "temp")),
        ("list.0.value", ("list", "0", "value")),
        ("data[2].x", ("data", 2, "x")),
        ("[0].a[1][2]", (0, "a", 1, 2)),
        ("a-b_c.d e", ("a-b_c", "d e")),
    ],
)
def test_parse_path(path, parts):
    assert parse_path(path) == parts


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "a[x]", "a[0]b", "a.[0]", "a[-1]", "a]"])
def test_parse_path_rejects(path):
    with pytest.raises(ValueError):
        parse_path(path)


def test_get_path():
    data = {
        "main": {"temp": 21.5},
        "list": [{"value": 3}, {"value": 4}],
        "data": [0, 1, {"x": "y"}],
    }
    assert get_path(data, "main.temp") == 21.5
    assert get_path(data, "list.1.value") == 4
    assert get_path(data, "list[1].value") == 4
    assert get_path(data, "data[2].x") == "y"
    assert get_path([{"a": 1}], "[0].a") == 1
    assert get_path({"0": "key"}, "0") == "key"  # a number segment is a key in an object
    with pytest.raises(LookupError, match="no key 'pressure' in main"):
        get_path(data, "main.pressure")
    with pytest.raises(LookupError, match=r"no index 5 in list \(length 2\)"):
        get_path(data, "list.5")
    with pytest.raises(LookupError, match="main.temp is a number, not an object"):
        get_path(data, "main.temp.x")
    with pytest.raises(LookupError, match="main is an object, not an array"):
        get_path(data, "main[0]")


def test_flatten():
    data = {
        "a": {"b": 1.5, "c": {"d": "x"}},
        "list": [5, {"v": 6}],
        "n": None,
        "ok": True,
        "nan": math.nan,
        "big": 10**30,
        "s": "",
    }
    assert flatten(data) == {
        "a.b": 1.5,
        "a.c.d": "x",
        "list.0": 5,
        "list.1.v": 6,
        "big": 10**30,
        "s": "",
    }
    assert flatten({}) == {}
    with pytest.raises(ValueError, match="'a.b'"):
        flatten({"a.b": 1, "a": {"b": 2}})


@pytest.mark.parametrize(
    "raw, expected",
    [
        (1_556_712_000, T0),
        (1_556_712_000.5, T0 + 0.5),
        (1_556_712_000_123, T0 + 0.123),
        ("1556712000123", T0 + 0.123),
        ("2019-05-01T12:00:00Z", T0),
        ("2019-05-01T12:00:00.250Z", T0 + 0.25),
        ("2019-05-01T14:00:00+02:00", T0),
        ("2019-05-01 12:00:00", T0),  # no offset: UTC
        (0, 0.0),
    ],
)
def test_parse_time(raw, expected):
    assert parse_time(raw) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("raw", [True, None, -5, math.inf, "yesterday", "", [1], {"t": 1}])
def test_parse_time_rejects(raw):
    with pytest.raises(ValueError):
        parse_time(raw)
