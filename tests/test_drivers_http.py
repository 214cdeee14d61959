"""The http source, with HTTP mocked by ``responses`` (drivers/http.py)."""

from __future__ import annotations

import math

import pytest
import requests
import responses
from iota_publisher.drivers import (
    DriverError,
    Reading,
    SensorDataError,
    SensorUnavailableError,
    create_driver,
)
from iota_publisher.drivers.http import HttpSource

from iota_publisher.errors import ConfigError, TransientError

T0 = 1_556_712_000.0  # 2019-05-01T12:00:00Z
URL = "https://api.example/v1/weather"


def values(readings: dict[str, Reading]) -> dict[str, object]:
    return {name: r.value for name, r in readings.items()}


# -- http ------------------------------------------------------------------------------

OWM = {
    "coord": {"lon": 13.41, "lat": 52.52},
    "weather": [{"id": 800, "main": "Clear"}],
    "main": {"temp": 21.5, "pressure": 1012, "humidity": 40},
    "dt": 1556712000,
    "name": "Berlin",
    "visibility": 10000,
    "cod": 200,
    "ok": True,
    "list": [{"value": 1.5}, {"value": 2.5}],
}


@responses.activate
def test_http_fields_and_units():
    responses.add(responses.GET, URL, json=OWM)
    source = create_driver(
        "http",
        {
            "url": URL,
            "fields": {
                "temperature": "main.temp",
                "sky": "weather[0].main",
                "second": "list.1.value",
                "pressure": "main.pressure",
            },
            "units": {"temperature": "C", "pressure": "hPa"},
            "time_key": "dt",
        },
    )
    readings = source.read()
    assert values(readings) == {
        "temperature": 21.5,
        "sky": "Clear",
        "second": 2.5,
        "pressure": 1012,
    }
    assert readings["temperature"].unit == "C" and readings["sky"].unit is None
    assert readings["pressure"].time == T0
    source.close()
    source.close()


@responses.activate
def test_http_default_top_level_numbers():
    responses.add(responses.GET, URL, json=OWM)
    assert values(HttpSource(url=URL).read()) == {"dt": 1556712000, "visibility": 10000, "cod": 200}
    readings = HttpSource(url=URL, time_key="dt", units={"visibility": "m"}).read()
    assert values(readings) == {"visibility": 10000, "cod": 200}
    assert readings["visibility"].unit == "m" and readings["cod"].time == T0


@responses.activate
def test_http_sends_headers_and_timeout():
    responses.add(responses.GET, URL, json={"v": 1})
    HttpSource(
        url=URL, headers={"Authorization": "Bearer t0ken", "Accept": "application/json"}, timeout=4
    ).read()
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("iota-publisher/")
    assert request.req_kwargs["timeout"] == (4, 4)  # connecting, and each read


@responses.activate
def test_http_missing_path_and_wrong_kinds():
    responses.add(responses.GET, URL, json=OWM)
    with pytest.raises(SensorDataError) as info:
        HttpSource(url=URL, fields={"t": "main.temperature"}).read()
    message = str(info.value)
    assert "'main.temperature'" in message and "no key 'temperature' in main" in message
    assert URL in message
    with pytest.raises(SensorDataError, match="'main'.*an object, not a number or string"):
        HttpSource(url=URL, fields={"m": "main"}).read()
    with pytest.raises(SensorDataError, match="'ok'.*a boolean"):
        HttpSource(url=URL, fields={"ok": "ok"}).read()
    with pytest.raises(SensorDataError, match="time_key 'time'"):
        HttpSource(url=URL, time_key="time").read()


@responses.activate
def test_http_answers_that_are_not_usable():
    responses.add(responses.GET, URL, body="<html>busy</html>", content_type="text/html")
    responses.add(responses.GET, URL, json=[1, 2])
    responses.add(responses.GET, URL, json={"name": "x", "nested": {"v": 1}})
    responses.add(responses.GET, URL, json={}, status=404)
    source = HttpSource(url=URL)
    with pytest.raises(SensorDataError, match=r"not JSON \(text/html\)"):
        source.read()
    with pytest.raises(SensorDataError, match="an array, not an object"):
        source.read()
    with pytest.raises(SensorDataError, match="no top-level numbers"):
        source.read()
    with pytest.raises(SensorDataError, match="HTTP 404") as info:
        source.read()
    assert not isinstance(info.value, TransientError)


