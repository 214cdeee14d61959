"""Trinary core behaviour: validation, edge cases, Pascal encoding, backend parity."""

from __future__ import annotations

import random

import pytest
from conftest import NATIVE

from iota_publisher import _backend
from iota_publisher.errors import InvalidInputError, InvalidTrytesError
from iota_publisher.trinary import (
    Curl,
    Kerl,
    NativeCurl,
    PureCurl,
    Trits,
    ascii_to_trytes,
    hash_chains,
    int_to_trits,
    is_trytes,
    trits_to_int,
    trits_to_trytes,
    trytes_to_ascii,
    trytes_to_trits,
    validate_trytes,
)
from iota_publisher.trinary.pascal import PascalDecodeError, pascal_decode, pascal_encode


class TestValidation:
    def test_bad_alphabet_names_field_position_and_char(self):
        with pytest.raises(InvalidTrytesError) as info:
            validate_trytes("AB1", "address")
        msg = str(info.value)
        assert "address" in msg and "position 2" in msg and "'1'" in msg
        assert info.value.field == "address"

    def test_secret_fields_do_not_show_the_character(self):
        with pytest.raises(InvalidTrytesError) as info:
            validate_trytes("ABx", "seed", secret=True)
        assert "'x'" not in str(info.value) and "position 2" in str(info.value)

    @pytest.mark.parametrize("value", ["abc", "A B", "Ä", None, 5, b"ABC"])
    def test_is_trytes_false(self, value):
        assert not is_trytes(value)

    def test_lengths(self):
        assert validate_trytes("A" * 81, length=81)
        with pytest.raises(InvalidTrytesError, match="exactly 81"):
            validate_trytes("A" * 80, "root", length=81)
        with pytest.raises(InvalidTrytesError, match="at most 3"):
            validate_trytes("AAAA", max_length=3)

    def test_trits_to_trytes_rejects_bad_trits(self):
        with pytest.raises(InvalidInputError, match="multiple of 3"):
            trits_to_trytes([0, 1])
        with pytest.raises(InvalidInputError, match="-1, 0 and 1"):
            trits_to_trytes([0, 1, 2])

    def test_ascii_rejects_non_ascii_with_position(self):
        with pytest.raises(InvalidInputError, match=r"position 3"):
            ascii_to_trytes('{"t\u00e9": 1}')

    def test_trytes_to_ascii_odd_length(self):
        with pytest.raises(InvalidTrytesError, match="even"):
            trytes_to_ascii("ABC")

    def test_int_to_trits_padding_and_overflow(self):
        assert int_to_trits(1, 4) == [1, 0, 0, 0]
        assert int_to_trits(-4, 2) == [-1, -1]
        with pytest.raises(InvalidInputError, match="does not fit"):
            int_to_trits(14, 2)

    def test_int_round_trip(self):
        rng = random.Random(7)
        for _ in range(200):
            v = rng.randrange(-(3**40), 3**40)
            assert trits_to_int(int_to_trits(v)) == v

    def test_curl_rounds(self):
        with pytest.raises(InvalidInputError, match="27 or 81"):
            Curl(rounds=9)

    def test_kerl_needs_whole_chunks(self):
        with pytest.raises(InvalidInputError):
            Kerl().absorb([0] * 242)
        with pytest.raises(InvalidInputError):
            Kerl().absorb([])
        with pytest.raises(InvalidInputError):
            Kerl().squeeze(100)
        with pytest.raises(InvalidInputError):
            Kerl().squeeze(-243)


class TestPascal:
    @pytest.mark.parametrize("value", [0, 1, 2, 13, 14, 40, 41, 364, 365, 1093, 9841, 10**6, 3**20])
    def test_round_trip(self, value):
        trits = pascal_encode(value)
        assert len(trits) % 4 == 0
        assert pascal_decode(trits + [1, 0, -1]) == (value, len(trits))

    def test_zero_is_the_short_form(self):
        assert pascal_encode(0) == [1, 0, 0, -1]

    def test_decode_at_offset(self):
        trits = [0, 0, 0] + pascal_encode(500)
        assert pascal_decode(trits, 3) == (500, len(trits))

    @pytest.mark.parametrize("trits", [[], [0, 0, 0], [-1] * 30, pascal_encode(10**6)[:-1]])
    def test_truncated(self, trits):
        with pytest.raises(PascalDecodeError):
            pascal_decode(trits)

    def test_negative_rejected(self):
        with pytest.raises(InvalidInputError):
            pascal_encode(-1)


