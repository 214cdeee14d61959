"""The HAT and DEX protocol shapes: names, records, bundles and their filters, debits,
offers, and whether a device can satisfy an offer (on the reference's example offer)."""

from __future__ import annotations

import copy

import pytest

from iota_publisher.errors import ProtocolError
from iota_publisher.protocol import dex as _dex
from iota_publisher.protocol import hat as _hat
from iota_publisher.protocol.hat import Record

# the example offer of the DEX page on offers and claims
REFERENCE_OFFER = {
    "offerId": "789d1dff-ce8d-4c6e-a201-e89ee9d7f5cf",
    "title": "Location fetching offer",
    "description": "Location fetch test",
    "starts": 1507503600000,
    "expires": 1510099200000,
    "collectionDuration": 86400000,
    "requiredData": {
        "name": "789d1dff-ce8d-4c6e-a201-e89ee9d7f5cf",
        "bundle": {
            "iphone/locations": {
                "endpoints": [
                    {
                        "endpoint": "iphone/locations",
                        "mapping": {
                            "accuracy": "accuracy",
                            "latitude": "latitude",
                            "longitude": "longitude",
                            "timestamp": "timestamp",
                            "lastUpdated": "lastUpdated",
                        },
                        "filters": [],
                    }
                ]
            }
        },
    },
    "requiredMinUser": 1,
    "requiredMaxUser": 10,
    "status": "approved",
}
LOCATION_FIELDS = ["accuracy", "latitude", "longitude", "timestamp", "lastUpdated"]
OPEN = 1508000000000  # between the example's starts and expires


def sensor_offer(**changes):
    offer = {
        "offerId": "weather",
        "title": "Weather",
        "description": "temperature and humidity",
        "starts": 1000,
        "expires": 10_000_000,
        "collectionDuration": 3_600_000,
        "requiredData": {
            "name": "weather",
            "bundle": {
                "readings": {
                    "endpoints": [
                        {
                            "endpoint": "sensors/station",
                            "mapping": {"t": "temperature", "h": "humidity", "time": "time"},
                        }
                    ]
                }
            },
        },
        "requiredMinUser": 1,
        "requiredMaxUser": 2,
        "status": "approved",
    }
    offer.update(changes)
    return offer


def test_names():
    assert _hat.full_endpoint("sensors", "station/one") == "sensors/station/one"
    assert _hat.split_endpoint("iphone/locations") == ("iphone", "locations")
    assert _hat.data_path("a-1", "b/c") == "/api/v2.6/data/a-1/b/c"
    for bad in ("Upper", "", "sp ace", "a_b", None):
        with pytest.raises(ProtocolError):
            _hat.namespace(bad)
    for bad in ("x//y", "/x", "x/", "X"):
        with pytest.raises(ProtocolError):
            _hat.endpoint(bad)


def test_sensor_record_and_digest():
    record = _hat.sensor_record("dev", 1700000000000, {"temperature": 21.5})
    assert record == {"deviceId": "dev", "time": 1700000000000, "temperature": 21.5}
    with pytest.raises(ProtocolError):
        _hat.sensor_record("dev", 1, {"time": 3})
    with pytest.raises(ProtocolError):
        _hat.sensor_record("dev", 1.5, {})
    assert _hat.record_digest({"a": 1, "b": 2}) == _hat.record_digest({"b": 2, "a": 1})
    assert _hat.record_digest({"a": 1}) != _hat.record_digest({"a": 2})


def test_duplicate_answer_and_records():
    assert _hat.is_duplicate(400, {"message": "Duplicate Data", "cause": "x"})
    assert not _hat.is_duplicate(400, {"message": "Bad Request"})
    assert not _hat.is_duplicate(500, {"message": "Duplicate Data"})
    got = _hat.records([{"endpoint": "a/b", "recordId": "r1", "data": {"x": 1}}])
    assert got == [Record("a/b", "r1", {"x": 1})]
    with pytest.raises(ProtocolError):
        _hat.records({"endpoint": "a/b"})
    with pytest.raises(ProtocolError):
        _hat.records([{"endpoint": "a/b", "data": {}}])
    assert _hat.access_token({"accessToken": "t", "userId": "u"}) == "t"
    with pytest.raises(ProtocolError):
        _hat.access_token({"userId": "u"})


