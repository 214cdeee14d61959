"""MAM v0 behaviour beyond the reference vectors: errors, state, tree reuse."""

from __future__ import annotations

import pytest

from iota_publisher import MamParseError, MamSignatureError
from iota_publisher.errors import InvalidInputError, InvalidTrytesError
from iota_publisher.mam import Channel, message_address, parse_message
from iota_publisher.mam import _channel as channel_module
from iota_publisher.trinary import TRYTE_ALPHABET

SEED = "SEED9" * 16 + "X"
KEY = "SIDEKEY"


@pytest.fixture(scope="module")
def restricted_message():
    ch = Channel(SEED, security=1, mode="restricted", side_key=KEY)
    return ch.create_message("HELLO9WORLD" * 5)


def _flip(trytes: str, position: int) -> str:
    c = trytes[position]
    other = TRYTE_ALPHABET[(TRYTE_ALPHABET.index(c) + 1) % 27]
    return trytes[:position] + other + trytes[position + 1 :]


class TestParseErrors:
    def test_round_trip(self, restricted_message):
        parsed = parse_message(restricted_message.payload, restricted_message.root, KEY)
        assert parsed.message == "HELLO9WORLD" * 5
        assert parsed.next_root == restricted_message.next_root

    def test_side_key_is_padded_like_the_writer_pads_it(self, restricted_message):
        padded = KEY + "9" * (81 - len(KEY))
        parsed = parse_message(restricted_message.payload, restricted_message.root, padded)
        assert parsed.message == "HELLO9WORLD" * 5

    def test_wrong_side_key(self, restricted_message):
        with pytest.raises(MamSignatureError, match="wrong side key"):
            parse_message(restricted_message.payload, restricted_message.root, "OTHERKEY")

    def test_missing_side_key(self, restricted_message):
        with pytest.raises(MamSignatureError):
            parse_message(restricted_message.payload, restricted_message.root)

    def test_wrong_root(self, restricted_message):
        with pytest.raises(MamSignatureError):
            parse_message(restricted_message.payload, _flip(restricted_message.root, 5), KEY)

    @pytest.mark.parametrize("where", ["header", "message", "nonce", "signature", "end"])
    def test_tampered_payload(self, restricted_message, where):
        payload = restricted_message.payload
        # header: trytes 0-3 hold index and length; message starts after the 81-tryte next root
        position = {"header": 0, "message": 100, "nonce": 84 + 55, "signature": 400, "end": -10}[
            where
        ]
        tampered = _flip(payload, position % len(payload))
        with pytest.raises(MamParseError):
            parse_message(tampered, restricted_message.root, KEY)

    @pytest.mark.parametrize("keep", [0, 1, 3, 50, 200, 2000])
    def test_truncated_payload(self, restricted_message, keep):
        with pytest.raises(MamParseError):
            parse_message(restricted_message.payload[:keep], restricted_message.root, KEY)

    def test_trailing_padding_is_accepted(self, restricted_message):
        # @iota/mam (WASM) sometimes emits one tryte more than mam.js
        parsed = parse_message(restricted_message.payload + "9", restricted_message.root, KEY)
        assert parsed.message == "HELLO9WORLD" * 5

    def test_garbage_payloads_raise_parse_errors_not_crashes(self):
        root = "A" * 81
        for payload in ["9" * 10, "Z" * 200, "M" * 3000, "9999", "A", "NNNN" + "9" * 300]:
            with pytest.raises(MamParseError):
                parse_message(payload, root)

    @pytest.mark.parametrize(
        "args, field",
        [
            (("abc", "A" * 81), "payload"),
            (("AAA", "A" * 80), "root"),
            (("AAA", "A" * 81, "K" * 82), "side_key"),
            (("AAA", "A" * 81, "key"), "side_key"),
        ],
    )
    def test_bad_arguments_name_the_field(self, args, field):
        with pytest.raises(InvalidTrytesError) as info:
            parse_message(*args)
        assert info.value.field == field
        assert field in str(info.value)