def _random_trits(rng: random.Random, n: int) -> list[int]:
    return [rng.choice((-1, 0, 1)) for _ in range(n)]


@pytest.mark.skipif(NATIVE is None, reason="the native kernel is not built")
class TestBackendParity:
    def _both(self, fn):
        previous = _backend.set_native(NATIVE)
        try:
            native = fn()
            _backend.set_native(None)
            pure = fn()
        finally:
            _backend.set_native(previous)
        return native, pure

    @pytest.mark.parametrize("rounds", [27, 81])
    @pytest.mark.parametrize("length", [0, 1, 242, 243, 244, 729, 1000])
    def test_curl(self, rounds, length):
        data = _random_trits(random.Random(length * rounds), length)

        def run():
            c = Curl(rounds)
            c.absorb(data)
            return c.squeeze(486), c.rate(729)

        native, pure = self._both(run)
        assert native == pure

    @pytest.mark.parametrize("rounds", [27, 81])
    def test_hash_chains(self, rounds):
        rng = random.Random(rounds)
        counts = [rng.randrange(0, 28) for _ in range(70)] + [0, 1, 255]
        segments = _random_trits(rng, 243 * len(counts))
        native, pure = self._both(lambda: hash_chains(segments, counts, rounds))
        assert native == pure
        assert pure[-243 * 3 : -243 * 2] == segments[-243 * 3 : -243 * 2]  # count 0: unchanged


class TestTrits:
    def test_one_container_for_every_backend(self, backend):
        trits = Trits.from_trytes("HELLO9")
        assert trits.tolist() == trytes_to_trits("HELLO9") and list(trits) == trits.tolist()
        assert bytes(trits) == bytes(t & 0xFF for t in trits.tolist())
        assert trits.trytes() == "HELLO9" and Trits(trits.tolist()) == trits

    def test_sequence_behaviour(self):
        trits = Trits([1, 0, -1, -1, 1, 0])
        assert len(trits) == 6 and trits[2] == -1 and trits[-2] == 1
        assert isinstance(trits[1:4], Trits) and trits[1:4].tolist() == [0, -1, -1]
        assert (trits[:3] + trits[3:]) == trits
        assert Trits.concat([trits[:2], trits[2:4], trits[4:]]) == trits
        assert Trits.zeros(4).tolist() == [0, 0, 0, 0] and Trits().tolist() == []
        assert trits.count(-1) == 2 and -1 in trits and trits.index(-1) == 2
        assert hash(trits) == hash(Trits(trits)) and len({trits, Trits(trits)}) == 1
        assert trits != trits.tolist()  # a list is not a Trits
        with pytest.raises(TypeError):
            trits + [0]  # type: ignore[operator]

    def test_checks_its_trits(self):
        with pytest.raises(InvalidInputError):
            Trits([0, 2])
        with pytest.raises(InvalidInputError):
            Trits.from_bytes(b"\x00\x02")
        assert Trits.from_bytes(b"\x00\x01\xff").tolist() == [0, 1, -1]
        with pytest.raises(InvalidTrytesError):
            Trits.from_trytes("abc")
        with pytest.raises(InvalidInputError, match="multiple of 3"):
            Trits([0, 1]).trytes()

    def test_repr_shows_no_trits(self):
        assert repr(Trits.from_trytes("SECRET")) == "<Trits: 18 trits>"


