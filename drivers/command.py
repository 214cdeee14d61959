"""The ``command`` source: run a program that prints one JSON object.

For sensors that have a tool but no driver. The object becomes readings as
:mod:`._json` describes.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import time as _time
from collections.abc import Mapping, Sequence
from typing import ClassVar

from ..errors import ConfigError
from ._base import (
    Option,
    Readings,
    SensorDataError,
    SensorUnavailableError,
    check_value,
    clip_text,
)
from ._json import JSON_OPTIONS, JsonSource, str_mapping

__all__ = ["CommandSource"]

log = logging.getLogger(__name__)


class CommandSource(JsonSource):
    """Run a program on each read; it prints one JSON object on stdout.

    The program's numbers and strings become readings (nested ones flattened
    to ``a.b``). It runs without a shell: a string ``command`` is split like
    a shell would (:func:`shlex.split`) but ``;``, ``|``, ``$(...)``, ``*`` and
    redirections are passed to the program as plain text. Write diagnostics
    to stderr: stdout must hold the JSON object and nothing else.

    A non-zero exit raises :class:`SensorDataError` with the exit code and the
    last line of stderr; a program still running after ``timeout`` seconds
    is killed (with everything it started) and :class:`SensorUnavailableError`
    raised; output that is not a JSON object raises :class:`SensorDataError`.

    Options: ``command`` (required: a list of arguments, or a string; the
    program must exist), ``timeout`` (seconds, default 10), ``env`` (variables
    added to the inherited environment), ``time_key`` (a path to the
    object's time; not a reading), ``units`` (reading name -> unit). Config::

        {"name": "soil", "driver": "command",
         "options": {"command": "/usr/local/bin/read-soil --json --pin 4",
                     "timeout": 5, "units": {"moisture": "%", "temperature": "C"}}}
    """

    name: ClassVar[str] = "command"
    OPTIONS = (
        Option("command", (str, list), None, "the program and its arguments", required=True),
        Option("timeout", float, 10.0, "seconds the program may run", positive=True),
        Option("env", Mapping, None, "extra environment variables", secret=True),
        *JSON_OPTIONS,
    )

    def __init__(
        self,
        *,
        command: str | Sequence[str] | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        time_key: str | None = None,
        units: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(time_key, units)
        given = check_value(self.name, "command", command, (str, list, tuple), required=True)
        if isinstance(given, str):
            try:
                args = shlex.split(given)
            except ValueError as exc:
                raise ConfigError(
                    f"driver 'command': option 'command': {exc}", field="command"
                ) from None
        else:
            args = list(given)
        if not args or not all(isinstance(a, str) for a in args):
            raise ConfigError(
                "driver 'command': option 'command' must be a non-empty string or list of strings",
                field="command",
            )
        self.timeout = float(self.option("timeout").check(self.name, timeout))
        extra = str_mapping(self.name, "env", env)
        self._env = {**os.environ, **extra} if extra else None
        search = (self._env or os.environ).get("PATH", os.defpath)
        if shutil.which(args[0], path=search) is None:
            raise ConfigError(
                f"driver 'command': program {args[0]!r} not found or not executable",
                field="command",
            )
        self.args: tuple[str, ...] = tuple(args)
        self._program = os.path.basename(args[0])  # messages name the program, not its arguments

    def __repr__(self) -> str:
        return f"<CommandSource driver 'command' {self._program!r}>"

    def read(self) -> Readings:
        self._check_open()
        started = _time.monotonic()
        out, err, code = self._run()
        log.debug(
            "command: %s exited with %d after %.3f s",
            self._program,
            code,
            _time.monotonic() - started,
        )
        stderr = err.decode("utf-8", "replace")
        for line in stderr.splitlines():
            if line.strip():
                log.debug("command: %s: %s", self._program, line)
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
            said = f": {clip_text(last)}" if last else " (nothing on stderr)"
            raise SensorDataError(f"command: {self._program} {how}{said}", driver=self.name)
        where = f"the output of {self._program}"
        try:
            data = json.loads(out.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._bad(where, "not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            shown = clip_text(out.decode("utf-8", "replace")) or "nothing"
            raise self._bad(where, f"not a JSON object ({exc.msg}); it printed: {shown}") from None
        return self._object_readings(data, where)

    def _run(self) -> tuple[bytes, bytes, int]:
        try:
            proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            raise SensorUnavailableError(
                f"command: cannot run {self._program}: {exc.strerror or exc}", driver=self.name
            ) from exc
        with proc:
            try:
                out, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                raise SensorUnavailableError(
                    f"command: {self._program} did not finish within {self.timeout:g} s "
                    "and was killed",
                    driver=self.name,
                ) from None
            except BaseException:  # KeyboardInterrupt, SystemExit: leave nothing running
                self._kill(proc)
                raise
        return out, err, proc.returncode

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        """Kill the program and whatever it started, then reap it."""
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: pgid == pid
            else:  # pragma: no cover - the project targets Linux
                proc.kill()
        except ProcessLookupError:
            pass
        try:
            proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:  # a grandchild left the group and holds the pipes
            pass
