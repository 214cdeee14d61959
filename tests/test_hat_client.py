"""The HAT client against mocked answers: login and renewal, writes and the duplicate
answer, reads, data debits (v2 and v2.6), and every documented error answer."""

from __future__ import annotations

import json
import logging

import jwt
import pytest
import responses
from responses import matchers

from iota_publisher._http import NO_RETRY, RetryPolicy
from iota_publisher.errors import (
    HatAuthError,
    HatError,
    HatNotFoundError,
    HatRejectedError,
    HatUnavailableError,
    InvalidHatResponseError,
    InvalidInputError,
    TransientError,
)
from iota_publisher.hat import HatClient, token_expiry

HAT = "https://owner.hat.example"
PASSWORD = "hunter2-very-secret"
WRITE = f"{HAT}/api/v2.6/data/sensors/station"
KEY = "k" * 40
NOW = 1_800_000_000.0


def token(exp: float = NOW + 3600, sub: str = "owner") -> str:
    return jwt.encode({"sub": sub, "exp": int(exp)}, KEY, algorithm="HS256")


def client(**kw):
    kw.setdefault("retry_policy", RetryPolicy(attempts=3, base_delay=0, jitter=0))
    kw.setdefault("clock", lambda: NOW)
    return HatClient(HAT, username="owner", password=PASSWORD, sleep=lambda s: None, **kw)


def login(rsps, tok=None):
    return rsps.get(
        f"{HAT}/users/access_token",
        json={"accessToken": tok or token(), "userId": "u1"},
        match=[matchers.header_matcher({"username": "owner", "password": PASSWORD})],
    )


RECORD = {"deviceId": "dev", "time": 1, "temperature": 20.5}
STORED = [{"endpoint": "sensors/station", "recordId": "r-1", "data": RECORD}]


def test_arguments_are_checked():
    with pytest.raises(InvalidInputError):
        HatClient(HAT)
    with pytest.raises(InvalidInputError):
        HatClient(HAT, username="owner")
    with pytest.raises(InvalidInputError):
        HatClient("ftp://x", token="t")
    with pytest.raises(InvalidInputError):
        HatClient("https://u:p@x", token="t")
    c = HatClient(HAT, token="t")
    with pytest.raises(InvalidInputError):
        c.write("Bad NS", "x", {})
    with pytest.raises(InvalidInputError):
        c.write("ns", "ep", [])
    with pytest.raises(InvalidInputError):
        c.read("ns", "ep", take=-1)
    assert c.address == "owner.hat.example"


def test_token_expiry_is_read_without_verifying():
    assert token_expiry(token(exp=1234)) == 1234.0
    assert token_expiry("not a token") is None
    assert token_expiry(jwt.encode({"sub": "x"}, KEY, algorithm="HS256")) is None


@responses.activate
def test_login_then_write_sends_the_token_and_returns_ids():
    tok = token()
    login(responses, tok)
    write = responses.post(
        WRITE,
        status=201,
        json=STORED,
        match=[
            matchers.header_matcher({"X-Auth-Token": tok}),
            matchers.json_params_matcher(RECORD),
        ],
    )
    c = client()
    result = c.write("sensors", "station", RECORD)
    assert result.record_ids == ("r-1",) and not result.duplicate
    assert result.records[0].data == RECORD
    c.write("sensors", "station", RECORD)
    assert write.call_count == 2
    assert len([x for x in responses.calls if "access_token" in x.request.url]) == 1


@responses.activate
def test_an_array_write_and_skip_errors():
    login(responses)
    responses.post(
        WRITE,
        status=201,
        json=STORED * 2,
        match=[matchers.query_param_matcher({"skipErrors": "true"})],
    )
    assert (
        len(client().write("sensors", "station", [RECORD, RECORD], skip_errors=True).records) == 2
    )


@responses.activate
def test_duplicate_data_counts_as_delivered():
    login(responses)
    responses.post(
        WRITE,
        status=400,
        json={"message": "Duplicate Data", "cause": "Could not insert data - Duplicate data"},
    )
    result = client().write("sensors", "station", RECORD)
    assert result.duplicate and result.records == ()


@responses.activate
def test_other_400_is_rejected():
    login(responses)
    responses.post(WRITE, status=400, json={"message": "Bad Request", "cause": "Invalid JSON"})
    with pytest.raises(HatRejectedError) as err:
        client().write("sensors", "station", RECORD)
    assert err.value.status == 400 and "Invalid JSON" in str(err.value)
    assert not isinstance(err.value, TransientError)


