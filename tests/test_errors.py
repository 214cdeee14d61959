"""The exception tree: one root, the caller/peer split, the builtins kept."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click
import iota_publisher.drivers
import pytest

import iota_publisher
from iota_publisher import errors
from iota_publisher.errors import (
    BundleError,
    ConfigError,
    InvalidInputError,
    InvalidMarketplaceResponseError,
    InvalidNodeResponseError,
    InvalidSecretKeyError,
    InvalidTrytesError,
    MamError,
    MamParseError,
    MamSignatureError,
    MarketplaceError,
    MarketplaceRejectedError,
    MarketplaceUnavailableError,
    NodeError,
    NodeRejectedError,
    NodeUnavailableError,
    PascalDecodeError,
    PeerDataError,
    PowTimeoutError,
    PublisherError,
    StoreError,
    StoreLockedError,
    TransientError,
    UnitError,
)

# Exception classes that are not PublisherErrors, each for a reason.
NOT_PUBLISHER_ERRORS = {
    # a sentinel caught inside the function that raises it
    "iota_publisher.payload._Missing",
    "iota_publisher._http._Abort",
    # the sandbox servers' internal errors, each turned into an HTTP error answer
    # (still defined in the sandbox package, as SandboxError is)
    "iota_publisher.sandbox.node.ApiError",
    "iota_publisher.sandbox.market.MarketError",
}
# Packages that still define their own exception classes (on the tree all the same).
OWN_DEFINITIONS = ("iota_publisher.sandbox",)


def _all_modules():
    names = {"iota_publisher", "iota_publisher.drivers"}
    for package in (iota_publisher, iota_publisher.drivers):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.rpartition(".")[2] != "__main__":  # running it starts the CLI
                names.add(info.name)
    return [importlib.import_module(name) for name in sorted(names)]


def _exception_classes():
    seen = {}
    for module in _all_modules():
        for _name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                seen[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return seen


def _exempt(qualname, cls):
    return (
        qualname in NOT_PUBLISHER_ERRORS
        or issubclass(cls, Warning)  # warnings are warned, not raised
        or issubclass(cls, click.ClickException)  # the CLI's exit path (CliError)
        or cls.__name__.startswith("Fake")  # stand-ins for a third party's errors
    )


def test_every_exception_in_the_package_is_a_publisher_error():
    classes = _exception_classes()
    assert "iota_publisher.errors.PowTimeoutError" in classes  # the walk found the tree
    assert any(q.startswith("iota_publisher.drivers.") for q in classes)  # ... and the drivers
    strays = sorted(
        q
        for q, cls in classes.items()
        if not _exempt(q, cls) and not issubclass(cls, PublisherError)
    )
    assert strays == []


def test_exceptions_are_defined_in_errors():
    classes = _exception_classes()
    elsewhere = sorted(
        q
        for q, cls in classes.items()
        if issubclass(cls, PublisherError)
        and cls.__module__ != "iota_publisher.errors"
        and not cls.__module__.startswith(OWN_DEFINITIONS)
        and not cls.__name__.startswith("_")  # a private signal caught inside its module
    )
    assert elsewhere == []


def test_errors_lists_every_public_class():
    public = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, (PublisherError, Warning))
        and not name.startswith("_")
    }
    assert public == set(errors.__all__)


def test_the_fallback_warning():
    from iota_publisher import _backend

    assert _backend.PureFallbackWarning is errors.PureFallbackWarning
    assert issubclass(errors.PureFallbackWarning, RuntimeWarning)


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (InvalidInputError, (PublisherError, ValueError)),
        (InvalidTrytesError, (InvalidInputError,)),
        (ConfigError, (InvalidInputError,)),
        (UnitError, (InvalidInputError,)),
        (PascalDecodeError, (InvalidInputError,)),
        (BundleError, (InvalidInputError,)),
        (PeerDataError, (PublisherError, ValueError)),
        (MamError, (PublisherError,)),
        (MamParseError, (MamError, PeerDataError, ValueError)),
        (MamSignatureError, (MamParseError,)),
        (NodeError, (PublisherError,)),
        (NodeUnavailableError, (NodeError, TransientError)),
        (NodeRejectedError, (NodeError,)),
        (InvalidNodeResponseError, (NodeError, PeerDataError, ValueError)),
        (MarketplaceError, (PublisherError,)),
        (MarketplaceUnavailableError, (MarketplaceError, TransientError)),
        (MarketplaceRejectedError, (MarketplaceError,)),
        (InvalidSecretKeyError, (MarketplaceRejectedError,)),
        (InvalidMarketplaceResponseError, (MarketplaceError, PeerDataError, ValueError)),
        (TransientError, (PublisherError,)),
        (PowTimeoutError, (PublisherError, TimeoutError)),
        (StoreError, (PublisherError,)),
        (StoreLockedError, (StoreError,)),
    ],
)
def test_bases(cls, bases):
    for base in bases:
        assert issubclass(cls, base), f"{cls.__name__} is not a {base.__name__}"


def test_the_caller_and_the_peer_families_do_not_overlap():
    for cls in vars(errors).values():
        if inspect.isclass(cls) and issubclass(cls, PublisherError):
            assert not (issubclass(cls, InvalidInputError) and issubclass(cls, PeerDataError)), cls


@pytest.mark.parametrize(
    "cls",
    [
        NodeRejectedError,
        MarketplaceRejectedError,
        InvalidSecretKeyError,
        InvalidNodeResponseError,
        InvalidMarketplaceResponseError,
        MamParseError,
        PowTimeoutError,
        StoreLockedError,
    ],
)
def test_permanent_failures_are_not_transient(cls):
    assert not issubclass(cls, TransientError)


def test_the_driver_and_sandbox_errors_are_on_the_tree():
    from iota_publisher.drivers import DriverError, SensorDataError, SensorUnavailableError

    from iota_publisher.sandbox import SandboxError

    assert issubclass(DriverError, PublisherError) and issubclass(SandboxError, PublisherError)
    assert issubclass(SensorUnavailableError, TransientError)
    assert issubclass(SensorDataError, ValueError)


def test_the_old_homes_re_export_the_same_classes():
    import iota_publisher.payload
    import iota_publisher.pow
    import iota_publisher.pow._search
    import iota_publisher.store
    import iota_publisher.trinary
    import iota_publisher.trinary.bundle
    import iota_publisher.trinary.pascal

    assert iota_publisher.pow.PowTimeoutError is PowTimeoutError
    assert iota_publisher.pow._search.PowTimeoutError is PowTimeoutError
    assert iota_publisher.trinary.BundleError is BundleError
    assert iota_publisher.trinary.bundle.BundleError is BundleError
    assert iota_publisher.trinary.pascal.PascalDecodeError is PascalDecodeError
    assert iota_publisher.payload.UnitError is UnitError
    assert iota_publisher.store.StoreError is StoreError
    assert iota_publisher.store.StoreLockedError is StoreLockedError


def test_context_attributes():
    error = InvalidNodeResponseError("bad answer", command="getTrytes", status=200, text="x")
    assert (error.command, error.status, error.text) == ("getTrytes", 200, "x")
    error = InvalidMarketplaceResponseError("bad answer", endpoint="newData", status=200)
    assert (error.endpoint, error.status, error.text) == ("newData", 200, None)
    assert ConfigError("bad", field="mwm").field == "mwm"


def test_attach_to_tangle_names_the_empty_trytes():
    from iota_publisher.pow import attach_to_tangle

    with pytest.raises(InvalidInputError, match="non-empty list") as info:
        attach_to_tangle("9" * 81, "9" * 81, 1, [])
    assert info.value.field == "trytes"
    with pytest.raises(ValueError):  # still a ValueError, as before
        attach_to_tangle("9" * 81, "9" * 81, 1, "9" * 2673)


def test_hamming_search_names_a_short_state():
    from iota_publisher.mam._hamming import hamming_search

    with pytest.raises(InvalidInputError, match="729-trit state") as info:
        hamming_search([0] * 10, 1)
    assert info.value.field == "state"