RECORDS = [
    Record(
        "s/e",
        "1",
        {
            "time": 3,
            "t": 20.0,
            "tags": ["a", "b"],
            "note": "Sunny day",
            "at": "2026-01-05T10:00:00Z",
        },
    ),
    Record(
        "s/e",
        "2",
        {"time": 1, "t": 25.5, "tags": ["b"], "note": "rain later", "at": "2026-02-01T23:00:00Z"},
    ),
    Record(
        "s/e",
        "3",
        {"time": 2, "t": 18.0, "tags": [], "note": "cloudy", "at": "2026-01-20T10:30:00Z"},
    ),
    Record("s/other", "4", {"time": 9, "t": 99.0}),
]


def read(endpoint):
    return [r for r in RECORDS if r.endpoint == endpoint]


def ids(spec):
    out = _hat.evaluate_bundle(_hat.bundle(spec), read)
    return {p: [r["recordId"] for r in rs] for p, rs in out.items()}


def q(filters=None, mapping=None, endpoint="s/e"):
    query = {"endpoint": endpoint}
    if filters is not None:
        query["filters"] = filters
    if mapping is not None:
        query["mapping"] = mapping
    return query


def test_bundle_filters():
    between = {"field": "t", "operator": {"operator": "between", "lower": 18.5, "upper": 30}}
    assert ids({"p": {"endpoints": [q([between])]}}) == {"p": ["1", "2"]}
    in_list = {"field": "time", "operator": {"operator": "in", "value": [1, 2]}}
    assert ids({"p": {"endpoints": [q([in_list])]}}) == {"p": ["2", "3"]}
    contains = {"field": "tags", "operator": {"operator": "contains", "value": "a"}}
    assert ids({"p": {"endpoints": [q([contains])]}}) == {"p": ["1"]}
    find = {
        "field": "note",
        "transformation": {"transformation": "searchable"},
        "operator": {"operator": "find", "search": "SUNNY"},
    }
    assert ids({"p": {"endpoints": [q([find])]}}) == {"p": ["1"]}
    month = {
        "field": "at",
        "transformation": {"transformation": "datetimeExtract", "part": "month"},
        "operator": {"operator": "in", "value": 1},
    }
    assert ids({"p": {"endpoints": [q([month])]}}) == {"p": ["1", "3"]}
    # several filters: AND
    assert ids({"p": {"endpoints": [q([between, month])]}}) == {"p": ["1"]}
    stamp = {
        "field": "time",
        "transformation": {"transformation": "timestampExtract", "part": "second"},
        "operator": {"operator": "between", "lower": 2, "upper": 3},
    }
    assert ids({"p": {"endpoints": [q([stamp])]}}) == {"p": ["1", "3"]}


def test_bundle_mapping_order_limit_and_endpoints():
    spec = {
        "p": {
            "endpoints": [q(mapping={"temp": "t", "when": "time", "none": "missing.path"})],
            "orderBy": "time",
            "ordering": "descending",
            "limit": 2,
        },
        "other": {"endpoints": [q(endpoint="s/other")]},
    }
    out = _hat.evaluate_bundle(_hat.bundle(spec), read)
    assert [r["data"] for r in out["p"]] == [{"temp": 20.0, "when": 3}, {"temp": 18.0, "when": 2}]
    assert out["other"] == [
        {"endpoint": "s/other", "recordId": "4", "data": {"time": 9, "t": 99.0}}
    ]
    assert _hat.field_value({"a": {"b": [5, 6]}}, "a.b.1") == 6
    assert not _hat.has_field({"a": 1}, "a.b")


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"p": {}},
        {"p": {"endpoints": []}},
        {"p": {"endpoints": [{"endpoint": "noslash"}]}},
        {"p": {"endpoints": [{"endpoint": "a/b", "mapping": {"x": 1}}]}},
        {
            "p": {
                "endpoints": [
                    {
                        "endpoint": "a/b",
                        "filters": [{"field": "x", "operator": {"operator": "near"}}],
                    }
                ]
            }
        },
        {
            "p": {
                "endpoints": [
                    {
                        "endpoint": "a/b",
                        "filters": [
                            {"field": "x", "operator": {"operator": "between", "lower": 1}}
                        ],
                    }
                ]
            }
        },
        {
            "p": {
                "endpoints": [
                    {
                        "endpoint": "a/b",
                        "filters": [
                            {
                                "field": "x",
                                "transformation": {
                                    "transformation": "datetimeExtract",
                                    "part": "eon",
                                },
                                "operator": {"operator": "in", "value": 1},
                            }
                        ],
                    }
                ]
            }
        },
        {"p": {"endpoints": [{"endpoint": "a/b"}], "ordering": "sideways"}},
        {"p": {"endpoints": [{"endpoint": "a/b"}], "limit": -1}},
    ],
)
def test_bad_bundles_are_refused(spec):
    with pytest.raises(ProtocolError):
        _hat.bundle(spec)


