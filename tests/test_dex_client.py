"""The DEX client against mocked answers: offers, claims, the owner's calls, errors."""

from __future__ import annotations

import json

import pytest
import responses
from responses import matchers
from test_hat_protocol import REFERENCE_OFFER, sensor_offer

from iota_publisher._http import RetryPolicy
from iota_publisher.dex import DexClient, check_claimable
from iota_publisher.errors import (
    DexAuthError,
    DexRejectedError,
    DexUnavailableError,
    InvalidDexResponseError,
    InvalidInputError,
    OfferNotClaimableError,
    TransientError,
)

DEX = "https://dex.example"
PASSWORD = "buyer-pass-123456"
CLAIM = {
    "offerId": "weather",
    "user": {"address": "owner.hat.example", "publicKey": "-----BEGIN PUBLIC KEY-----"},
    "relationship": "claim",
    "confirmed": False,
    "dataDebitId": "weather",
    "dateCreated": 1507651701435,
}


def client(**kw):
    return DexClient(
        DEX,
        retry_policy=RetryPolicy(attempts=2, base_delay=0, jitter=0),
        sleep=lambda s: None,
        **kw,
    )


def owner():
    return client(username="buyer", password=PASSWORD)


def login(rsps, tok="dex-token"):
    rsps.get(
        f"{DEX}/api/users/access_token",
        json={"accessToken": tok},
        match=[matchers.header_matcher({"username": "buyer", "password": PASSWORD})],
    )


@responses.activate
def test_offers_and_one_offer():
    responses.get(f"{DEX}/api/v2/offers", json=[REFERENCE_OFFER, sensor_offer(totalUserClaims=1)])
    responses.get(f"{DEX}/api/v2/offer/weather", json=sensor_offer(totalUserClaims=2))
    listed = client().offers()
    assert [o.offer_id for o in listed] == [REFERENCE_OFFER["offerId"], "weather"]
    assert listed[1].claims == 1
    assert client().offer("weather").claims == 2


@responses.activate
def test_malformed_offers_are_invalid_answers():
    responses.get(f"{DEX}/api/v2/offers", json={"offers": []})
    with pytest.raises(InvalidDexResponseError):
        client().offers()
    responses.replace(responses.GET, f"{DEX}/api/v2/offers", body="<html>")
    with pytest.raises(InvalidDexResponseError):
        client().offers()
    responses.replace(responses.GET, f"{DEX}/api/v2/offers", json=[sensor_offer(expires=1)])
    with pytest.raises(InvalidDexResponseError):
        client().offers()


@responses.activate
def test_claim_with_the_hats_token():
    responses.get(
        f"{DEX}/api/v2/offer/weather/claim",
        json=CLAIM,
        match=[matchers.header_matcher({"X-Auth-Token": "hat-app-token"})],
    )
    made = client().claim("weather", "hat-app-token")
    assert (made.address, made.data_debit_id, made.confirmed) == (
        "owner.hat.example",
        "weather",
        False,
    )
    with pytest.raises(InvalidInputError):
        client().claim("weather", "")


@responses.activate
def test_claim_refusals():
    url = f"{DEX}/api/v2/offer/weather/claim"
    responses.get(url, status=401, json={"error": "Unauthorized", "message": "bad token"})
    with pytest.raises(DexAuthError):
        client().claim("weather", "t")
    responses.replace(
        responses.GET,
        url,
        status=400,
        json={"error": "Bad Request", "message": "the offer is full"},
    )
    with pytest.raises(DexRejectedError) as err:
        client().claim("weather", "t")
    assert "full" in str(err.value)
    responses.replace(
        responses.GET, url, status=404, json={"error": "Not Found", "message": "no offer"}
    )
    with pytest.raises(DexRejectedError):
        client().claim("weather", "t")
    responses.replace(responses.GET, url, status=503)
    with pytest.raises(DexUnavailableError) as err:
        client().claim("weather", "t")
    assert isinstance(err.value, TransientError)


@responses.activate
def test_owner_calls_log_in_and_keep_the_password_out():
    login(responses)
    create = responses.post(
        f"{DEX}/api/v2/offer",
        status=201,
        json=sensor_offer(totalUserClaims=0),
        match=[matchers.header_matcher({"X-Auth-Token": "dex-token"})],
    )
    responses.put(
        f"{DEX}/api/v2/offer/weather",
        json=sensor_offer(status="rejected"),
        match=[matchers.query_param_matcher({"status": "rejected"})],
    )
    responses.put(
        f"{DEX}/api/v2/offer/weather/registerClaim",
        json=CLAIM,
        match=[matchers.query_param_matcher({"hat": "owner.hat.example"})],
    )
    responses.get(
        f"{DEX}/api/v2/offer/weather/claims",
        json={
            "credentials": {
                "offerId": "weather",
                "login": "l",
                "passwordPlain": "pw-xyz-123",
                "passwordHash": "h",
                "dateCreated": 1,
            },
            "claims": [{**CLAIM, "confirmed": True}],
        },
    )
    c = owner()
    assert c.create_offer(sensor_offer()).offer_id == "weather"
    assert json.loads(create.calls[0].request.body)["offerId"] == "weather"
    assert c.set_offer_status("weather", "rejected").status == "rejected"
    assert c.register_claim("weather", "owner.hat.example").address == "owner.hat.example"
    creds, claims = c.claims("weather")
    assert creds.login == "l" and claims[0].confirmed
    with pytest.raises(InvalidInputError):
        c.set_offer_status("weather", "maybe")
    with pytest.raises(InvalidInputError):
        c.create_offer(sensor_offer(requiredMaxUser=0))


@responses.activate
def test_owner_login_refused_without_the_password_in_the_message():
    responses.get(f"{DEX}/api/users/access_token", status=401, json={"message": f"no {PASSWORD}"})
    with pytest.raises(DexAuthError) as err:
        owner().claims("weather")
    assert PASSWORD not in str(err.value)
    with pytest.raises(DexAuthError):
        client().claims("weather")  # no credentials at all


@responses.activate
def test_a_stale_owner_token_is_renewed_once():
    login(responses)
    url = f"{DEX}/api/v2/offer/weather/claims"
    responses.get(url, status=401, json={"message": "expired"})
    responses.get(url, json={"credentials": None, "claims": []})
    assert owner().claims("weather") == (None, [])


def test_check_claimable_raises_with_the_reason():
    from iota_publisher.protocol.dex import offer

    item = offer(sensor_offer(status="rejected"))
    with pytest.raises(OfferNotClaimableError) as err:
        check_claimable(
            item, namespace="sensors", endpoint="station", field_ids=["temperature"], now_ms=5000
        )
    assert err.value.reason == "rejected"
