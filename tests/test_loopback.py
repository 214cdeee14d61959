"""LoopbackServices: the sandbox's node and marketplace over HTTP, in step with the fakes."""

from __future__ import annotations

import pytest
import requests

from iota_publisher._http import NO_RETRY
from iota_publisher.errors import (
    MarketplaceRejectedError,
    MarketplaceUnavailableError,
    NodeUnavailableError,
)
from iota_publisher.fetch import fetch_stream
from iota_publisher.marketplace import MarketplaceClient
from iota_publisher.node import NodeClient
from iota_publisher.testing import FakeMarketplace, FakeNode, LoopbackServices
from iota_publisher.trinary import build_bundle, transaction_hash

NULL = "9" * 81


def test_node_is_the_sandbox_node_and_the_fake_keeps_what_it_stores(tmp_path):
    fake = FakeNode(mwm=3, path=tmp_path / "node.jsonl")
    raw = build_bundle("A" * 81, "HELLO", "LOOPBACK")
    with LoopbackServices(fake) as services, NodeClient(services.node_url) as node:
        assert node.get_node_info()["appName"] == "iota-publisher sandbox"
        attached = node.attach_to_tangle(NULL, NULL, 3, raw)
        node.store_and_broadcast(attached)
        assert node.find_transactions(tags=["LOOPBACK"]) == [transaction_hash(attached[0])]
        status = requests.post(
            services.node_url,
            json={"command": "storeTransactions", "trytes": ["NOT9A9TRANSACTION"]},
            headers={"X-IOTA-API-Version": "1"},
            timeout=30,
        ).status_code
        assert status == 400  # what the sandbox refuses the fake does not keep
    assert fake.store_calls == 1 and set(fake.transactions) == {transaction_hash(attached[0])}
    # a fake node's file is served again by the next loopback node
    with LoopbackServices(FakeNode(mwm=3, path=tmp_path / "node.jsonl")) as services:
        with NodeClient(services.node_url) as node:
            assert node.get_trytes([transaction_hash(attached[0])]) == attached


def test_failures_queued_on_the_fakes_are_answered_over_http():
    fake_node, fake_market = FakeNode(mwm=3), FakeMarketplace()
    with LoopbackServices(fake_node, fake_market) as services:
        fake_node.fail("get_transactions_to_approve", NodeUnavailableError("down"))
        fake_market.fail("new_data", MarketplaceUnavailableError("down", endpoint="newData"))
        with NodeClient(services.node_url, retry_policy=NO_RETRY) as node:
            with pytest.raises(NodeUnavailableError):
                node.get_transactions_to_approve(3)
            assert node.get_transactions_to_approve(3) == (NULL, NULL)
        with MarketplaceClient(services.api_url, retry_policy=NO_RETRY) as market:
            packet = {"root": "R" * 81, "sidekey": "S" * 81, "time": 7}
            with pytest.raises(MarketplaceUnavailableError):
                market.new_data("sensor-1", "SECRET", **packet)
            market.new_data("sensor-1", "SECRET", **packet)
            assert [r["packet"]["time"] for r in fake_market.registered] == [7]
            # the stream is open to any user without a key, as the fake's is; a key is checked
            assert [p.time for p in market.iter_stream("sensor-1", "anyone")] == [7]
            stream = market.iter_stream("sensor-1", services.user_id, api_key=services.api_key)
            assert [p.time for p in stream] == [7]
            with NodeClient(services.node_url) as node, pytest.raises(MarketplaceRejectedError):
                list(fetch_stream(market, node, "sensor-1", services.user_id, api_key="wrong"))