@pytest.mark.parametrize("status", [500, 503, 429, 408])
@responses.activate
def test_http_server_trouble_is_transient(status):
    responses.add(responses.GET, URL, json={"error": "busy"}, status=status)
    with pytest.raises(SensorUnavailableError, match=f"HTTP {status}") as info:
        HttpSource(url=URL).read()
    assert isinstance(info.value, TransientError) and info.value.driver == "http"


@pytest.mark.parametrize(
    "error, match",
    [
        (requests.exceptions.ConnectTimeout("slow"), "timed out after 2 s"),
        (requests.exceptions.ReadTimeout("slow"), "timed out"),
        (requests.exceptions.ConnectionError("refused"), "connecting to .* failed: refused"),
    ],
)
@responses.activate
def test_http_network_errors_are_transient(error, match):
    responses.add(responses.GET, URL, body=error)
    with pytest.raises(SensorUnavailableError, match=match):
        HttpSource(url=URL, timeout=2).read()


@responses.activate
def test_http_tls_failure_is_permanent():
    failure = requests.exceptions.SSLError("certificate verify failed")
    responses.add(responses.GET, URL, body=failure)
    with pytest.raises(DriverError, match="TLS failed") as info:
        HttpSource(url=URL).read()
    assert not isinstance(info.value, (TransientError, SensorDataError))


@responses.activate
def test_http_redirects_are_refused_and_answers_bounded():
    responses.add(
        responses.GET, URL, status=302, headers={"Location": "https://elsewhere.example/x?k=1"}
    )
    responses.add(responses.GET, URL, body=b"[" + b"1," * 600_000 + b"1]")
    source = HttpSource(url=URL)
    with pytest.raises(DriverError, match="HTTP 302 redirect to https://elsewhere.example") as info:
        source.read()
    assert not isinstance(info.value, (TransientError, SensorDataError))
    assert len(responses.calls) == 1  # not followed
    with pytest.raises(SensorDataError, match="larger than 1000000 bytes") as info:
        source.read()
    assert not isinstance(info.value, TransientError)


@responses.activate
def test_http_query_secrets_stay_out_of_messages():
    url = "https://api.example/weather?q=Berlin&appid=SECRET-APP-ID"
    responses.add(responses.GET, url, status=500)
    responses.add(
        responses.GET,
        url,
        body=requests.exceptions.ConnectionError(
            "Max retries exceeded with url: /weather?q=Berlin&appid=SECRET-APP-ID"
        ),
    )
    source = HttpSource(url=url)
    for _ in range(2):
        with pytest.raises(SensorUnavailableError) as info:
            source.read()
        assert "SECRET-APP-ID" not in str(info.value)
        assert "SECRET-APP-ID" not in str(info.value.__cause__ or "")
        assert "SECRET-APP-ID" not in str(info.value.__context__ or "")
        assert "https://api.example/weather?q=***&appid=***" in str(info.value)
    assert "SECRET" not in repr(source)


def test_http_session_seam_is_not_closed():
    class Session(requests.Session):
        closed = 0

        def close(self):
            Session.closed += 1
            super().close()

    session = Session()
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, URL, json={"v": 2})
        with HttpSource(url=URL, session=session) as source:
            assert values(source.read()) == {"v": 2}
    assert Session.closed == 0
    with pytest.raises(DriverError, match="after close"):
        source.read()
    session.close()


@pytest.mark.parametrize(
    "options, field",
    [
        ({}, "url"),
        ({"url": "api.example/x"}, "url"),
        ({"url": "ftp://api.example/x"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": URL, "fields": ["main.temp"]}, "fields"),
        ({"url": URL, "fields": {"t": "main..temp"}}, "fields"),
        ({"url": URL, "fields": {"t": 3}}, "fields"),
        ({"url": URL, "headers": {"X-Key": 5}}, "headers"),
        ({"url": URL, "timeout": 0}, "timeout"),
        ({"url": URL, "timeout": "5"}, "timeout"),
        ({"url": URL, "timeout": math.nan}, "timeout"),
        ({"url": URL, "fields": {"t": "main.temp"}, "units": {"p": "hPa"}}, "units"),
        ({"url": URL, "time_key": ""}, "time_key"),
        ({"url": URL, "method": "POST"}, "options"),
    ],
)
def test_http_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("http", options)
    assert info.value.field == field