def test_debit_requests_and_answers():
    spec = {"p": {"endpoints": [{"endpoint": "a/b"}]}}
    v2 = _hat.debit_request_v2("b1", spec, start_ms=0, end_ms=86_400_000)
    assert v2 == {
        "bundle": {"name": "b1", "bundle": spec},
        "startDate": "1970-01-01T00:00:00.000Z",
        "endDate": "1970-01-02T00:00:00.000Z",
        "rolling": False,
    }
    v26 = _hat.debit_request(
        "k",
        spec,
        purpose="p",
        start_ms=1500,
        period_s=60,
        client_name="c",
        client_url="u",
        terms_url="t",
        conditions=spec,
    )
    assert v26["dataDebitKey"] == "k" and v26["period"] == 60 and v26["start"].endswith("01.500Z")
    assert v26["conditions"]["bundle"] == spec
    with pytest.raises(ProtocolError):
        _hat.debit_request(
            "k",
            spec,
            purpose="p",
            start_ms=0,
            period_s=0,
            client_name="c",
            client_url="u",
            terms_url="t",
        )
    debit = _hat.data_debit(
        {
            "dataDebitKey": "k",
            "active": True,
            "permissions": [
                {
                    "enabled": True,
                    "start": "1970-01-01T00:00:01.000Z",
                    "end": 5000,
                    "bundle": {"name": "k", "bundle": spec},
                }
            ],
        }
    )
    assert (debit.key, debit.enabled, debit.active, debit.start_ms, debit.end_ms) == (
        "k",
        True,
        True,
        1000,
        5000,
    )
    assert debit.bundle == spec
    old = _hat.data_debit(
        {
            "dataDebitKey": "k",
            "bundles": [
                {"enabled": False, "startDate": "1970-01-01T00:00:00Z", "bundle": {"name": "b"}}
            ],
        }
    )
    assert (old.enabled, old.bundle_name) == (False, "b")
    assert _hat.debit_values({"conditions": {"c": False}, "bundle": {}}) == ({"c": False}, {})
    assert _hat.debit_values({"p": [{"data": 1}]}) == (None, {"p": [{"data": 1}]})
    with pytest.raises(ProtocolError):
        _hat.debit_values({"p": 3})


# -- offers and whether a device can satisfy one -----------------------------------------


def test_reference_offer_parses_and_round_trips():
    offer = _dex.offer(REFERENCE_OFFER)
    assert offer.offer_id == REFERENCE_OFFER["offerId"]
    assert (offer.min_users, offer.max_users, offer.claims) == (1, 10, None)
    assert _dex.offer(offer.to_json()) == offer


def test_reference_offer_satisfied_by_a_location_device_only():
    offer = _dex.offer(REFERENCE_OFFER)
    ok = _dex.satisfiable(
        offer, namespace="iphone", endpoint="locations", field_ids=LOCATION_FIELDS, now_ms=OPEN
    )
    assert ok.ok, ok.detail
    assert {out for _, out, _ in ok.fields} == set(LOCATION_FIELDS)
    weather = _dex.satisfiable(
        offer, namespace="sensors", endpoint="station", field_ids=["temperature"], now_ms=OPEN
    )
    assert weather.reason == "unsatisfiable" and "iphone/locations" in weather.detail
    short = _dex.satisfiable(
        offer, namespace="iphone", endpoint="locations", field_ids=LOCATION_FIELDS[:3], now_ms=OPEN
    )
    assert short.reason == "unsatisfiable" and "'timestamp'" in short.detail


