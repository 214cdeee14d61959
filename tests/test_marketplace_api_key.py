"""The buyer's API key: sent as ``apiKey`` by the calls that read or spend a user's data."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from iota_publisher.errors import MarketplaceRejectedError
from iota_publisher.fetch import fetch_stream
from iota_publisher.marketplace import MarketplaceClient
from iota_publisher.testing import FakeMarketplace

API = "https://market.example/api"
KEY = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
PACKET = {"time": 5, "root": "R" * 81, "sidekey": "S" * 81}


def _sent(call: responses.Call) -> dict:
    if call.request.body:
        return json.loads(call.request.body)
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@responses.activate
def test_each_call_sends_the_key_only_when_given():
    responses.get(f"{API}/user", json={"userId": "u", "wallet": None})
    responses.post(f"{API}/wallet", json={"success": True})
    responses.post(f"{API}/purchaseStream", json={"success": True})
    responses.get(f"{API}/stream", json=[PACKET])
    with MarketplaceClient(API) as market:
        for api_key in (KEY, None):
            market.user("u", api_key=api_key)
            market.wallet("u", api_key=api_key)
            market.purchase_stream("u", "dev", api_key=api_key)
            market.stream("dev", "u", 10, api_key=api_key)
            assert [p.time for p in market.iter_stream("dev", "u", api_key=api_key)] == [5]
    sent = [_sent(c) for c in responses.calls]
    assert [s.get("apiKey") for s in sent] == [KEY] * 5 + [None] * 5
    assert sent[3] == {"deviceId": "dev", "userId": "u", "time": "10", "apiKey": KEY}
    assert sent[2] == {"userId": "u", "deviceId": "dev", "apiKey": KEY}


@responses.activate
def test_the_key_stays_out_of_errors_and_logs(caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{API}/stream", status=403, json={"error": f"Invalid API key {KEY}"})
    responses.post(f"{API}/wallet", status=400, body=f"bad request {KEY}")
    with MarketplaceClient(API) as market:
        with pytest.raises(MarketplaceRejectedError) as stream_error:
            market.stream("dev", "u", api_key=KEY)
        with pytest.raises(MarketplaceRejectedError) as wallet_error:
            market.wallet("u", api_key=KEY)
    for info in (stream_error, wallet_error):
        assert KEY not in str(info.value) and KEY not in str(info.value.text)
    assert KEY not in caplog.text


@responses.activate
def test_fetch_stream_passes_the_key_on():
    responses.get(f"{API}/stream", json=[])
    with MarketplaceClient(API) as market:
        assert list(fetch_stream(market, None, "dev", "u", api_key=KEY)) == []
    assert _sent(responses.calls[0])["apiKey"] == KEY
    # a marketplace without the keyword still works when no key is given
    fake = FakeMarketplace()
    assert list(fetch_stream(fake, None, "dev", "u")) == []
