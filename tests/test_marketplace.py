"""The Data Marketplace client: request shapes, answers, errors, retries, paging.

Unit cases mock HTTP with ``responses``; the end-to-end cases run a small
marketplace emulation (newData and stream paging, as the cloud functions do
them) on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from responses import matchers

from iota_publisher._http import NO_RETRY, RetryPolicy
from iota_publisher.errors import (
    InvalidInputError,
    InvalidMarketplaceResponseError,
    InvalidSecretKeyError,
    MarketplaceError,
    MarketplaceRejectedError,
    MarketplaceUnavailableError,
    TransientError,
)
from iota_publisher.marketplace import (
    STREAM_PAGE_SIZE,
    MarketplaceClient,
    StreamPacket,
    validate_device,
)

API = "https://mp.example/api"
NEW_DATA = API + "/newData"
ROOT = "ROOT" + "9" * 77
SIDEKEY = "SIDEKEY" + "A" * 74
SK = "sk-TOPSECRET-4711"
API_KEY = "aaaaaaa-0b7a-4e44-7777-ef661777b9d2"
USER = "xlXMajjxTleDwmeIEG9SHddlCM02"
NOT_PURCHASED_HINT = "not purchased"


def trytes(prefix: str) -> str:
    """81 trytes starting with ``prefix`` (digits spelled as letters A-J)."""
    return (prefix.translate(str.maketrans("0123456789", "ABCDEFGHIJ")) + "9" * 81)[:81]


def body_of(call: Any) -> Any:
    return json.loads(call.request.body)


def verified(call: Any) -> bool:
    """TLS verification on: True, or a CA bundle path (REQUESTS_CA_BUNDLE may supply one)."""
    verify = call.request.req_kwargs["verify"]
    return verify is True or (isinstance(verify, str) and bool(verify))


def secret_free(exc: BaseException, *secrets: str) -> bool:
    shown = "".join(traceback.format_exception(exc)) + repr(exc) + str(getattr(exc, "text", ""))
    return not any(s in shown for s in secrets)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[MarketplaceClient]:
    with MarketplaceClient(API, sleep=sleeps.append, rng=lambda: 0.0) as c:
        yield c


def publish(client: MarketplaceClient, **kw: Any) -> None:
    args = {"root": ROOT, "sidekey": SIDEKEY, "time": 1550057296806, **kw}
    client.new_data("star-wars", SK, **args)


# -- newData ------------------------------------------------------------------


def test_new_data_posts_the_contract_body(client, rsps):
    expected = {
        "id": "star-wars",
        "sk": SK,
        "packet": {"root": ROOT, "sidekey": SIDEKEY, "time": 1550057296806},
    }
    rsps.post(
        NEW_DATA,
        json={"success": True},
        match=[matchers.json_params_matcher(expected, strict_match=True)],
    )
    assert publish(client) is None
    (call,) = rsps.calls
    assert body_of(call) == expected
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["User-Agent"].startswith("iota-publisher/")
    assert call.request.req_kwargs["timeout"] == (30.0, 30.0)  # connect, read
    assert verified(call)


def test_tls_verification_cannot_be_switched_off(rsps):
    session = requests.Session()
    session.verify = False
    rsps.post(NEW_DATA, json={"success": True})
    with session, MarketplaceClient(API, session=session, timeout=5) as c:
        publish(c)
    assert verified(rsps.calls[0]) and rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 5.0)


def test_new_data_400_is_rejected_with_the_server_message(client, rsps, sleeps):
    rsps.post(NEW_DATA, status=400, json={"error": "Ensure all fields are included"})
    with pytest.raises(MarketplaceRejectedError) as info:
        publish(client)
    exc = info.value
    assert not isinstance(exc, (InvalidSecretKeyError, TransientError))
    assert (exc.endpoint, exc.status) == ("newData", 400)
    assert exc.text == "Ensure all fields are included"
    assert "Ensure all fields are included" in str(exc)
    assert len(rsps.calls) == 1 and sleeps == []


@pytest.mark.parametrize("server_text", ["Oh noes, your key is incorrect.", f"key {SK} is wrong"])
def test_new_data_403_is_invalid_secret_key_never_retried_and_secret_free(
    client, rsps, sleeps, server_text
):
    rsps.post(NEW_DATA, status=403, json={"error": server_text})
    with pytest.raises(InvalidSecretKeyError) as info:
        publish(client)
    exc = info.value
    assert isinstance(exc, MarketplaceRejectedError) and not isinstance(exc, TransientError)
    assert "the device id is unknown or the secret key is wrong" in str(exc)
    assert exc.status == 403 and exc.endpoint == "newData"
    assert secret_free(exc, SK)
    assert len(rsps.calls) == 1 and sleeps == []


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_statuses_are_retried_then_succeed(client, rsps, sleeps, status):
    rsps.post(NEW_DATA, status=status, body="<html>busy</html>")
    rsps.post(NEW_DATA, status=status, json={"error": "later"})
    rsps.post(NEW_DATA, json={"success": True})
    publish(client)
    assert len(rsps.calls) == 3
    assert sleeps == [0.5, 1.0]
    assert all(body_of(c)["sk"] == SK for c in rsps.calls)


def test_exhausted_retries_raise_unavailable_with_growing_capped_waits(rsps, sleeps, caplog):
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=4.0, jitter=0.0)
    rsps.post(NEW_DATA, status=503, json={"error": "Service Unavailable"})
    caplog.set_level(logging.DEBUG)
    with MarketplaceClient(API, retry_policy=policy, sleep=sleeps.append) as c:
        with pytest.raises(MarketplaceUnavailableError) as info:
            publish(c)
    assert isinstance(info.value, TransientError)
    assert (info.value.status, info.value.text) == (503, "Service Unavailable")
    assert sleeps == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(rsps.calls) == 6
    assert SK not in caplog.text and SIDEKEY not in caplog.text
    assert caplog.text.count("marketplace POST newData: HTTP 503") == 6


@pytest.mark.parametrize(
    "error", [requests.ReadTimeout("read timed out"), requests.ConnectTimeout("connect timed out")]
)
def test_timeouts_are_transient(client, rsps, sleeps, error):
    rsps.post(NEW_DATA, body=error)
    rsps.post(NEW_DATA, json={"success": True})
    publish(client)
    assert sleeps == [0.5]


def test_timeouts_exhausted(rsps, sleeps):
    rsps.post(NEW_DATA, body=requests.ReadTimeout("read timed out"))
    with (
        MarketplaceClient(
            API,
            timeout=2.5,
            retry_policy=RetryPolicy(attempts=2),
            sleep=sleeps.append,
            rng=lambda: 0.0,
        ) as c,
        pytest.raises(MarketplaceUnavailableError, match="timed out after 2.5 s") as info,
    ):
        publish(c)
    assert info.value.status is None and isinstance(info.value.__cause__, requests.Timeout)
    assert len(sleeps) == 1


def test_connection_error_is_transient(client, rsps):
    rsps.post(NEW_DATA, body=requests.ConnectionError("Name or service not known"))
    rsps.post(NEW_DATA, json={"success": True})
    publish(client)


def test_tls_failure_is_permanent(client, rsps, sleeps):
    rsps.post(NEW_DATA, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(MarketplaceError, match="TLS") as info:
        publish(client)
    assert not isinstance(info.value, TransientError) and sleeps == []


@pytest.mark.parametrize(
    ("status", "answer", "error"),
    [
        (200, "<html><body>Welcome to nginx</body></html>", InvalidMarketplaceResponseError),
        (200, "", InvalidMarketplaceResponseError),
        (200, [], InvalidMarketplaceResponseError),
        (200, {}, InvalidMarketplaceResponseError),
        (200, {"success": "true"}, InvalidMarketplaceResponseError),
        (200, None, InvalidMarketplaceResponseError),
        (304, "", InvalidMarketplaceResponseError),
        (200, {"success": False}, MarketplaceRejectedError),
        (200, {"error": "Device doesn't exist"}, MarketplaceRejectedError),
        (404, "<html>Not Found</html>", MarketplaceRejectedError),
    ],
)
def test_malformed_or_refusing_answers(client, rsps, sleeps, status, answer, error):
    if isinstance(answer, str):
        rsps.post(NEW_DATA, status=status, body=answer)
    else:
        rsps.post(NEW_DATA, status=status, json=answer)
    with pytest.raises(error) as info:
        publish(client)
    assert type(info.value) is error
    assert info.value.endpoint == "newData" and info.value.status == status
    assert sleeps == [] and len(rsps.calls) == 1


def test_error_text_is_clipped(client, rsps):
    rsps.post(NEW_DATA, status=400, json={"error": "x" * 5000})
    with pytest.raises(MarketplaceRejectedError) as info:
        publish(client)
    assert len(info.value.text) <= 500 and len(str(info.value)) < 700


def test_non_string_error_is_kept_as_json(client, rsps):
    rsps.post(NEW_DATA, status=400, json={"error": ["missing-input-response"]})
    with pytest.raises(MarketplaceRejectedError) as info:
        publish(client)
    assert info.value.text == '["missing-input-response"]'


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"root": ROOT[:80]}, "root"),
        ({"root": ROOT.lower()}, "root"),
        ({"root": None}, "root"),
        ({"sidekey": SIDEKEY[:-1] + "a"}, "sidekey"),
        ({"sidekey": SIDEKEY + "A"}, "sidekey"),
        ({"time": -1}, "time"),
        ({"time": 1.5}, "time"),
        ({"time": True}, "time"),
        ({"time": "1550057296806"}, "time"),
    ],
)
def test_new_data_checks_arguments_before_sending(client, rsps, kw, field):
    with pytest.raises(InvalidInputError) as info:
        publish(client, **kw)
    assert info.value.field == field
    assert "SIDEKEY" not in str(info.value)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("sensor_id", "sk", "field"),
    [
        ("", SK, "sensor_id"),
        ("s", "", "secret_key"),
        ("s", None, "secret_key"),
    ],
)
def test_new_data_needs_id_and_key(client, sensor_id, sk, field):
    with pytest.raises(InvalidInputError) as info:
        client.new_data(sensor_id, sk, root=ROOT, sidekey=SIDEKEY, time=0)
    assert info.value.field == field


# -- construction -------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "api", "new_data_url"),
    [
        (
            "https://api.marketplace.tangle.works/newData",
            "https://api.marketplace.tangle.works",
            "https://api.marketplace.tangle.works/newData",
        ),
        (
            "https://us-central1-dm.cloudfunctions.net/newData/",
            "https://us-central1-dm.cloudfunctions.net",
            "https://us-central1-dm.cloudfunctions.net/newData",
        ),
        (
            "http://10.0.0.2:5000/dm/us-central1/newData",
            "http://10.0.0.2:5000/dm/us-central1",
            "http://10.0.0.2:5000/dm/us-central1/newData",
        ),
        (
            "https://mp.example/api/storeData",
            "https://mp.example/api",
            "https://mp.example/api/storeData",
        ),
        ("https://mp.example", "https://mp.example", "https://mp.example"),
    ],
)
def test_from_endpoint(endpoint, api, new_data_url):
    with MarketplaceClient.from_endpoint(endpoint, timeout=3) as c:
        assert (c.api, c.new_data_url) == (api, new_data_url)
        assert repr(c) == f"MarketplaceClient({api!r})"


def test_from_endpoint_routes_calls(rsps):
    rsps.post("https://mp.example/api/storeData", json={"success": True})
    rsps.get("https://mp.example/api/devices", json=[])
    with MarketplaceClient.from_endpoint("https://mp.example/api/storeData") as c:
        publish(c)
        assert c.devices() == []


@pytest.mark.parametrize("bad", ["newData", "ftp://mp.example/newData", "https://", 42])
def test_bad_urls(bad):
    with pytest.raises(InvalidInputError) as info:
        MarketplaceClient.from_endpoint(bad)
    assert info.value.field == "endpoint"
    with pytest.raises(InvalidInputError):
        MarketplaceClient(bad)


@pytest.mark.parametrize("timeout", [0, -1, "5", True])
def test_bad_timeout(timeout):
    with pytest.raises(InvalidInputError) as info:
        MarketplaceClient(API, timeout=timeout)
    assert info.value.field == "timeout"


class _Session(requests.Session):
    def __init__(self, closed: list[requests.Session]) -> None:
        super().__init__()
        self._closed = closed

    def close(self) -> None:
        self._closed.append(self)
        super().close()


def test_close_only_an_own_session(monkeypatch):
    closed: list[requests.Session] = []
    with _Session(closed) as session:
        with MarketplaceClient(API, session=session):
            pass
        assert closed == []
    made = _Session(closed)
    monkeypatch.setattr("iota_publisher._http.new_session", lambda: made)
    with MarketplaceClient(API):
        pass
    assert closed == [session, made]


# -- device management ----------------------------------------------------------


def device(**changes: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "owner": "R7zlZY1hSGKDJ5KKZrw6sJ4CQvG2",
        "sensorId": "star-wars",
        "type": "Star Wars Vehicle",
        "company": "Galactic Empire Inc.",
        "price": 100,
        "date": "14 February, 2019 11:16 am",
        "timestamp": 1550053001462,
        "inactive": True,
        "dataTypes": [
            {"id": "name", "name": "Vehicle Name", "unit": "name"},
            {"id": "model", "name": "Vehicle Model", "unit": "model"},
            {"id": "class", "name": "Vehicle Class", "unit": "class"},
        ],
        "location": {"city": "Theed", "country": "Naboo"},
        "lat": 40,
        "lon": 20,
    }
    d.update(changes)
    return d


def test_new_device(client, rsps):
    cleaned = {**device(), "lat": 40.0, "lon": 20.0}
    expected = {"apiKey": API_KEY, "id": "star-wars", "device": cleaned}
    rsps.post(
        API + "/newDevice",
        json={"success": True, "sk": "96df3aed4098f790"},
        match=[matchers.json_params_matcher(expected)],
    )
    assert client.new_device(API_KEY, device()) == "96df3aed4098f790"


@pytest.mark.parametrize(
    ("status", "answer", "error", "text"),
    [
        (
            200,
            {"error": "Device with ID star-wars already exists. Please specify new unique ID"},
            MarketplaceRejectedError,
            "already exists",
        ),
        (
            200,
            {"error": "You have too many devices. Please delete one to clear space"},
            MarketplaceRejectedError,
            "too many devices",
        ),
        (
            403,
            {"error": "Cannot read property 'uid' of undefined"},
            MarketplaceRejectedError,
            "uid",
        ),
        (200, {"success": True}, InvalidMarketplaceResponseError, "devices(user_id, api_key)"),
        (200, {"success": True, "sk": 7}, InvalidMarketplaceResponseError, "'sk'"),
        (503, {"error": "down"}, MarketplaceUnavailableError, "down"),
    ],
)
def test_new_device_failures_are_not_retried(client, rsps, sleeps, status, answer, error, text):
    rsps.post(API + "/newDevice", status=status, json=answer)
    with pytest.raises(error) as info:
        client.new_device(API_KEY, device())
    assert type(info.value) is error and text in str(info.value)
    assert secret_free(info.value, API_KEY)
    assert len(rsps.calls) == 1 and sleeps == []


def test_new_device_validates_first(client, rsps):
    with pytest.raises(InvalidInputError) as info:
        client.new_device(API_KEY, device(sensorId="9lives"))
    assert info.value.field == "sensorId"
    with pytest.raises(InvalidInputError) as info:
        client.new_device("", device())
    assert info.value.field == "api_key"


def test_devices_all(client, rsps):
    listed = [{"sensorId": "Hello", "lat": "-12.32", "lon": "52.442", "dataTypes": []}]
    rsps.get(API + "/devices", json=listed, match=[matchers.query_param_matcher({})])
    assert client.devices() == listed


def test_devices_of_a_user(client, rsps):
    listed = [{"sensorId": "star-wars", "sk": "IHOHDLGKDLSJJA"}]
    rsps.get(
        API + "/devices",
        json=listed,
        match=[matchers.query_param_matcher({"userId": USER, "apiKey": API_KEY})],
    )
    assert client.devices(USER, API_KEY) == listed


def test_devices_wrong_key(client, rsps):
    rsps.get(API + "/devices", status=403, json={"error": "Access denied"})
    with pytest.raises(MarketplaceRejectedError, match="Access denied") as info:
        client.devices(USER, API_KEY)
    assert secret_free(info.value, API_KEY)


@pytest.mark.parametrize("answer", [{"devices": []}, [{"sk": "SECRETSK"}, "x"], None])
def test_devices_bad_answers_are_not_echoed(client, rsps, answer):
    rsps.get(API + "/devices", json=answer)
    with pytest.raises(InvalidMarketplaceResponseError) as info:
        client.devices(USER, API_KEY)
    assert info.value.text is None and secret_free(info.value, API_KEY, "SECRETSK")


@pytest.mark.parametrize(
    ("user_id", "api_key", "field"), [(USER, None, "api_key"), (None, API_KEY, "user_id")]
)
def test_devices_needs_both_or_neither(client, user_id, api_key, field):
    with pytest.raises(InvalidInputError) as info:
        client.devices(user_id, api_key)
    assert info.value.field == field


def test_devices_transient_failure_is_retried(client, rsps, sleeps):
    rsps.get(API + "/devices", status=502, body="Bad Gateway")
    rsps.get(API + "/devices", json=[])
    assert client.devices() == [] and sleeps == [0.5]


def test_connection_error_message_and_traceback_hold_no_api_key():
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with MarketplaceClient(f"http://127.0.0.1:{port}", retry_policy=NO_RETRY, timeout=2) as c:
        with pytest.raises(MarketplaceUnavailableError) as info:
            c.devices(USER, API_KEY)
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert "/devices" in str(info.value.__cause__)
    assert info.value.__context__ is None
    assert secret_free(info.value, API_KEY)


def test_delete_device(client, rsps):
    rsps.delete(
        API + "/delete",
        json={"success": True},
        match=[matchers.json_params_matcher({"apiKey": API_KEY, "deviceId": "star-wars"})],
    )
    assert client.delete_device(API_KEY, "star-wars") is None


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (403, {"error": "You don't have permission to delete this device"}),
        (200, {"success": False}),
    ],
)
def test_delete_device_refused(client, rsps, status, answer):
    rsps.delete(API + "/delete", status=status, json=answer)
    with pytest.raises(MarketplaceRejectedError) as info:
        client.delete_device(API_KEY, "star-wars")
    assert info.value.endpoint == "delete" and secret_free(info.value, API_KEY)


# -- buying and reading ---------------------------------------------------------


def test_user(client, rsps):
    record = {"wallet": {"balance": 1000000}, "numberOfDevices": 5, "apiKey": API_KEY}
    rsps.get(API + "/user", json=record, match=[matchers.query_param_matcher({"userId": USER})])
    assert client.user(USER) == record


def test_unknown_user(client, rsps):
    rsps.get(API + "/user", body="null", content_type="application/json")
    with pytest.raises(MarketplaceRejectedError, match="no such user"):
        client.user(USER)


def test_user_bad_answer_is_not_echoed(client, rsps):
    rsps.get(API + "/user", json=[{"apiKey": API_KEY}])
    with pytest.raises(InvalidMarketplaceResponseError) as info:
        client.user(USER)
    assert secret_free(info.value, API_KEY)


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, {"success": True}),
        (201, {"messageId": "8588a537"}),
        (200, {"messageId": "8588a537"}),
    ],
)
def test_wallet(client, rsps, status, answer):
    rsps.post(
        API + "/wallet",
        status=status,
        json=answer,
        match=[matchers.json_params_matcher({"userId": USER})],
    )
    assert client.wallet(USER) is None


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"success": False}, MarketplaceRejectedError),
        ({"messageId": 3}, InvalidMarketplaceResponseError),
    ],
)
def test_wallet_failures(client, rsps, answer, error):
    rsps.post(API + "/wallet", json=answer)
    with pytest.raises(error):
        client.wallet(USER)


def test_wallet_not_retried(client, rsps, sleeps):
    rsps.post(API + "/wallet", body=requests.ReadTimeout())
    with pytest.raises(MarketplaceUnavailableError):
        client.wallet(USER)
    assert sleeps == []


def test_purchase_stream(client, rsps):
    rsps.post(
        API + "/purchaseStream",
        json={"success": True},
        match=[matchers.json_params_matcher({"userId": USER, "deviceId": "star-wars"})],
    )
    assert client.purchase_stream(USER, "star-wars") is None


@pytest.mark.parametrize(
    ("status", "answer", "error"),
    [
        (200, {"error": "Not enough funds in your wallet."}, MarketplaceRejectedError),
        (403, {"error": "Transaction is Invalid"}, MarketplaceRejectedError),
        (500, {"error": "internal"}, MarketplaceUnavailableError),
    ],
)
def test_purchase_stream_failures_are_not_retried(client, rsps, sleeps, status, answer, error):
    rsps.post(API + "/purchaseStream", status=status, json=answer)
    with pytest.raises(error) as info:
        client.purchase_stream(USER, "star-wars")
    assert info.value.text == answer["error"] and len(rsps.calls) == 1 and sleeps == []


def packet(t: int, **extra: Any) -> dict[str, Any]:
    return {"time": t, "root": trytes(f"R{t}"), "sidekey": trytes(f"K{t}"), **extra}


def test_stream_first_page(client, rsps):
    rsps.get(
        API + "/stream",
        json=[packet(2000, messageId="eae8d76f"), packet(1000)],
        match=[matchers.query_param_matcher({"deviceId": "star-wars", "userId": USER})],
    )
    assert client.stream("star-wars", USER) == [
        StreamPacket(2000, trytes("R2000"), trytes("K2000")),
        StreamPacket(1000, trytes("R1000"), trytes("K1000")),
    ]


def test_stream_page_before_a_time(client, rsps):
    rsps.get(
        API + "/stream",
        json=[],
        match=[
            matchers.query_param_matcher({"deviceId": "d", "userId": USER, "time": "1550053854946"})
        ],
    )
    assert client.stream("d", USER, 1550053854946) == []


def test_stream_not_purchased(client, rsps):
    rsps.get(API + "/stream", json={"success": False})
    with pytest.raises(MarketplaceRejectedError, match=NOT_PURCHASED_HINT) as info:
        client.stream("star-wars", USER)
    assert info.value.endpoint == "stream" and info.value.status == 200


@pytest.mark.parametrize(
    "answer",
    [
        {"packets": []},
        {"success": True},
        [None],
        [packet(1, root="R" * 80)],
        [{**packet(1), "sidekey": "lowercase" + "9" * 72}],
        [{**packet(1), "time": "1"}],
        [{**packet(1), "time": -5}],
        [{"root": trytes("R"), "sidekey": trytes("K")}],
    ],
)
def test_stream_bad_answers(client, rsps, answer):
    rsps.get(API + "/stream", json=answer)
    with pytest.raises(InvalidMarketplaceResponseError) as info:
        client.stream("star-wars", USER)
    assert info.value.text is None and "lowercase" not in str(info.value)


def test_stream_packet_repr_hides_the_side_key():
    p = StreamPacket(1, trytes("R"), trytes("SECRETKEY"))
    assert "SECRETKEY" not in repr(p) and "time=1" in repr(p)


def test_iter_stream_pages_by_smallest_time(client, rsps):
    times = list(range(10_450, 10_000, -10))  # 45 packets, newest first
    pages = [times[:20], times[20:40], times[40:]]
    cursors = [None, times[19], times[39]]
    for page, cursor in zip(pages, cursors, strict=True):
        query = {"deviceId": "d", "userId": USER}
        if cursor is not None:
            query["time"] = str(cursor)
        rsps.get(
            API + "/stream",
            json=[packet(t) for t in page],
            match=[matchers.query_param_matcher(query)],
        )
    assert [p.time for p in client.iter_stream("d", USER)] == times
    assert len(rsps.calls) == 3


def test_iter_stream_survives_a_server_repeating_its_page(client, rsps):
    rsps.get(API + "/stream", json=[packet(t) for t in range(5_000, 4_800, -10)])
    got = list(client.iter_stream("d", USER))
    assert len(got) == STREAM_PAGE_SIZE and len(rsps.calls) == 2


def test_iter_stream_stops_on_an_empty_page(client, rsps):
    rsps.get(API + "/stream", json=[packet(t) for t in range(5_000, 4_800, -10)])
    rsps.get(API + "/stream", json=[])
    assert len(list(client.iter_stream("d", USER))) == 20 and len(rsps.calls) == 2


def test_iter_stream_not_purchased(client, rsps):
    rsps.get(API + "/stream", json={"success": False})
    with pytest.raises(MarketplaceRejectedError):
        next(client.iter_stream("d", USER))


def test_calls_are_logged_without_secrets(client, rsps, caplog):
    rsps.get(API + "/devices", json=[])
    rsps.post(NEW_DATA, json={"success": True})
    caplog.set_level(logging.DEBUG, logger="iota_publisher.marketplace")
    client.devices(USER, API_KEY)
    publish(client)
    messages = [r.getMessage() for r in caplog.records if r.name == "iota_publisher.marketplace"]
    assert len(messages) == 2
    assert messages[0].startswith("marketplace GET devices: HTTP 200 in ")
    assert messages[1].startswith("marketplace POST newData: HTTP 200 in ")
    assert not any(s in caplog.text for s in (API_KEY, SK, SIDEKEY))


# -- validate_device --------------------------------------------------------------


def test_validate_device_returns_a_clean_copy():
    original = device(lat="52.312", lon="-12.221", price="50000")
    original["dataTypes"].append({"id": "Temp_2-b", "name": "T" * 40, "unit": ""})
    clean = validate_device(original)
    assert (clean["lat"], clean["lon"], clean["price"]) == (52.312, -12.221, 50000)
    assert original["lat"] == "52.312" and original["price"] == "50000"
    assert clean["dataTypes"] == original["dataTypes"]
    assert clean["dataTypes"] is not original["dataTypes"]
    assert clean["company"] == "Galactic Empire Inc."
    assert validate_device(device(sensorId="a" * 40, lat=-90, lon=180))["lon"] == 180.0
    no_price = device()
    del no_price["price"]
    assert "price" not in validate_device(no_price)


def _without(key: str) -> dict[str, Any]:
    d = device()
    del d[key]
    return d


def _field(i: int, **changes: Any) -> dict[str, Any]:
    d = device()
    d["dataTypes"][i] = {**d["dataTypes"][i], **changes}
    return d


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (_without("sensorId"), "sensorId"),
        (device(sensorId="9lives"), "sensorId"),
        (device(sensorId="-dash"), "sensorId"),
        (device(sensorId="has space"), "sensorId"),
        (device(sensorId="a" * 41), "sensorId"),
        (device(sensorId="star.wars"), "sensorId"),
        (device(sensorId="ümlaut"), "sensorId"),
        (_without("type"), "type"),
        (device(owner=""), "owner"),
        (device(location="Berlin"), "location"),
        (device(location={"city": "Theed"}), "location.country"),
        (device(location={"city": " ", "country": "Naboo"}), "location.city"),
        (_without("lat"), "lat"),
        (device(lat=90.5), "lat"),
        (device(lat="52,3"), "lat"),
        (device(lat="N52"), "lat"),
        (device(lat=float("nan")), "lat"),
        (device(lat=True), "lat"),
        (device(lon=-180.01), "lon"),
        (device(lon="1e2"), "lon"),
        (device(price=-1), "price"),
        (device(price=1.5), "price"),
        (device(price=True), "price"),
        (device(price="ten"), "price"),
        (_without("dataTypes"), "dataTypes"),
        (device(dataTypes=[]), "dataTypes"),
        (device(dataTypes={"id": "t"}), "dataTypes"),
        (device(dataTypes=[{"id": "t", "name": "T", "unit": "c"}, "hum"]), "dataTypes[1]"),
        (_field(2, id="2nd"), "dataTypes[2].id"),
        (_field(2, id="a" * 41), "dataTypes[2].id"),
        (_field(2, id="model"), "dataTypes[2].id"),
        (_field(0, name=""), "dataTypes[0].name"),
        (_field(1, name="n" * 41), "dataTypes[1].name"),
        (_field(1, unit="u" * 21), "dataTypes[1].unit"),
        (_field(1, unit=None), "dataTypes[1].unit"),
        (device(extra=object()), "device"),
        ("not a mapping", "device"),
    ],
)
def test_validate_device_names_the_bad_field(bad, field):
    with pytest.raises(InvalidInputError) as info:
        validate_device(bad)
    assert info.value.field == field
    assert field.split("[")[0].split(".")[0] in str(info.value)


# -- end to end against an emulated marketplace ----------------------------------


class _Handler(BaseHTTPRequestHandler):
    """newData and stream as the cloud functions implement them."""

    server: _Marketplace

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass

    def _reply(self, status: int, answer: Any) -> None:
        body = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout test)
            pass

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(length) or b"null")
        self.server.seen.append(("POST", url.path, req))
        if url.path != "/api/newData":
            return self._reply(404, {"error": "not found"})
        if not isinstance(req, dict) or not all(req.get(k) for k in ("id", "sk", "packet")):
            return self._reply(400, {"error": "Ensure all fields are included"})
        if self.server.keys.get(req["id"]) != req["sk"]:
            return self._reply(403, {"error": "Oh noes, your key is incorrect."})
        self.server.data.setdefault(req["id"], []).append(req["packet"])
        return self._reply(200, {"success": True})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        self.server.seen.append(("GET", url.path, query))
        if url.path == "/api/user":  # hangs, for the timeout test
            self.server.release.wait(5)
            return self._reply(200, {})
        if url.path != "/api/stream":
            return self._reply(404, {"error": "not found"})
        if (query.get("userId"), query.get("deviceId")) not in self.server.purchases:
            return self._reply(200, {"success": False})
        before = int(query["time"]) if query.get("time") else 2**62
        rows = [p for p in self.server.data.get(query["deviceId"], []) if p["time"] < before]
        rows.sort(key=lambda p: p["time"], reverse=True)
        return self._reply(200, rows[:STREAM_PAGE_SIZE])


class _Marketplace(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.keys = {"star-wars": SK}
        self.purchases = {(USER, "star-wars")}
        self.data: dict[str, list[dict[str, Any]]] = {}
        self.seen: list[tuple[str, str, Any]] = []
        self.release = threading.Event()


@pytest.fixture
def server() -> Iterator[_Marketplace]:
    srv = _Marketplace()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def live(server: _Marketplace) -> Iterator[MarketplaceClient]:
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/api/newData"
    with MarketplaceClient.from_endpoint(endpoint, timeout=5, sleep=lambda s: None) as c:
        yield c


def test_end_to_end_publish_then_read_every_page(live, server):
    times = [1_550_000_000_000 + 1_000 * i for i in range(45)]
    for t in times:
        live.new_data("star-wars", SK, root=trytes(f"R{t % 100000}"), sidekey=trytes("K"), time=t)
    got = list(live.iter_stream("star-wars", USER))
    assert [p.time for p in got] == sorted(times, reverse=True)
    assert got[0] == StreamPacket(times[-1], trytes(f"R{times[-1] % 100000}"), trytes("K"))
    cursors = [q.get("time") for method, path, q in server.seen if path == "/api/stream"]
    assert cursors == [None, str(times[25]), str(times[5])]


def test_end_to_end_wrong_key_and_missing_purchase(live, server):
    with pytest.raises(InvalidSecretKeyError) as info:
        live.new_data("star-wars", "wrong-key", root=ROOT, sidekey=SIDEKEY, time=1)
    assert info.value.text == "Oh noes, your key is incorrect."
    assert "wrong-key" not in str(info.value)
    with pytest.raises(InvalidSecretKeyError):
        live.new_data("unknown-device", SK, root=ROOT, sidekey=SIDEKEY, time=1)
    assert len(server.seen) == 2
    with pytest.raises(MarketplaceRejectedError, match=NOT_PURCHASED_HINT):
        list(live.iter_stream("star-wars", "someone-else"))


def test_end_to_end_timeout(server):
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    with MarketplaceClient(url, timeout=0.2, retry_policy=NO_RETRY) as c:
        with pytest.raises(MarketplaceUnavailableError, match="timed out"):
            c.user(USER)
