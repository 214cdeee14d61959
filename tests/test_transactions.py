"""Transactions, bundles and local proof of work, against @iota/core and
@iota/transaction(-converter)."""

from __future__ import annotations

import random

import pytest
from conftest import NATIVE, load_vectors

from iota_publisher import _backend
from iota_publisher.errors import InvalidInputError
from iota_publisher.pow import attach_to_tangle, nonce_for, search_nonce
from iota_publisher.pow._search import PowTimeoutError, prepare_state
from iota_publisher.trinary import (
    TRYTE_ALPHABET,
    BundleError,
    Transaction,
    build_bundle,
    transaction_hash,
    trytes_to_trits,
    validate_bundle,
)
from iota_publisher.trinary._curl import Curl, transform_pure
from iota_publisher.trinary.bundle import trailing_zeros
from iota_publisher.trinary.checksum import add_checksum

VECTORS = load_vectors("transactions.json")
BUNDLES = VECTORS["bundles"]


def _case_id(case):
    return f"msg{len(case['message'])}-tag{len(case['tag'])}"


@pytest.mark.parametrize("case", BUNDLES, ids=[_case_id(c) for c in BUNDLES])
def test_build_bundle_matches_prepare_transfers(case):
    got = build_bundle(case["address"], case["message"], case["tag"], case["timestamp"])
    assert got == case["trytes"]


def test_vectors_exercise_the_obsolete_tag_increment():
    # at least one reference bundle needed the increment (obsoleteTag != tag on index 0)
    bumped = 0
    for case in BUNDLES:
        tail = Transaction.from_trytes(case["trytes"][-1])
        assert tail.current_index == 0
        bumped += tail.obsolete_tag != tail.tag
    assert bumped > 0


@pytest.mark.parametrize("case", VECTORS["hashes"])
def test_transaction_hash(case, backend):
    assert transaction_hash(case["trytes"]) == case["hash"]


@pytest.mark.parametrize("case", VECTORS["objects"])
def test_transaction_object_round_trip(case):
    tx = Transaction.from_trytes(case["trytes"])
    assert tx.to_dict() == case["object"]
    assert tx.as_trytes() == case["trytes"]
    assert Transaction.from_dict(case["object"]) == tx


class TestTransactionErrors:
    def test_wrong_length(self):
        with pytest.raises(InvalidInputError, match="2673"):
            Transaction.from_trytes("9" * 2672)

    def test_value_beyond_33_trits(self):
        trytes = list(BUNDLES[0]["trytes"][0])
        trytes[2268 + 12] = "A"
        with pytest.raises(InvalidInputError, match="33") as info:
            Transaction.from_trytes("".join(trytes))
        assert info.value.field == "value"

    def test_field_names_in_errors(self):
        tx = Transaction.from_trytes(BUNDLES[0]["trytes"][0])
        with pytest.raises(InvalidInputError) as info:
            tx.replace(tag="abc")
        assert info.value.field == "tag"
        with pytest.raises(InvalidInputError) as info:
            tx.replace(timestamp=3**27)
        assert info.value.field == "timestamp"


class TestBuildBundleArguments:
    def test_tag_too_long(self):
        with pytest.raises(InvalidInputError, match="tag"):
            build_bundle("A" * 81, "", "T" * 28, 1)

    def test_address_length_and_checksum(self):
        with pytest.raises(InvalidInputError, match="81 trytes, or 90"):
            build_bundle("A" * 85, "", "TAG", 1)
        with pytest.raises(InvalidInputError, match="checksum"):
            build_bundle("A" * 90, "", "TAG", 1)
        address = "A" * 81
        assert build_bundle(add_checksum(address), "", "TAG", 1) == build_bundle(
            address, "", "TAG", 1
        )

    def test_default_tag_and_fragments(self):
        trytes = build_bundle("A" * 81, "M" * 4000, timestamp=1_550_000_000)
        txs = [Transaction.from_trytes(t) for t in trytes]
        assert [t.current_index for t in txs] == [1, 0]  # highest index first
        assert all(t.tag == "SENSORDATA" + "9" * 17 for t in txs)
        assert txs[1].signature_message_fragment == "M" * 2187
        assert txs[0].signature_message_fragment == "M" * (4000 - 2187) + "9" * (2 * 2187 - 4000)


def _random_tx(rng: random.Random) -> str:
    return "".join(rng.choice(TRYTE_ALPHABET) for _ in range(2646)) + "9" * 27


def _hash_with_nonce(trits: list[int], nonce: list[int]) -> list[int]:
    c = Curl(81)
    c.absorb(trits[:-81] + nonce)
    return c.squeeze()


class TestSearch:
    @pytest.mark.parametrize("mwm", [1, 2, 4, 6])
    def test_nonce_is_valid_and_minimal(self, mwm, backend):
        rng = random.Random(mwm)
        for _ in range(2):
            trits = trytes_to_trits(_random_tx(rng))
            nonce, tried = search_nonce(trits, mwm)
            assert tried >= 1
            assert not any(_hash_with_nonce(trits, nonce)[-mwm:])  # scalar sponge, full hash
            if mwm > 4:
                continue
            # no smaller candidate is valid: one scalar transform per candidate
            state = prepare_state(trits)
            k = next(k for k in range(3**mwm * 50) if nonce_for(k) == nonce)
            for smaller in range(k):
                state[162:243] = nonce_for(smaller)
                assert any(transform_pure(state, 81)[243 - mwm : 243])

    def test_bad_mwm(self):
        trits = [0] * 8019
        for mwm in (0, 244, "9", True):
            with pytest.raises(InvalidInputError):
                search_nonce(trits, mwm)  # type: ignore[arg-type]

    def test_bad_length(self):
        with pytest.raises(InvalidInputError, match="8019"):
            search_nonce([0] * 8018, 5)

    def test_timeout(self, backend):
        trits = trytes_to_trits(_random_tx(random.Random(9)))
        with pytest.raises(PowTimeoutError):
            search_nonce(trits, 60, timeout=0.2)

    def test_prepare_state_matches_the_sponge(self):
        trits = trytes_to_trits(_random_tx(random.Random(1)))
        state = prepare_state(trits)
        c = Curl(81)
        c.absorb(trits[: 8019 - 243])
        assert state[243:] == c.rate(729)[243:]
        assert state[:243] == trits[-243:]


