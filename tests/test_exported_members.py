"""Pin the public names: removing or renaming one is a breaking change."""

from __future__ import annotations

import iota_publisher
import iota_publisher.cli
import iota_publisher.errors
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
        "PeerDataError",
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
        "BundleError",
        # the tryte checks other packages use (public, not trinary._codec)
        "is_trytes",
        "pad_trytes",
        "validate_trytes",
    } <= set(iota_publisher.trinary.__all__)


def test_pow():
    assert {"attach_to_tangle", "search_nonce", "PowTimeoutError", "check_mwm"} <= set(
        iota_publisher.pow.__all__
    )


def test_errors():
    assert set(iota_publisher.errors.__all__) == {
        "PublisherError",
        "InvalidInputError",
        "InvalidTrytesError",
        "ConfigError",
        "UnitError",
        "PascalDecodeError",
        "BundleError",
        "PeerDataError",
        "MamError",
        "MamParseError",
        "MamSignatureError",
        "TransientError",
        "PowTimeoutError",
        "StoreError",
        "StoreLockedError",
        "NodeError",
        "NodeUnavailableError",
        "NodeRejectedError",
        "InvalidNodeResponseError",
        "MarketplaceError",
        "MarketplaceUnavailableError",
        "MarketplaceRejectedError",
        "InvalidSecretKeyError",
        "InvalidMarketplaceResponseError",
        "PureFallbackWarning",
        "DriverError",
        "SensorUnavailableError",
        "SensorDataError",
        "SensorWarmingUpError",
        "SourceExhausted",
        "NetatmoAuthError",
        "NativeKernelUnavailableError",
        "ProtocolError",
        "HttpError",
        "HttpUnavailableError",
        "ExistingFileError",
        "StoreFullError",
        "StoreBusyError",
        "ReadingParkedError",
    }


def test_cli():
    assert set(iota_publisher.cli.__all__) == {
        "main",
        "CliError",
        "EXIT_OK",
        "EXIT_FAILURE",
        "EXIT_CONFIG",
    }


MODULES = (
    iota_publisher,
    iota_publisher.cli,
    iota_publisher.errors,
    iota_publisher.mam,
    iota_publisher.pow,
    iota_publisher.trinary,
)


def test_every_listed_name_exists():
    for module in MODULES:
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


def test_public_homes_of_shared_helpers():
    from iota_publisher.pow import _search
    from iota_publisher.trinary import _codec

    for name in ("is_trytes", "pad_trytes", "validate_trytes"):
        assert getattr(iota_publisher.trinary, name) is getattr(_codec, name)
    assert iota_publisher.pow.check_mwm is _search.check_mwm
    assert iota_publisher.pow.PowTimeoutError is iota_publisher.errors.PowTimeoutError
