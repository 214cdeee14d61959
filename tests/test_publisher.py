"""Publisher, config and store: one publish end to end, debug mode, outages, restarts."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from iota_publisher.config import Config, load_config, redact
from iota_publisher.errors import (
    ConfigError,
    InvalidInputError,
    InvalidSecretKeyError,
    NodeUnavailableError,
)
from iota_publisher.fetch import fetch_channel, fetch_message, fetch_stream
from iota_publisher.publisher import Publisher
from iota_publisher.store import Store, StoreLockedError
from iota_publisher.testing import FakeMarketplace, FakeNode
from iota_publisher.trinary import trytes_to_ascii

ROOT = Path(__file__).resolve().parent.parent


def make_config(tmp_path: Path, **overrides) -> Config:
    raw = {
        "sensorId": "sensor-1",
        "secretKey": "SECRET",
        "debug": False,
        "provider": "http://127.0.0.1:14265",
        "endpoint": "http://127.0.0.1:5001/newData",
        "mwm": 3,
        "security": 1,
        "stateDir": str(tmp_path / "state"),
        **overrides,
    }
    return Config.from_mapping(raw, base_dir=tmp_path)


@pytest.fixture
def node():
    return FakeNode(mwm=3)


@pytest.fixture
def market():
    return FakeMarketplace()


def publisher(config, node, market, **kw):
    clock = iter(range(1_700_000_000, 1_800_000_000))
    return Publisher(config, node=node, marketplace=market, clock=lambda: next(clock), **kw)


class TestConfig:
    def test_template_config_is_valid_and_debug_by_default(self):
        cfg = load_config(ROOT / "config.example.json")
        assert cfg.debug is True and cfg.sensor_id == "my-weather-station"
        assert (cfg.mode, cfg.security, cfg.mwm, cfg.depth, cfg.pow) == (
            "restricted",
            2,
            9,
            3,
            "local",
        )
        assert cfg.state_dir == (ROOT / "state")

    def test_secret_never_in_repr_or_redacted(self, tmp_path):
        cfg = make_config(tmp_path, secretKey="TOPSECRET")
        assert "TOPSECRET" not in repr(cfg)
        assert "TOPSECRET" not in json.dumps(cfg.redacted())
        assert redact({"sk": "x", "a": [{"secretKey": "y"}]}) == {
            "sk": "***",
            "a": [{"secretKey": "***"}],
        }

    @pytest.mark.parametrize(
        "change, field",
        [
            ({"sensorId": ""}, "sensorId"),
            ({"secretKey": None}, "secretKey"),
            ({"provider": "ftp://x"}, "provider"),
            ({"provider": None}, "provider"),
            ({"mwm": 0}, "mwm"),
            ({"security": 4}, "security"),
            ({"mode": "open"}, "mode"),
            ({"pow": "gpu"}, "pow"),
            ({"tag": "lower"}, "tag"),
            ({"debug": "yes"}, "debug"),
            ({"timeout": float("nan")}, "timeout"),
            ({"sideKey": "fixed", "mode": "public"}, "sideKey"),
        ],
    )
    def test_bad_values_name_the_key(self, tmp_path, change, field):
        with pytest.raises(ConfigError) as info:
            make_config(tmp_path, **change)
        assert info.value.field == field
        assert field in str(info.value)

    def test_secret_value_not_echoed(self, tmp_path):
        with pytest.raises(ConfigError) as info:
            make_config(tmp_path, secretKey=12345)
        assert "12345" not in str(info.value)

    def test_unreadable_and_broken_files(self, tmp_path):
        with pytest.raises(ConfigError, match="cannot read"):
            load_config(tmp_path / "missing.json")
        bad = tmp_path / "bad.json"
        bad.write_text('{"sensorId": "x",}')
        with pytest.raises(ConfigError, match="line 1"):
            load_config(bad)


class TestDebugMode:
    def test_prints_and_sends_nothing(self, tmp_path, node, market, caplog):
        import logging

        caplog.set_level(logging.INFO)
        out = io.StringIO()
        cfg = make_config(tmp_path, debug=True, secretKey="TOPSECRET")
        result = publisher(cfg, node, market, out=out).publish({"temp": 21.5}, time=1550000000000)
        assert result.debug and result.root is None
        # one JSON line per payload, as the template printed it
        assert out.getvalue() == '{"time": 1550000000000, "data": {"temp": 21.5}}\n'
        assert "nothing sent" in caplog.text and "TOPSECRET" not in caplog.text
        assert node.store_calls == 0 and market.registered == []
        assert not (tmp_path / "state").exists()

    def test_credentials_in_urls_are_not_logged(self, tmp_path, node, market, caplog):
        import logging

        caplog.set_level(logging.DEBUG)
        cfg = make_config(
            tmp_path,
            debug=True,
            provider="http://user:NODEPASSWORD@node.example:14265/?key=NODEQUERYKEY",
            endpoint="https://market.example/api/newData?token=MARKETTOKEN",
        )
        publisher(cfg, node, market, out=io.StringIO()).publish({"temp": 21.5})
        assert "node.example:14265" in caplog.text and "market.example" in caplog.text
        for secret in ("NODEPASSWORD", "NODEQUERYKEY", "MARKETTOKEN"):
            assert secret not in caplog.text


class TestPublish:
    def test_end_to_end(self, tmp_path, node, market):
        with publisher(make_config(tmp_path), node, market) as pub:
            result = pub.publish({"temp": 21.5, "hum": 40}, time=1550000000000)
        assert result.packet == {"time": 1550000000000, "data": {"temp": 21.5, "hum": 40}}
        assert len(result.root) == 81 and len(result.side_key) == 81 and len(result.tail) == 81
        assert {"mam", "pow", "node", "marketplace"} <= set(result.timings)
        [record] = market.registered
        assert record == {
            "id": "sensor-1",
            "packet": {"root": result.root, "sidekey": result.side_key, "time": 1550000000000},
        }
        parsed = fetch_message(node, result.root, result.side_key)
        assert json.loads(trytes_to_ascii(parsed.message)) == result.packet

    def test_chain_and_fresh_side_keys(self, tmp_path, node, market):
        with publisher(make_config(tmp_path), node, market) as pub:
            first = pub.publish({"n": 1})
            second = pub.publish({"n": 2})
        assert first.side_key != second.side_key
        parsed = fetch_message(node, first.root, first.side_key)
        assert parsed.next_root == second.root
        packets = list(fetch_stream(market, node, "sensor-1", "buyer"))
        assert [p.data for p in packets] == [{"n": 2}, {"n": 1}]  # newest first

    def test_fixed_side_key_and_channel_fetch(self, tmp_path, node, market):
        with publisher(make_config(tmp_path, sideKey="fixed"), node, market) as pub:
            results = [pub.publish({"n": i}) for i in range(3)]
        assert len({r.side_key for r in results}) == 1
        packets = list(fetch_channel(node, results[0].root, results[0].side_key))
        assert [p.data for p in packets] == [{"n": 0}, {"n": 1}, {"n": 2}]

    def test_public_mode(self, tmp_path, node, market):
        with publisher(make_config(tmp_path, mode="public"), node, market) as pub:
            result = pub.publish({"n": 1})
        assert result.address == result.root
        assert fetch_message(node, result.root, None, "public") is not None

    @pytest.mark.parametrize("data", [[1, 2], {"x": float("nan")}, {"x": object()}])
    def test_bad_data(self, tmp_path, node, market, data):
        with publisher(make_config(tmp_path), node, market) as pub:
            with pytest.raises(InvalidInputError) as info:
                pub.publish(data)
            assert info.value.field == "data"
            assert pub.store.stats()["queued"] == 0

    def test_non_ascii_values_are_escaped(self, tmp_path, node, market):
        with publisher(make_config(tmp_path), node, market) as pub:
            result = pub.publish({"place": "Zürich"})
        parsed = fetch_message(node, result.root, result.side_key)
        assert json.loads(trytes_to_ascii(parsed.message))["data"] == {"place": "Zürich"}


class TestOutages:
    def test_node_down_then_back(self, tmp_path, node, market):
        node.fail("store_and_broadcast", NodeUnavailableError("down", command="storeTransactions"))
        with publisher(make_config(tmp_path), node, market) as pub:
            with pytest.raises(NodeUnavailableError):
                pub.publish({"n": 1})
            row = pub.store.head()
            assert row.stage == "attached" and row.attempts == 1
            prepared_payload, attached = row.payload, row.attached
            results = pub.drain()
        assert len(results) == 1 and len(market.registered) == 1
        # the very transactions prepared before the outage were sent, not new ones
        assert set(attached) <= set(node.transactions.values())
        assert prepared_payload

    def test_marketplace_down_then_back(self, tmp_path, node, market):
        from iota_publisher.errors import MarketplaceUnavailableError

        market.fail("new_data", MarketplaceUnavailableError("down", endpoint="newData"))
        with publisher(make_config(tmp_path), node, market) as pub:
            with pytest.raises(MarketplaceUnavailableError):
                pub.publish({"n": 1})
            assert pub.store.head().stage == "stored"
            second = pub.publish({"n": 2})  # drains the first, then the second, in order
        assert [r["packet"]["time"] for r in market.registered] == sorted(
            r["packet"]["time"] for r in market.registered
        )
        assert len(market.registered) == 2 and node.store_calls == 2
        assert market.registered[1]["packet"]["root"] == second.root

    def test_remote_proof_of_work(self, tmp_path, node, market):
        with publisher(make_config(tmp_path, pow="remote"), node, market) as pub:
            result = pub.publish({"n": 1})
        assert fetch_message(node, result.root, result.side_key) is not None

    def test_restart_resends_byte_for_byte(self, tmp_path, node, market):
        node.fail(
            "get_transactions_to_approve",
            NodeUnavailableError("down", command="getTransactionsToApprove"),
        )
        cfg = make_config(tmp_path)
        with publisher(cfg, node, market) as pub:
            with pytest.raises(NodeUnavailableError):
                pub.publish({"n": 1})
            row = pub.store.head()
            assert row.stage == "prepared"
            payload, root, side_key = row.payload, row.root, row.side_key
            channel_after = pub.store.load_channel()
        with publisher(cfg, node, market) as pub:  # a new process
            [result] = pub.drain()
            assert pub.store.load_channel() == channel_after  # no second advance
        assert (result.root, result.side_key) == (root, side_key)
        assert fetch_message(node, root, side_key) is not None
        assert payload.startswith(node_payload_prefix(node, root))

    def test_wrong_secret_key_is_not_retried_and_keeps_the_reading(self, tmp_path, node, market):
        cfg = make_config(tmp_path, secretKey="WRONG")
        with publisher(cfg, node, market) as pub:
            with pytest.raises(InvalidSecretKeyError):
                pub.publish({"n": 1})
            assert pub.store.head().stage == "stored"
        fixed = make_config(tmp_path)
        with publisher(fixed, node, market) as pub:
            pub.drain()
        assert node.store_calls == 1 and len(market.registered) == 1

    def test_outbox_is_bounded(self, tmp_path, node, market, caplog):
        node.fail("get_transactions_to_approve", *[NodeUnavailableError("down")] * 10)
        cfg = make_config(tmp_path, outboxLimit=3)
        with publisher(cfg, node, market) as pub:
            for i in range(5):
                pub.enqueue({"n": i}, time=1000 + i)
            stats = pub.store.stats()
            assert stats["queued"] == 3 and stats["dropped"] == 2
            assert "dropped the 1 oldest" in caplog.text
            assert [json.loads(pub.store.head().data)] == [{"n": 2}]

    def test_restart_continues_the_chain(self, tmp_path, node, market):
        cfg = make_config(tmp_path)
        with publisher(cfg, node, market) as pub:
            first = pub.publish({"n": 1})
        with publisher(cfg, node, market) as pub:
            second = pub.publish({"n": 2})
        assert fetch_message(node, first.root, first.side_key).next_root == second.root


def node_payload_prefix(node, root):
    from iota_publisher.mam import message_address
    from iota_publisher.trinary import Transaction

    address = message_address(root, "restricted")
    txs = [Transaction.from_trytes(t) for t in node.transactions.values()]
    tail = next(t for t in txs if t.address == address and t.current_index == 0)
    return tail.signature_message_fragment.rstrip("9")[:100]


class TestStore:
    def test_permissions_and_lock(self, tmp_path):
        state = tmp_path / "state"
        with Store(state):
            assert stat.S_IMODE(state.stat().st_mode) == 0o700
            assert stat.S_IMODE((state / "publisher.db").stat().st_mode) == 0o600
            with pytest.raises(StoreLockedError, match="another iota-publisher process"):
                Store(state)
        Store(state).close()  # released on close

    def test_stages_must_follow_in_order(self, tmp_path):
        from iota_publisher.store import StoreError

        with Store(tmp_path / "s") as store:
            row = store.enqueue(1, "{}")
            with pytest.raises(StoreError):
                store.mark_stored(row)
            with pytest.raises(StoreError):
                store.mark_registered(row)

    @pytest.mark.parametrize("returning", [True, False], ids=["returning", "select"])
    def test_stage_methods_return_the_new_row(self, tmp_path, monkeypatch, returning):
        import iota_publisher.store as store_module
        from iota_publisher.store import OutboxRow, Stage, StoreError

        monkeypatch.setattr(store_module, "_RETURNING", returning and store_module._RETURNING)
        with Store(tmp_path / "s", clock=lambda: 1_234.5678) as store:
            row_id = store.enqueue(7, '{"n":1}')
            assert store.head() == OutboxRow(
                row_id, 7, '{"n":1}', Stage.QUEUED, created_ms=1_234_567
            )
            store.record_error(row_id, "down")
            prepared = store.prepare(
                row_id,
                {"seed": "S"},
                root="R",
                side_key="K",
                address="A",
                payload="P",
                bundle=["B1", "B2"],
            )
            assert prepared == store.get(row_id)
            assert (prepared.stage, prepared.root, prepared.side_key, prepared.bundle) == (
                Stage.PREPARED,
                "R",
                "K",
                ["B1", "B2"],
            )
            assert (prepared.attempts, prepared.last_error) == (1, "down")
            assert store.load_channel() == {"seed": "S"}
            attached = store.save_attached(row_id, ["T1", "T2"], "TAIL")
            assert attached == store.get(row_id)
            assert (attached.stage, attached.attached, attached.tail) == (
                Stage.ATTACHED,
                ["T1", "T2"],
                "TAIL",
            )
            stored = store.mark_stored(row_id)
            assert stored == store.get(row_id) and stored.stage is Stage.STORED
            with pytest.raises(StoreError, match="not at stage 'attached'"):
                store.mark_stored(row_id)
            assert store.mark_registered(row_id) is None
            assert store.head() is None and store.stats()["registered"] == 1

    def test_stages_are_stored_as_plain_names(self, tmp_path):
        from iota_publisher.store import Stage

        with Store(tmp_path / "s") as store:
            first = store.enqueue(1, "{}")
            second = store.enqueue(2, "{}")
            store.prepare(first, {}, root="R", side_key=None, address="A", payload="P", bundle=[])
        db = sqlite3.connect(tmp_path / "s" / "publisher.db")
        assert db.execute("SELECT id, stage FROM outbox ORDER BY id").fetchall() == [
            (first, "prepared"),
            (second, "queued"),
        ]
        db.execute("UPDATE outbox SET stage = 'stored' WHERE id = ?", (first,))  # as older versions
        db.commit()
        db.close()
        with Store(tmp_path / "s") as store:
            assert store.head().stage is Stage.STORED
            assert store.stats() == {
                "queued": 1,
                "prepared": 0,
                "attached": 0,
                "stored": 1,
                "parked": 0,
                "registered": 0,
                "dropped": 0,
            }
            assert str(Stage.STORED) == "stored" and Stage("queued") is Stage.QUEUED

    def test_clock_stamps_what_the_store_writes(self, tmp_path):
        times = iter([100.0, 200.5])
        with Store(tmp_path / "s", clock=lambda: next(times)) as store:
            store.enqueue(1, "{}")
            store.enqueue(2, "{}")
            assert store.head().created_ms == 100_000
            assert store.get(store.head().id + 1).created_ms == 200_500

    @pytest.mark.skipif(
        sqlite3.sqlite_version_info < (3, 35), reason="SQLite before 3.35 has no RETURNING"
    )
    def test_publisher_reads_each_row_once(self, tmp_path, node, market):
        with publisher(make_config(tmp_path), node, market) as pub:
            pub.enqueue({"n": 1})
            statements: list[str] = []
            pub.store._db.set_trace_callback(statements.append)
            [result] = pub.drain()
        assert result.tail is not None and market.registered
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        outbox_reads = [s for s in selects if "FROM outbox" in s]
        # drain's two looks at the head (the reading, then nothing); every stage change hands
        # back the row it wrote
        assert len(outbox_reads) == 2, outbox_reads


class TestOverHTTP:
    """The real clients against loopback HTTP stand-ins for the node and the marketplace."""

    def test_publish_and_fetch(self, tmp_path):
        from iota_publisher.marketplace import MarketplaceClient
        from iota_publisher.node import NodeClient
        from iota_publisher.testing import LoopbackServices

        with LoopbackServices(FakeNode(mwm=3), FakeMarketplace()) as services:
            cfg = make_config(tmp_path, provider=services.node_url, endpoint=services.endpoint)
            with Publisher(cfg) as pub:
                results = [pub.publish({"n": i}, time=1_550_000_000_000 + i) for i in range(3)]
            assert [r["packet"]["time"] for r in services.marketplace.registered] == [
                1_550_000_000_000 + i for i in range(3)
            ]
            with (
                NodeClient(services.node_url) as node,
                MarketplaceClient(services.api_url) as market,
            ):
                packets = list(fetch_stream(market, node, "sensor-1", "buyer"))
        assert [p.data for p in packets] == [{"n": 2}, {"n": 1}, {"n": 0}]
        assert packets[-1].next_root == results[1].root

    def test_wrong_key_over_http(self, tmp_path):
        from iota_publisher.testing import LoopbackServices

        with LoopbackServices(FakeNode(mwm=3), FakeMarketplace()) as services:
            cfg = make_config(
                tmp_path, provider=services.node_url, endpoint=services.endpoint, secretKey="NOPE"
            )
            with Publisher(cfg) as pub:
                with pytest.raises(InvalidSecretKeyError) as info:
                    pub.publish({"n": 1})
                assert info.value.status == 403 and "NOPE" not in str(info.value)
                assert pub.store.head().stage == "stored"


class TestDebugContract:
    """In debug mode no method of the Publisher sends or stores anything."""

    def test_enqueue_prints_and_returns_no_id(self, tmp_path, node, market):
        out = io.StringIO()
        cfg = make_config(tmp_path, debug=True)
        with publisher(cfg, node, market, out=out) as pub:
            assert pub.enqueue({"n": 1}, time=1_550_000_000_000) is None
            assert pub.drain() == []
        assert out.getvalue() == '{"time": 1550000000000, "data": {"n": 1}}\n'
        assert node.store_calls == 0 and market.registered == []
        assert not (tmp_path / "state").exists()

    def test_drain_sends_nothing_even_with_readings_waiting(self, tmp_path, node, market):
        cfg = make_config(tmp_path)
        node.fail("get_transactions_to_approve", NodeUnavailableError("down"))
        with publisher(cfg, node, market) as pub:
            with pytest.raises(NodeUnavailableError):
                pub.publish({"n": 1})
        with publisher(make_config(tmp_path, debug=True), node, market) as pub:
            assert pub.drain() == []
        assert node.store_calls == 0 and market.registered == []
        with Store(tmp_path / "state") as store:
            assert store.head().stage == "prepared"  # still waiting, untouched

    def test_bad_data_is_refused_in_debug_too(self, tmp_path, node, market):
        with publisher(make_config(tmp_path, debug=True), node, market) as pub:
            with pytest.raises(InvalidInputError):
                pub.enqueue([1])


class StrictNode(FakeNode):
    """Answers as a node does: transactions it refuses are a NodeRejectedError (HTTP 400)."""

    def __init__(self, mwm=3, status=400, **kw):
        super().__init__(mwm=mwm, **kw)
        self.status = status
        self.refused = 0

    def store_and_broadcast(self, trytes):
        from iota_publisher.errors import BundleError, NodeRejectedError

        self.check("store_and_broadcast")
        try:
            validate_bundle(trytes, mwm=self.mwm)
        except BundleError as exc:
            self.refused += 1
            raise NodeRejectedError(
                f"storeTransactions failed: HTTP {self.status}: {exc}",
                command="storeTransactions",
                status=self.status,
            ) from None
        self.record(trytes)


def validate_bundle(trytes, mwm):
    from iota_publisher.trinary import validate_bundle as check

    return check(trytes, mwm=mwm)


class TestRefusals:
    def _attached_then_outage(self, tmp_path, node, market, **cfg):
        """A reading left at 'attached' by an outage of the node."""
        node.fail("store_and_broadcast", NodeUnavailableError("down", command="storeTransactions"))
        with publisher(make_config(tmp_path, **cfg), node, market) as pub:
            with pytest.raises(NodeUnavailableError):
                pub.publish({"n": 1}, time=1_550_000_000_000)
            row = pub.store.head()
            assert row.stage == "attached"
            return row, pub.store.load_channel()

    def test_node_mwm_went_up_the_same_message_is_attached_again(self, tmp_path, market):
        from iota_publisher.trinary import Transaction
        from iota_publisher.trinary.bundle import trailing_zeros

        node = StrictNode(mwm=1)
        before, channel = self._attached_then_outage(tmp_path, node, market, mwm=1)
        # the node asks for more now than the stored work has (work at mwm 1 may reach
        # mwm 3 by chance); the config follows
        weight = min(trailing_zeros(Transaction.from_trytes(t).hash) for t in before.attached)
        node.mwm = weight + 1
        with publisher(make_config(tmp_path, mwm=weight + 1), node, market) as pub:
            [result] = pub.drain()
            assert pub.store.load_channel() == channel  # never signed again
            assert pub.store.stats()["parked"] == 0
        assert node.refused == 1
        assert (result.root, result.side_key) == (before.root, before.side_key)
        assert result.tail != before.tail  # new tips and proof of work
        parsed = fetch_message(node, before.root, before.side_key)
        assert json.loads(trytes_to_ascii(parsed.message))["data"] == {"n": 1}
        # the MAM message is byte for byte the prepared one
        assert before.payload.startswith(node_payload_prefix(node, before.root))
        assert len(market.registered) == 1

    def test_refused_again_and_again_is_parked_and_later_readings_flow(self, tmp_path, market):
        node = StrictNode(mwm=1)
        before, _channel = self._attached_then_outage(tmp_path, node, market, mwm=1)
        node.mwm = 9  # far above the config's mwm 1: every re-attach is refused too
        with publisher(make_config(tmp_path, mwm=1), node, market) as pub:
            assert pub.drain() == []
            [parked] = pub.store.parked()
            assert parked.id == before.id and parked.parked_from == "attached"
            assert "HTTP 400" in parked.last_error and "SECRET" not in parked.last_error
            assert node.refused == 1 + 3  # the first refusal, then three re-attaches
            assert pub.store.stats()["parked"] == 1 and pub.store.head() is None
            node.mwm = 1
            later = pub.publish({"n": 2})  # the parked reading does not hold the next up
            assert later.id != before.id
            pub.store.retry(before.id)
            [again] = pub.drain()
        assert again.root == before.root
        assert len(market.registered) == 2

    def test_publish_of_a_reading_parked_at_once_raises(self, tmp_path, market):
        from iota_publisher.errors import ReadingParkedError

        node = StrictNode(mwm=5)
        with publisher(make_config(tmp_path, mwm=1), node, market) as pub:
            with pytest.raises(ReadingParkedError, match="parked at stage attached") as info:
                pub.publish({"n": 1})
            assert info.value.stage == "attached"
            assert pub.store.get(info.value.id).stage == "parked"

    @pytest.mark.parametrize("status", [401, 403, 404])
    def test_a_refusal_of_the_setup_is_not_parked(self, tmp_path, market, status):
        from iota_publisher.errors import NodeRejectedError

        node = StrictNode(mwm=5, status=status)
        with publisher(make_config(tmp_path, mwm=1), node, market) as pub:
            with pytest.raises(NodeRejectedError):
                pub.publish({"n": 1})
            row = pub.store.head()
            assert row.stage == "attached" and row.attempts == 1
        assert node.refused == 1

    def test_new_data_refusing_the_packet_parks_it(self, tmp_path, node, market):
        from iota_publisher.errors import MarketplaceRejectedError

        market.fail(
            "new_data",
            MarketplaceRejectedError(
                "marketplace newData failed: HTTP 400: bad packet", endpoint="newData", status=400
            ),
        )
        with publisher(make_config(tmp_path), node, market) as pub:
            pub.enqueue({"n": 1}, time=1)
            pub.enqueue({"n": 2}, time=2)
            [second] = pub.drain()
            assert second.packet["data"] == {"n": 2}
            [parked] = pub.store.parked()
            assert parked.parked_from == "stored" and "HTTP 400" in parked.last_error
            [back] = pub.store.retry()
            assert back.stage == "stored"
            [first] = pub.drain()
        assert first.packet["data"] == {"n": 1}
        assert node.store_calls == 2  # the parked reading was not sent to the node again
        assert [r["packet"]["time"] for r in market.registered] == [2, 1]

    def test_new_data_success_false_parks_it(self, tmp_path, node, market):
        from iota_publisher.errors import MarketplaceRejectedError

        market.fail(
            "new_data",
            MarketplaceRejectedError("the packet was not stored", endpoint="newData", status=200),
        )
        with publisher(make_config(tmp_path), node, market) as pub:
            pub.enqueue({"n": 1})
            assert pub.drain() == []
            assert pub.store.stats()["parked"] == 1

    def test_the_secret_key_is_never_kept_with_the_error(self, tmp_path, node, market):
        from iota_publisher.errors import MarketplaceRejectedError

        market.fail(
            "new_data",
            MarketplaceRejectedError("server echoed TOPSECRET", endpoint="newData", status=400),
        )
        with publisher(make_config(tmp_path, secretKey="TOPSECRET"), node, market) as pub:
            market.secret_key = "TOPSECRET"
            pub.enqueue({"n": 1})
            pub.drain()
            [parked] = pub.store.parked()
        assert "TOPSECRET" not in parked.last_error and "***" in parked.last_error

    def test_transient_errors_are_not_parked(self, tmp_path, node, market):
        from iota_publisher.errors import MarketplaceUnavailableError

        market.fail("new_data", MarketplaceUnavailableError("down", endpoint="newData"))
        with publisher(make_config(tmp_path), node, market) as pub:
            with pytest.raises(MarketplaceUnavailableError):
                pub.publish({"n": 1})
            assert pub.store.head().stage == "stored" and pub.store.parked() == []


class TestTimeStamps:
    def _stamps(self, node):
        from iota_publisher.trinary import Transaction

        txs = [Transaction.from_trytes(t) for t in node.transactions.values()]
        return sorted((tx.attachment_timestamp, tx.timestamp) for tx in txs)

    def test_a_backward_clock_jump_never_dates_back(self, tmp_path, node, market):
        from iota_publisher.trinary import Transaction

        clock = [1_700_000_000.0]
        cfg = make_config(tmp_path)
        with Publisher(cfg, node=node, marketplace=market, clock=lambda: clock[0]) as pub:
            first = pub.publish({"n": 1})
            clock[0] -= 1000  # the clock jumps back
            second = pub.publish({"n": 2})
            clock[0] += 2000  # and later runs ahead of the last stamp again
            third = pub.publish({"n": 3})

        def stamps(result):
            txs = [Transaction.from_trytes(t) for t in node.transactions.values()]
            return [
                (tx.timestamp * 1000, tx.attachment_timestamp)
                for tx in txs
                if tx.address == result.address
            ]

        for earlier, later in ((first, second), (second, third)):
            assert min(min(p) for p in stamps(later)) >= max(max(p) for p in stamps(earlier))
        assert max(stamps(third))[1] == 1_700_001_000_000
        assert len(market.registered) == 3

    def test_a_clock_that_was_far_ahead_is_not_followed(self, tmp_path, node, market):
        cfg = make_config(tmp_path)
        ahead = [1_700_000_000.0 + 3 * 3600]
        with Publisher(cfg, node=node, marketplace=market, clock=lambda: ahead[0]) as pub:
            pub.publish({"n": 1})
            assert pub.store.get_meta("stamp_ms") >= (1_700_000_000 + 3 * 3600) * 1000
            ahead[0] = 1_700_000_000.0  # put right
            result = pub.publish({"n": 2})
        from iota_publisher.trinary import Transaction

        txs = [
            tx
            for tx in (Transaction.from_trytes(t) for t in node.transactions.values())
            if tx.address == result.address
        ]
        assert {(tx.timestamp, tx.attachment_timestamp) for tx in txs} == {
            (1_700_000_000, 1_700_000_000_000)
        }

    def test_a_bundle_dated_far_ahead_is_rebuilt_around_the_same_message(self, tmp_path, market):
        from iota_publisher.trinary import Transaction

        node = StrictNode(mwm=3)
        node.fail("get_transactions_to_approve", NodeUnavailableError("down", command="getTips"))
        clock = [1_700_000_000.0 + 5 * 3600]  # five hours ahead when the message is made
        cfg = make_config(tmp_path)
        with Publisher(cfg, node=node, marketplace=market, clock=lambda: clock[0]) as pub:
            with pytest.raises(NodeUnavailableError):
                pub.publish({"n": 1})
            prepared = pub.store.head()
            assert Transaction.from_trytes(prepared.bundle[0]).timestamp == 1_700_018_000
            channel = pub.store.load_channel()
            clock[0] = 1_700_000_000.0
            [result] = pub.drain()
            assert pub.store.load_channel() == channel
        assert result.root == prepared.root
        txs = [
            tx
            for tx in (Transaction.from_trytes(t) for t in node.transactions.values())
            if tx.address == prepared.address
        ]
        assert {tx.timestamp for tx in txs} == {1_700_000_000}
        assert {tx.tag for tx in txs} == {Transaction.from_trytes(prepared.bundle[0]).tag}
        assert prepared.payload.startswith(node_payload_prefix(node, prepared.root))

    def test_clock_hours_ahead_at_attach_time_over_http(self, tmp_path):
        """The sandbox node refuses transactions dated too far ahead; once the clock is
        right, `retry` gets the same message re-attached, its bundle rebuilt."""
        import time as time_module

        from iota_publisher.errors import ReadingParkedError
        from iota_publisher.testing import LoopbackServices
        from iota_publisher.trinary import Transaction

        offset = [3 * 3600.0]
        with LoopbackServices(FakeNode(mwm=3), FakeMarketplace()) as services:
            cfg = make_config(tmp_path, provider=services.node_url, endpoint=services.endpoint)
            with Publisher(cfg, clock=lambda: time_module.time() + offset[0]) as pub:
                with pytest.raises(ReadingParkedError) as info:
                    pub.publish({"n": 1})
                parked = pub.store.get(info.value.id)
                assert parked.parked_from == "attached" and "future" in parked.last_error
                channel = pub.store.load_channel()
                offset[0] = 0.0  # the clock is put right
                pub.store.retry()
                [result] = pub.drain()
                assert pub.store.load_channel() == channel
            assert result.root == parked.root
            assert services.node.store_calls == 1
            [record] = services.marketplace.registered
            assert record["packet"]["root"] == parked.root
            txs = [
                Transaction.from_trytes(t)
                for t in services.node.transactions.values()
                if Transaction.from_trytes(t).address == parked.address
            ]
            assert all(abs(tx.timestamp - time_module.time()) < 600 for tx in txs)
            parsed = fetch_message(services.node, parked.root, parked.side_key)
            assert json.loads(trytes_to_ascii(parsed.message))["data"] == {"n": 1}
