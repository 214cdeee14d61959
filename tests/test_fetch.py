"""Reading back: a root registered twice (a lost newData answer) comes out once."""

from __future__ import annotations

from pathlib import Path

from iota_publisher import fetch
from iota_publisher.config import Config
from iota_publisher.errors import MarketplaceUnavailableError
from iota_publisher.fetch import fetch_channel, fetch_stream
from iota_publisher.mam import ParsedMessage
from iota_publisher.publisher import Publisher
from iota_publisher.testing import FakeMarketplace, FakeNode, LoopbackServices
from iota_publisher.trinary import ascii_to_trytes


def _config(tmp_path: Path, **overrides) -> Config:
    raw = {
        "sensorId": "sensor-1",
        "secretKey": "SECRET",
        "debug": False,
        "provider": "http://127.0.0.1:14265",
        "endpoint": "http://127.0.0.1:5001/newData",
        "mwm": 1,
        "security": 1,
        "stateDir": str(tmp_path / "state"),
        **overrides,
    }
    return Config.from_mapping(raw, base_dir=tmp_path)


class LostAnswer(FakeMarketplace):
    """Stores the packet, then the answer never arrives (once)."""

    def __init__(self) -> None:
        super().__init__()
        self.lose = 1

    def new_data(self, sensor_id, secret_key, *, root, sidekey, time):
        super().new_data(sensor_id, secret_key, root=root, sidekey=sidekey, time=time)
        if self.lose:
            self.lose -= 1
            raise MarketplaceUnavailableError("timed out after 5 s", endpoint="newData")


def test_a_lost_answer_registers_twice_and_readers_see_it_once(tmp_path):
    node, market = FakeNode(mwm=1), LostAnswer()
    with Publisher(_config(tmp_path), node=node, marketplace=market) as pub:
        pub.enqueue({"n": 1}, time=1_000)
        pub.enqueue({"n": 2}, time=2_000)
        try:
            pub.drain()
        except MarketplaceUnavailableError:
            pass
        results = pub.drain()
    assert [r.packet["data"] for r in results] == [{"n": 1}, {"n": 2}]
    roots = [r["packet"]["root"] for r in market.registered]
    assert roots[0] == roots[1] and len(roots) == 3  # at least once
    packets = list(fetch_stream(market, node, "sensor-1", "buyer"))
    assert [p.data for p in packets] == [{"n": 2}, {"n": 1}]
    assert [p.data for p in fetch_stream(market, node, "sensor-1", "buyer", limit=2)] == [
        {"n": 2},
        {"n": 1},
    ]
    first = packets[-1]
    assert [p.data for p in fetch_channel(node, first.root, results[0].side_key)] == [{"n": 1}]


def test_the_sandbox_keeps_a_resent_root_once(tmp_path):
    class LoseOnce:
        """Forwards to the sandbox, then drops the first answer."""

        def __init__(self, real):
            self.real = real
            self.lost = False

        def new_data(self, *args, **kwargs):
            self.real.new_data(*args, **kwargs)
            if not self.lost:
                self.lost = True
                raise MarketplaceUnavailableError("connection reset", endpoint="newData")

        def close(self):
            self.real.close()

    from iota_publisher.marketplace import MarketplaceClient
    from iota_publisher.node import NodeClient

    with LoopbackServices(FakeNode(mwm=1), FakeMarketplace()) as services:
        cfg = _config(tmp_path, provider=services.node_url, endpoint=services.endpoint)
        market = LoseOnce(MarketplaceClient.from_endpoint(services.endpoint))
        with Publisher(cfg, marketplace=market) as pub:
            pub.enqueue({"n": 1}, time=1_000)
            try:
                pub.drain()
            except MarketplaceUnavailableError:
                pass
            [result] = pub.drain()
        with NodeClient(services.node_url) as node, MarketplaceClient(services.api_url) as api:
            stream = api.stream("sensor-1", services.user_id, api_key=services.api_key)
            assert [p.root for p in stream] == [result.root]  # kept once
            packets = list(fetch_stream(api, node, "sensor-1", services.user_id))
        assert [p.data for p in packets] == [{"n": 1}]


def test_fetch_channel_stops_where_the_chain_leads_back(monkeypatch):
    a, b = "A" * 81, "B" * 81
    messages = {
        a: ParsedMessage(ascii_to_trytes('{"time":1,"data":{"n":1}}'), b),
        b: ParsedMessage(ascii_to_trytes('{"time":2,"data":{"n":2}}'), a),
    }
    calls = []

    def fake_fetch_message(node, root, side_key=None, mode="restricted"):
        calls.append(root)
        return messages.get(root)

    monkeypatch.setattr(fetch, "fetch_message", fake_fetch_message)
    assert [p.data for p in fetch_channel(None, a)] == [{"n": 1}, {"n": 2}]
    assert calls == [a, b]