class TestCurlBackends:
    def test_public_names(self):
        import iota_publisher.trinary

        assert {"Curl", "NativeCurl", "PureCurl", "Trits"} <= set(iota_publisher.trinary.__all__)

    def test_curl_builds_the_backend_in_use(self, backend):
        sponge = Curl(27)
        expected = NativeCurl if backend == "native" else PureCurl
        assert type(sponge) is expected and isinstance(sponge, Curl)
        assert sponge.rounds == 27 and type(sponge.copy()) is expected
        assert type(PureCurl(81)) is PureCurl

    def test_native_curl_needs_the_kernel(self):
        from iota_publisher.errors import PublisherError
        from iota_publisher.trinary._curl import NativeKernelUnavailableError

        previous = _backend.set_native(None)
        try:
            with pytest.raises(NativeKernelUnavailableError) as info:
                NativeCurl(27)
        finally:
            _backend.set_native(previous)
        assert isinstance(info.value, PublisherError)

    def test_every_input_form_and_output_form_agree(self, backend):
        data = _random_trits(random.Random(11), 500)
        outputs = []
        for form in (data, tuple(data), Trits(data), bytes(Trits(data))):
            c = Curl(27)
            c.absorb(form, 10, 400)
            copy = c.copy()
            squeezed = c.squeeze_trits(300)
            assert copy.squeeze(300) == squeezed.tolist()
            masked = c.mask_trits(form)
            assert isinstance(masked, Trits) and len(masked) == 500
            outputs.append((squeezed, masked, c.rate_trits(729)))
        assert all(out == outputs[0] for out in outputs)

    def test_unmask_undoes_mask(self, backend):
        plain = Trits(_random_trits(random.Random(12), 600))
        writer, reader = Curl(27), Curl(27)
        for sponge in (writer, reader):
            sponge.absorb(plain[:243])
        cipher = writer.mask_trits(plain)
        assert cipher != plain and reader.unmask_trits(cipher) == plain
        assert writer.rate() == reader.rate()

    def test_hash_chains_trits(self, backend):
        from iota_publisher.trinary._curl import hash_chains_trits

        rng = random.Random(13)
        counts = [rng.randrange(0, 28) for _ in range(5)]
        segments = _random_trits(rng, 243 * 5)
        chained = hash_chains_trits(Trits(segments), counts, 27)
        assert isinstance(chained, Trits)
        assert chained.tolist() == hash_chains(segments, counts, 27)

    @pytest.mark.skipif(NATIVE is None, reason="the native kernel is not built")
    def test_the_two_classes_agree(self):
        data = Trits(_random_trits(random.Random(14), 1000))
        native, pure = NativeCurl(81), PureCurl(81)
        for sponge in (native, pure):
            sponge.absorb(data)
        assert native.squeeze_trits(486) == pure.squeeze_trits(486)
        assert native.mask_trits(data) == pure.mask_trits(data)
        assert native.unmask_trits(data) == pure.unmask_trits(data)
        assert native.rate_trits(729) == pure.rate_trits(729)
        counts = [1, 0, 27]
        assert NativeCurl.chains(data[:729], counts, 27) == PureCurl.chains(data[:729], counts, 27)


def test_hash_chains_matches_sequential_curl():
    rng = random.Random(3)
    counts = [0, 1, 2, 5]
    segments = _random_trits(rng, 243 * 4)
    expected = []
    for i, n in enumerate(counts):
        seg = segments[i * 243 : (i + 1) * 243]
        for _ in range(n):
            c = Curl(27)
            c.absorb(seg)
            seg = c.rate()
        expected += seg
    previous = _backend.set_native(None)
    try:
        assert hash_chains(segments, counts, 27) == expected
    finally:
        _backend.set_native(previous)


def test_native_kernel_is_built_in_ci():
    import os

    if os.environ.get("CI") and NATIVE is None:
        pytest.fail("CI must build the native kernel (is gcc missing?)")


def test_normalized_hash_matches_the_step_by_step_definition():
    """The reference lowers (or raises) the first tryte not yet at -13 (13), one step at a time."""
    from iota_publisher.trinary import TRYTE_ALPHABET
    from iota_publisher.trinary._codec import tryte_value
    from iota_publisher.trinary.signing import normalized_hash

    def stepwise(h):
        out = [tryte_value(c) for c in h]
        for third in range(3):
            part = range(third * 27, third * 27 + 27)
            total = sum(out[j] for j in part)
            while total > 0:
                j = next(j for j in part if out[j] > -13)
                out[j] -= 1
                total -= 1
            while total < 0:
                j = next(j for j in part if out[j] < 13)
                out[j] += 1
                total += 1
        return out

    rng = random.Random(11)
    hashes = ["".join(rng.choice(TRYTE_ALPHABET) for _ in range(81)) for _ in range(300)]
    hashes += ["M" * 81, "N" * 81, "9" * 81, "M" * 27 + "N" * 27 + "A" * 27]
    for h in hashes:
        assert normalized_hash(h) == stepwise(h)