@pytest.mark.skipif(NATIVE is None, reason="the native kernel is not built")
@pytest.mark.parametrize("mwm", [4, 7, 9])
def test_native_and_pure_find_the_same_nonce(mwm):
    trits = trytes_to_trits(_random_tx(random.Random(100 + mwm)))
    previous = _backend.set_native(NATIVE)
    try:
        native_1 = search_nonce(trits, mwm, threads=1)[0]
        native_2 = search_nonce(trits, mwm, threads=2)[0]
        _backend.set_native(None)
        pure = search_nonce(trits, mwm)[0]
    finally:
        _backend.set_native(previous)
    assert native_1 == native_2 == pure


class TestAttach:
    def test_attached_bundle_is_valid(self, backend):
        case = max(BUNDLES, key=lambda c: len(c["trytes"]))
        trunk, branch = "T" * 81, "B" * 81
        now = iter(range(1_600_000_000_000, 1_600_000_000_100))
        attached = attach_to_tangle(trunk, branch, 5, case["trytes"], now=lambda: next(now))
        assert len(attached) == len(case["trytes"])
        txs = validate_bundle(attached, mwm=5)
        head = txs[-1]
        assert (head.trunk_transaction, head.branch_transaction) == (trunk, branch)
        for tx in txs[:-1]:
            assert tx.branch_transaction == trunk
        assert [t.current_index for t in (Transaction.from_trytes(a) for a in attached)] == list(
            range(len(txs))
        )  # IRI returns the reverse of its input: tail first
        assert all(t.attachment_timestamp_upper_bound == (3**27 - 1) // 2 for t in txs)
        assert all(t.attachment_timestamp >= 1_600_000_000_000 for t in txs)
        assert all(trailing_zeros(t.hash) >= 5 for t in txs)

    def test_empty_tag_is_filled_from_obsolete_tag(self):
        trytes = build_bundle("A" * 81, "HELLO", tag="", timestamp=1)
        tx = Transaction.from_trytes(trytes[0])
        bumped = tx.replace(obsolete_tag="OBSOLETE" + "9" * 19)
        out = attach_to_tangle("T" * 81, "B" * 81, 1, [bumped.as_trytes()])
        assert Transaction.from_trytes(out[0]).tag == "OBSOLETE" + "9" * 19

    def test_validate_rejects_broken_chains(self):
        case = max(BUNDLES, key=lambda c: len(c["trytes"]))
        attached = attach_to_tangle("T" * 81, "B" * 81, 1, case["trytes"])
        txs = [Transaction.from_trytes(a) for a in attached]
        broken = [txs[0].replace(trunk_transaction="X" * 81).as_trytes()] + attached[1:]
        with pytest.raises(BundleError, match="trunk"):
            validate_bundle(broken)
        with pytest.raises(BundleError, match="weight"):
            validate_bundle(attached, mwm=30)
        with pytest.raises(BundleError, match="bundle hash"):
            validate_bundle([txs[0].replace(timestamp=5).as_trytes()] + attached[1:])


def test_finalisation_on_integers_matches_the_trit_form(backend):
    """60 random bundles: the obsolete-tag search on integers (and in C) is the trit one."""
    from iota_publisher.trinary import bundle as bundle_module

    rng = random.Random(60)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ9"
    for _ in range(60):
        address = "".join(rng.choice(alphabet) for _ in range(81))
        message = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 7000)))
        tag = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 28)))
        got = build_bundle(address, message, tag, rng.randrange(2**31))
        txs = [Transaction.from_trytes(t) for t in reversed(got)]
        reset = [tx.replace(obsolete_tag=tx.tag, bundle="9" * 81) for tx in txs]
        expected = bundle_module._finalize_trits(reset)
        assert got == [tx.as_trytes() for tx in reversed(expected)]


@pytest.mark.parametrize("tag", ["M" * 27, "L" + "M" * 26, "9" * 5 + "M" * 22])
def test_finalisation_where_the_obsolete_tag_wraps(tag, backend):
    """A tag at (or near) the top of its range wraps to the bottom, as add_index does."""
    from iota_publisher.trinary import bundle as bundle_module

    address = "ABCDEFGHIJKLMNOPQRSTUVWXYZ9" * 3
    for timestamp in range(1550000000, 1550000006):
        got = build_bundle(address, "HELLO" * 500, tag, timestamp)
        txs = [Transaction.from_trytes(t) for t in reversed(got)]
        reset = [tx.replace(obsolete_tag=tx.tag, bundle="9" * 81) for tx in txs]
        expected = bundle_module._finalize_trits(reset)
        assert got == [tx.as_trytes() for tx in reversed(expected)]


def test_hash_from_the_search_state_is_the_transaction_hash(backend):
    from iota_publisher.pow import search_nonce_hash
    from iota_publisher.trinary import trits_to_trytes

    for seed in range(3):
        trits = trytes_to_trits(_random_tx(random.Random(200 + seed)))
        nonce, _tried, digest = search_nonce_hash(trits, 4)
        assert nonce == search_nonce(trits, 4)[0]
        assert trits_to_trytes(digest) == transaction_hash(trits_to_trytes(trits[:-81] + nonce))
