"""Exit codes of an ``iota-publish`` process, shared by the command line and the daemon."""

from __future__ import annotations

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK"]

EXIT_OK = 0
# a runtime failure: the node or the marketplace refused, or stayed unreachable
# after the retries; a sensor failed
EXIT_FAILURE = 1
# a usage or configuration error (click's own code for bad options, and ours
# for a config that does not validate)
EXIT_CONFIG = 2