@pytest.mark.parametrize(
    ("changes", "now", "reason"),
    [
        ({}, 5000, "ok"),
        ({}, 999, "not_started"),
        ({}, 10_000_000, "expired"),
        ({"status": "rejected"}, 5000, "rejected"),
        ({"status": "draft"}, 5000, "rejected"),
        ({"status": "satisfied"}, 5000, "ok"),
        ({"status": "oversubscribed"}, 5000, "full"),
        ({"totalUserClaims": 2}, 5000, "full"),
        ({"totalUserClaims": 1}, 5000, "ok"),
    ],
)
def test_offer_dates_status_and_fullness(changes, now, reason):
    offer = _dex.offer(sensor_offer(**changes))
    verdict = _dex.satisfiable(
        offer,
        namespace="sensors",
        endpoint="station",
        field_ids=["temperature", "humidity"],
        now_ms=now,
    )
    assert verdict.reason == reason, verdict.detail


def test_unsatisfiable_fields_filters_links_and_conditions():
    fields = ["temperature", "humidity", "pressure"]

    def verdict(offer):
        return _dex.satisfiable(
            _dex.offer(offer),
            namespace="sensors",
            endpoint="station",
            field_ids=fields,
            now_ms=5000,
        )

    assert verdict(sensor_offer()).fields == (
        ("readings", "t", "temperature"),
        ("readings", "h", "humidity"),
        ("readings", "time", "time"),
    )
    offer = sensor_offer()
    offer["requiredData"]["bundle"]["readings"]["endpoints"][0]["mapping"]["w"] = "wind"
    assert verdict(offer).reason == "unsatisfiable"
    offer = sensor_offer()
    offer["requiredData"]["bundle"]["readings"]["endpoints"][0]["filters"] = [
        {"field": "co2", "operator": {"operator": "between", "lower": 0, "upper": 1}}
    ]
    assert verdict(offer).reason == "unsatisfiable"
    offer = sensor_offer()
    offer["requiredData"]["bundle"]["readings"]["endpoints"][0]["links"] = [
        {"endpoint": "sensors/station"}
    ]
    assert verdict(offer).reason == "unsatisfiable"
    offer = sensor_offer(dataConditions={"c": {"endpoints": [{"endpoint": "fitbit/sleep"}]}})
    assert verdict(offer).reason == "unsatisfiable" and "dataConditions" in verdict(offer).detail
    whole = copy.deepcopy(sensor_offer())
    del whole["requiredData"]["bundle"]["readings"]["endpoints"][0]["mapping"]
    assert {out for _, out, _ in verdict(whole).fields} == {*fields, "time", "deviceId"}


@pytest.mark.parametrize(
    "changes",
    [
        {"offerId": ""},
        {"starts": -1},
        {"expires": 500},
        {"requiredMaxUser": 0},
        {"requiredMinUser": 3},
        {"requiredData": {"name": "x"}},
        {"collectionDuration": "a day"},
    ],
)
def test_bad_offers_are_refused(changes):
    with pytest.raises(ProtocolError):
        _dex.offer(sensor_offer(**changes))


def test_iso_times_and_no_collection_duration():
    raw = sensor_offer(starts="1970-01-01T00:00:01Z", expires="1970-01-01T03:00:00.000Z")
    del raw["collectionDuration"]
    offer = _dex.offer(raw)
    assert (offer.starts, offer.expires, offer.collection_duration) == (1000, 10_800_000, None)
    assert offer.collects_for(800_000) == 10_000_000
    assert "collectionDuration" not in offer.to_json()
    assert _dex.offer(sensor_offer()).collects_for(0) == 3_600_000


def test_claims_answer():
    answer = {
        "credentials": {
            "offerId": "o",
            "login": "l",
            "passwordPlain": "secret-pw",
            "passwordHash": "h",
            "dateCreated": 1,
        },
        "claims": [
            {
                "offerId": "o",
                "user": {"address": "h.example", "publicKey": "K"},
                "relationship": "claim",
                "confirmed": True,
                "dataDebitId": "o",
                "dateCreated": 5,
            }
        ],
    }
    creds, claims = _dex.claims(answer)
    assert creds.login == "l" and creds.password == "secret-pw" and "secret-pw" not in repr(creds)
    assert claims[0].address == "h.example" and claims[0].confirmed
    assert _dex.claims({"credentials": None, "claims": []}) == (None, [])
    with pytest.raises(ProtocolError):
        _dex.claims({"claims": [{"offerId": "o"}]})
