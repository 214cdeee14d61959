"""Which Curl backend runs: the native kernel when it was built, else pure Python.

The native kernel (``iota_publisher._native``) is a C extension that the
normal ``pip install`` builds when a compiler is available. Without it every
hash runs in pure Python: the same results, much slower. Setting the
environment variable ``IOTA_PUBLISHER_PURE=1`` forces the pure-Python path.

Code that hashes looks the backend up at call time through :func:`native`,
so tests can switch backends without reloading modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from types import ModuleType

from .errors import PureFallbackWarning

__all__ = ["PureFallbackWarning", "backend_name", "native", "set_native"]


def _pure_forced() -> bool:
    return os.environ.get("IOTA_PUBLISHER_PURE", "").strip().lower() not in ("", "0", "false", "no")


def _load() -> ModuleType | None:
    if _pure_forced():
        return None
    if importlib.util.find_spec(f"{__package__}._native") is None:
        reason = "it was not built when iota-publisher was installed"
    else:
        try:
            return importlib.import_module(f"{__package__}._native")
        except ImportError as exc:
            reason = f"it does not load: {exc}"
    warnings.warn(
        f"the native Curl kernel is not available ({reason}); using pure Python, "
        "which is much slower (install a C compiler and reinstall iota-publisher, "
        "or set IOTA_PUBLISHER_PURE=1 to silence this warning)",
        PureFallbackWarning,
        stacklevel=3,
    )
    return None


_native_module: ModuleType | None = _load()


def native() -> ModuleType | None:
    """The native kernel module, or ``None`` when pure Python is in use."""
    return _native_module


def set_native(module: ModuleType | None) -> ModuleType | None:
    """Install a backend (``None`` = pure Python); return the previous one.

    Meant for tests and benchmarks that compare the two paths.
    """
    global _native_module
    previous, _native_module = _native_module, module
    return previous


def backend_name() -> str:
    """``"native"`` or ``"pure"``."""
    return "native" if _native_module is not None else "pure"
