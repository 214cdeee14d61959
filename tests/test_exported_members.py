"""Pin the public names: removing or renaming one is a breaking change."""

from __future__ import annotations

import iota_publisher
import iota_publisher.mam
import iota_publisher.pow
import iota_publisher.trinary


def test_package():
    assert set(iota_publisher.__all__) == {
        "ConfigError",
        "Publisher",
        "PublishResult",
        "TransientError",
        "InvalidInputError",
        "InvalidTrytesError",
        "MamError",
        "MamParseError",
        "MamSignatureError",
        "PublisherError",
        "__version__",
    }


def test_mam():
    assert set(iota_publisher.mam.__all__) == {
        "MODES",
        "Channel",
        "Message",
        "ParsedMessage",
        "message_address",
        "parse_message",
    }


def test_trinary():
    assert {
        "ascii_to_trytes",
        "trytes_to_ascii",
        "trytes_to_trits",
        "trits_to_trytes",
        "int_to_trits",
        "trits_to_int",
        "Curl",
        "Kerl",
        "build_bundle",
        "Transaction",
        "validate_bundle",
        "transaction_hash",
    } <= set(iota_publisher.trinary.__all__)


def test_pow():
    assert {"attach_to_tangle", "search_nonce", "PowTimeoutError"} <= set(
        iota_publisher.pow.__all__
    )


def test_every_listed_name_exists():
    for module in (iota_publisher, iota_publisher.mam, iota_publisher.pow, iota_publisher.trinary):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_errors_are_also_builtins():
    from iota_publisher.errors import InvalidInputError, MamParseError, MamSignatureError
    from iota_publisher.pow import PowTimeoutError

    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(MamParseError, ValueError)
    assert issubclass(MamSignatureError, MamParseError)
    assert issubclass(PowTimeoutError, TimeoutError)
    assert issubclass(PowTimeoutError, iota_publisher.PublisherError)