@responses.activate
def test_token_renewed_before_it_expires():
    now = [NOW]
    first, second = token(exp=NOW + 120), token(exp=NOW + 7200)
    responses.get(f"{HAT}/users/access_token", json={"accessToken": first, "userId": "u"})
    responses.get(f"{HAT}/users/access_token", json={"accessToken": second, "userId": "u"})
    responses.get(WRITE, json=[])
    c = client(clock=lambda: now[0])
    c.read("sensors", "station")
    assert c.token() == first
    now[0] = NOW + 61  # within a minute of exp
    c.read("sensors", "station")
    assert responses.calls[-1].request.headers["X-Auth-Token"] == second


@responses.activate
def test_a_401_logs_in_again_once():
    login(responses)
    responses.get(WRITE, status=401, json={"message": "Not Authenticated"})
    responses.get(WRITE, json=STORED)
    assert client().read("sensors", "station")[0].record_id == "r-1"
    assert len([x for x in responses.calls if "access_token" in x.request.url]) == 2


@responses.activate
def test_a_401_twice_is_an_auth_error_and_a_token_alone_cannot_renew():
    login(responses)
    responses.get(WRITE, status=401, json={"message": "Not Authenticated"})
    with pytest.raises(HatAuthError) as err:
        client().read("sensors", "station")
    assert err.value.status == 401
    responses.calls.reset()
    with pytest.raises(HatAuthError):
        HatClient(HAT, token="abc", retry_policy=NO_RETRY).read("sensors", "station")
    assert len(responses.calls) == 1


@responses.activate
def test_wrong_password_is_an_auth_error_without_the_password():
    responses.get(
        f"{HAT}/users/access_token",
        status=401,
        json={"message": "Not Authenticated", "cause": f"bad password {PASSWORD}"},
    )
    with pytest.raises(HatAuthError) as err:
        client().login()
    assert PASSWORD not in str(err.value) and PASSWORD not in (err.value.text or "")


@responses.activate
def test_403_is_a_permission_error():
    login(responses)
    responses.post(WRITE, status=403, json={"message": "Forbidden", "cause": "no namespace"})
    with pytest.raises(HatAuthError) as err:
        client().write("sensors", "station", RECORD)
    assert err.value.status == 403 and err.value.call == "write"


@responses.activate
def test_404_unknown_endpoint():
    login(responses)
    responses.get(f"{HAT}/api/v2.6/data/sensors/nothing", status=404, json={"message": "Not Found"})
    with pytest.raises(HatNotFoundError):
        client().read("sensors", "nothing")


@responses.activate
def test_5xx_is_retried_then_transient():
    login(responses)
    write = responses.post(WRITE, status=503, body="down for maintenance")
    with pytest.raises(HatUnavailableError) as err:
        client().write("sensors", "station", RECORD)
    assert isinstance(err.value, TransientError) and err.value.status == 503
    assert write.call_count == 3


@responses.activate
def test_5xx_then_success():
    login(responses)
    responses.post(WRITE, status=502)
    responses.post(WRITE, status=201, json=STORED)
    assert client().write("sensors", "station", RECORD).record_ids == ("r-1",)


@responses.activate
def test_connection_refused_is_transient():
    with pytest.raises(HatUnavailableError):
        client(retry_policy=NO_RETRY).write("sensors", "station", RECORD)


@responses.activate
def test_malformed_json_is_an_invalid_answer():
    login(responses)
    responses.post(WRITE, status=201, body="{not json")
    with pytest.raises(InvalidHatResponseError):
        client().write("sensors", "station", RECORD)
    responses.replace(responses.POST, WRITE, status=201, json={"recordId": "r"})
    with pytest.raises(InvalidHatResponseError):
        client().write("sensors", "station", RECORD)


@responses.activate
def test_malformed_login_answer():
    responses.get(f"{HAT}/users/access_token", json={"userId": "u"})
    with pytest.raises(InvalidHatResponseError):
        client().login()


@responses.activate
def test_redirect_is_refused_and_credentials_stay():
    responses.get(
        f"{HAT}/users/access_token", status=302, headers={"Location": "https://evil.example/x"}
    )
    with pytest.raises(InvalidHatResponseError) as err:
        client().login()
    assert "redirect" in str(err.value)
    assert len(responses.calls) == 1