class TestChannelArguments:
    @pytest.mark.parametrize(
        "kwargs, field",
        [
            ({"seed": "A" * 80}, "seed"),
            ({"seed": "a" * 81}, "seed"),
            ({"seed": 5}, "seed"),
            ({"security": 0}, "security"),
            ({"security": 4}, "security"),
            ({"security": "2"}, "security"),
            ({"mode": "secret"}, "mode"),
            ({"mode": "restricted"}, "side_key"),
            ({"mode": "restricted", "side_key": ""}, "side_key"),
            ({"mode": "restricted", "side_key": "K" * 82}, "side_key"),
            ({"mode": "restricted", "side_key": "k"}, "side_key"),
            ({"mode": "public", "side_key": "KEY"}, "side_key"),
        ],
    )
    def test_rejected(self, kwargs, field):
        args = {"seed": SEED, "security": 1, "mode": "public", **kwargs}
        with pytest.raises(InvalidInputError) as info:
            Channel(**args)
        assert info.value.field == field

    def test_errors_do_not_echo_the_seed(self):
        seed = "B" * 40 + "b" + "B" * 40
        with pytest.raises(InvalidTrytesError) as info:
            Channel(seed, mode="public")
        assert "'b'" not in str(info.value) and "B" * 10 not in str(info.value)
        assert "position 40" in str(info.value)

    def test_repr_hides_secrets(self):
        ch = Channel(SEED, security=1, mode="restricted", side_key="TOPSECRET")
        assert SEED not in repr(ch) and "TOPSECRET" not in repr(ch)

    def test_message_must_be_trytes(self):
        ch = Channel(SEED, security=1, mode="public")
        with pytest.raises(InvalidTrytesError, match="message"):
            ch.create_message("hello")
        assert ch.start == 0 and ch.index == 0  # a failed call does not advance

    def test_side_key_padded(self):
        ch = Channel(SEED, security=1, mode="restricted", side_key="AB")
        assert ch.side_key == "AB" + "9" * 79

    def test_change_mode(self):
        ch = Channel(SEED, security=1, mode="public")
        ch.change_mode("restricted", "NEWKEY")
        assert ch.mode == "restricted" and ch.side_key.startswith("NEWKEY9")
        with pytest.raises(InvalidInputError):
            ch.change_mode("restricted")
        assert ch.mode == "restricted"  # unchanged after a refused change
        ch.change_mode("private")
        assert ch.side_key is None


class TestChannelState:
    def test_chain_of_roots_and_addresses(self):
        ch = Channel(SEED, security=1, mode="private")
        first_root = ch.root
        m1 = ch.create_message("AAA")
        m2 = ch.create_message("BBB")
        assert m1.root == first_root
        assert m1.next_root == m2.root  # message n's next root is message n+1's root
        assert ch.next_root == m2.next_root
        assert m1.address == message_address(m1.root, "private") != m1.root
        assert ch.start == 2 and ch.index == 0

    def test_public_address_is_root(self):
        msg = Channel(SEED, security=1, mode="public").create_message("")
        assert msg.address == msg.root == message_address(msg.root, "public")
        assert parse_message(msg.payload, msg.root).message == ""

    def test_state_round_trip_resumes_the_chain(self):
        ch = Channel(SEED, security=1, mode="restricted", side_key=KEY)
        m1 = ch.create_message("FIRST")
        state = ch.to_dict()
        assert state == {
            "seed": SEED,
            "mode": "restricted",
            "sideKey": KEY + "9" * 74,
            "security": 1,
            "start": 1,
            "count": 1,
            "nextCount": 1,
            "index": 0,
            "nextRoot": m1.next_root,
        }
        again = Channel.from_dict(state)
        m2 = again.create_message("SECOND")
        assert m2.root == m1.next_root
        assert again.to_dict()["start"] == 2

    def test_from_iota_mam_state(self):
        legacy = {
            "subscribed": [],
            "seed": SEED,
            "channel": {
                "side_key": None,
                "mode": "public",
                "next_root": None,
                "security": 1,
                "start": 3,
                "count": 1,
                "next_count": 1,
                "index": 0,
            },
        }
        ch = Channel.from_dict(legacy)
        assert (ch.mode, ch.start, ch.security, ch.side_key) == ("public", 3, 1, None)

    @pytest.mark.parametrize(
        "change, field",
        [
            ({"start": -1}, "start"),
            ({"count": 0}, "count"),
            ({"index": 1}, "index"),
            ({"nextCount": "1"}, "nextCount"),
            ({"nextRoot": "short"}, "nextRoot"),
            ({"mode": "public"}, "sideKey"),
            ({"seed": None}, "seed"),
        ],
    )
    def test_from_dict_rejects_bad_state(self, change, field):
        state = {**Channel(SEED, 1, "restricted", KEY).to_dict(), **change}
        with pytest.raises(InvalidInputError) as info:
            Channel.from_dict(state)
        assert info.value.field == field

    def test_next_tree_is_reused(self, monkeypatch):
        built = []
        real = channel_module.MerkleTree

        def counting(seed, start, count, security):
            built.append((start, count))
            return real(seed, start, count, security)

        monkeypatch.setattr(channel_module, "MerkleTree", counting)
        ch = Channel(SEED, security=1, mode="public")
        for text in ("A", "B", "C"):
            ch.create_message(text)
        # one tree per message plus the first: each next tree becomes the following tree
        assert built == [(0, 1), (1, 1), (2, 1), (3, 1)]

    def test_multi_leaf_tree_messages_verify(self):
        state = {**Channel(SEED, 1, "public").to_dict(), "count": 4, "nextCount": 4}
        ch = Channel.from_dict(state)
        roots = set()
        for i in range(5):
            msg = ch.create_message("MSG" + TRYTE_ALPHABET[i + 1])
            roots.add(msg.root)
            parsed = parse_message(msg.payload, msg.root)
            assert parsed.message == "MSG" + TRYTE_ALPHABET[i + 1]
        assert len(roots) == 2  # four messages from the first tree, the fifth from the next
        assert (ch.start, ch.index) == (4, 1)