@responses.activate
def test_secrets_stay_out_of_logs(caplog):
    tok = token()
    login(responses, tok)
    responses.post(WRITE, status=500, json={"message": f"oops {tok} {PASSWORD}"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HatUnavailableError) as err:
        client().write("sensors", "station", RECORD)
    for text in (caplog.text, str(err.value), err.value.text or ""):
        assert tok not in text and PASSWORD not in text


@responses.activate
def test_read_parameters():
    login(responses)
    responses.get(
        WRITE,
        json=STORED,
        match=[
            matchers.query_param_matcher(
                {"orderBy": "time", "ordering": "descending", "skip": "10", "take": "5"}
            )
        ],
    )
    got = client().read(
        "sensors", "station", order_by="time", ordering="descending", skip=10, take=5
    )
    assert got[0].endpoint == "sensors/station"


@responses.activate
def test_application_token_and_public_key():
    login(responses)
    responses.get(f"{HAT}/api/v2.6/applications/dex/access-token", json={"accessToken": "app-tok"})
    responses.get(
        f"{HAT}/publickey", body="-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n"
    )
    c = client()
    assert c.application_token() == "app-tok"
    assert c.public_key().startswith("-----BEGIN PUBLIC KEY-----")


DEBIT_V26 = {
    "dataDebitKey": "d1",
    "requestClientName": "buyer",
    "active": True,
    "permissions": [
        {
            "enabled": True,
            "start": "2027-01-15T08:00:00.000Z",
            "end": "2027-01-16T08:00:00.000Z",
            "bundle": {
                "name": "d1",
                "bundle": {"p": {"endpoints": [{"endpoint": "sensors/station"}]}},
            },
        }
    ],
}


@responses.activate
def test_data_debits_v26():
    login(responses)
    base = f"{HAT}/api/v2.6/data-debit"
    create = responses.post(f"{base}/d1", status=201, json={**DEBIT_V26, "active": False})
    responses.get(f"{base}/d1/enable", json=DEBIT_V26)
    responses.get(
        f"{base}/d1/disable",
        json={**DEBIT_V26, "active": False},
        match=[matchers.query_param_matcher({"atPeriodEnd": "false"})],
    )
    responses.get(
        f"{base}/d1/values", json={"conditions": {"c": True}, "bundle": {"p": [STORED[0]]}}
    )
    responses.get(base, json=[DEBIT_V26])
    c = client()
    made = c.create_data_debit("d1", {"dataDebitKey": "d1"})
    assert made.key == "d1" and not made.active
    assert json.loads(create.calls[0].request.body) == {"dataDebitKey": "d1"}
    enabled = c.enable_data_debit("d1")
    assert enabled.active and enabled.enabled and enabled.client_name == "buyer"
    assert not c.disable_data_debit("d1").active
    values = c.data_debit_values("d1")
    assert values.conditions == {"c": True} and values.bundle["p"][0]["recordId"] == "r-1"
    assert [d.key for d in c.data_debits()] == ["d1"]


@responses.activate
def test_data_debits_v2_and_not_enabled():
    login(responses)
    base = f"{HAT}/api/v2/data-debit"
    v2 = {
        "dataDebitKey": "d2",
        "bundles": [{"enabled": True, "bundle": {"name": "b2", "bundle": {}}}],
    }
    responses.post(f"{base}/d2", status=201, json=v2)
    responses.get(f"{base}/d2/enable/b2", json=v2)
    responses.get(f"{base}/d2/values", json={"p": []})
    responses.get(
        f"{HAT}/api/v2.6/data-debit/d3/values",
        status=400,
        json={"message": "Bad Request", "cause": "Data Debit d3 not enabled"},
    )
    c = client()
    assert c.create_data_debit("d2", {"bundle": {}}, v2=True).key == "d2"
    assert c.enable_data_debit("d2", bundle_name="b2").bundle_name == "b2"
    assert c.data_debit_values("d2", v2=True) == (None, {"p": []})
    with pytest.raises(HatRejectedError) as err:
        c.data_debit_values("d3")
    assert "not enabled" in str(err.value)


@responses.activate
def test_creating_a_debit_is_sent_once():
    login(responses)
    create = responses.post(f"{HAT}/api/v2.6/data-debit/d1", status=503)
    with pytest.raises(HatUnavailableError):
        client().create_data_debit("d1", {})
    assert create.call_count == 1


def test_errors_are_one_tree():
    assert issubclass(HatAuthError, HatRejectedError)
    assert issubclass(HatNotFoundError, HatRejectedError)
    assert issubclass(HatUnavailableError, HatError) and issubclass(
        HatUnavailableError, TransientError
    )
    assert issubclass(InvalidHatResponseError, ValueError)
