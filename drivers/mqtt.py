"""The ``mqtt`` source: readings that already are on an MQTT broker.

Zigbee2MQTT, Tasmota, ESPHome, Shelly and Home Assistant publish their
sensors' values on a broker; this driver subscribes to them::

    {"name": "living-room", "driver": "mqtt",
     "options": {"url": "mqtt://127.0.0.1:1883",
                 "readings": {"temperature": {"topic": "zigbee2mqtt/living-room",
                                              "path": "temperature", "unit": "C"},
                              "humidity": {"topic": "zigbee2mqtt/living-room",
                                           "path": "humidity", "unit": "%"}}}}

Options:

* ``url``: ``mqtt://host:port`` (port 1883 by default) or ``mqtts://host:port``
  (TLS, port 8883 by default; ``ca``: the CA file that signed the broker's
  certificate, else the system's CAs; ``cert`` and ``key``: a client
  certificate). Credentials do not go in the URL but in ``username`` and
  ``password`` (a secret: never shown in a message or log);
* ``clientId`` (default: a random one chosen by paho; two connections with one
  id push each other off the broker), ``qos`` (0-2, of the subscriptions),
  ``keepalive`` (seconds);
* ``readings``: reading name -> ``{"topic": ..., "path": ..., "unit": ...}``.
  A topic may hold the wildcards ``+`` (one level) and ``#`` (the rest);
  ``path`` picks a number from a JSON payload with the ``http`` driver's path
  syntax (``temperature``, ``main.temp``, ``list.0.v``); without it the
  payload is the number itself (``21.5``; a reading given as just a topic
  string is such a one). A value must be a number (or a
  string holding one); ``timePath`` (per reading, or for all) names the
  payload's own time (seconds, milliseconds or ISO 8601), which becomes
  :attr:`Reading.time`;
* ``mode``: ``latest`` (default) holds the newest value of each reading, and
  every read hands it over again until a newer one arrives; ``each`` (for
  event sources: a button, a door, a meter's pulses) queues every value, and
  each read hands over the oldest queued value of each reading, once, with
  its time (the payload's, else when it arrived), as the ``file`` driver
  hands over one record per read (an unusable message takes its turn as
  that read's :class:`SensorDataError`). A read with nothing queued leaves
  the reading out (no event is not a failure: with no reading at all the
  read returns ``{}``; a lost connection is logged, not raised, as a failed
  read would let the agent hand over the last event again) unless
  ``staleAfter`` passed since the last message (or since the start), which
  raises :class:`SensorUnavailableError`. Retained messages are ignored in this
  mode: they are the broker's memory of an old event, not a new one. At most
  :attr:`MqttSource.queue_limit` values wait per reading (the oldest go
  first, with a warning): ``each`` suits events slower than the interval;
* ``staleAfter``: seconds; a reading whose last value is older (by the
  payload's time, else by when it arrived) is a failing reading until a new
  message arrives;
* ``homeAssistant``: ``true`` (or the id to use; default: ``clientId``, else
  ``iota_publisher_<hostname>``) announces the readings to Home Assistant by
  MQTT discovery: one retained ``homeassistant/sensor/<id>/<reading>/config``
  per reading (its topic as the state topic, its ``path`` as the value
  template, its unit, ``staleAfter`` as ``expire_after``; readings on
  wildcard topics have no one state topic and are left out), all of one
  device "IOTA publisher <id>" that is available while the retained
  ``iota-publisher/<id>/availability`` says ``online``. The connection's last
  will sets it ``offline`` when the publisher dies, :meth:`MqttSource.close`
  when it stops.

How it behaves:

* one connection for the driver's lifetime, run by paho's network loop in its
  own thread (``loop_start``); a lost connection is retried with backoff
  (:attr:`MqttSource.reconnect_min` to :attr:`MqttSource.reconnect_max`
  seconds) and the subscriptions are renewed on every connect;
* :meth:`MqttSource.read` does not wait for messages: it returns what
  arrived. Only the first read of a new connection waits, at most
  :attr:`MqttSource.first_read_wait` seconds, until the broker has
  acknowledged the subscriptions and sent their retained messages (a broker
  that refuses or cannot be reached ends the wait at once), so that a
  one-off ``iota-publish read``, or a sensor reopened by the agent, sees the
  retained values instead of nothing. A reading
  that has no value yet, a stale one, or one whose last message was unusable
  (not JSON where a path is given, not a number: a :class:`SensorDataError`
  naming the topic; the connection stays) is left out of the readings, with
  a warning; only when no reading is usable does the read raise
  (:class:`SensorUnavailableError`, or :class:`SensorDataError` when every
  reading's last message was bad), so one dead device does not silence the
  others of the same sensor;
* in ``latest`` mode a retained message counts as having arrived when it is
  delivered (give ``timePath`` when its age matters); one delivered again on
  a reconnect, with the payload already seen, is not a fresher value;
* :meth:`MqttSource.close` disconnects and stops the loop.

paho-mqtt (the ``[mqtt]`` extra) is imported by the driver only. Seams:
``client`` (an object with paho's ``Client`` API, such as
:class:`~iota_publisher.drivers.fakes.FakeMqttClient`), ``clock`` (seconds
since the epoch).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import ConfigError
from ._base import (
    Driver,
    DriverError,
    Option,
    Reading,
    Readings,
    ReadingSet,
    ReadingSpec,
    SensorDataError,
    SensorUnavailableError,
    clip_text,
    did_you_mean,
)
from ._json import PathPart, get_path, is_finite, is_number, json_kind, parse_path, parse_time

__all__ = [
    "INSTALL_HINT",
    "MqttSource",
    "check_topic_filter",
    "discovery_messages",
    "topic_matches",
    "value_template",
]

log = logging.getLogger(__name__)

_DRIVER = "mqtt"
INSTALL_HINT = "pip install 'iota-publisher[mqtt]'"
MODES = ("latest", "each")
READING_KEYS = ("topic", "path", "unit", "timePath")
_PORTS = {"mqtt": 1883, "mqtts": 8883}


# ---------------------------------------------------------------- topics (pure)


def check_topic_filter(topic: str) -> str:
    """``topic`` when it is a valid subscription filter, else :class:`ValueError`.

    ``+`` must fill a whole level, ``#`` a whole last level.
    """
    if not isinstance(topic, str) or not topic:
        raise ValueError("a topic must be a non-empty string")
    if "\0" in topic:
        raise ValueError(f"topic {topic!r} holds a NUL character")
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "+" in level and level != "+":
            raise ValueError(f"in topic {topic!r}, '+' must be a whole level")
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError(f"in topic {topic!r}, '#' must be the whole last level")
    return topic


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` (a message's topic) matches ``topic_filter`` (with ``+``/``#``).

    As MQTT says, a wildcard at the first level does not match a topic that
    starts with ``$`` (``$SYS/...``).
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    wanted = topic_filter.split("/")
    levels = topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels) or (level != "+" and level != levels[index]):
            return False
    return len(levels) == len(wanted)


# ---------------------------------------------------------------- options


@dataclass
class _Spec:
    """One configured reading, and what arrived for it (guarded by the driver's lock)."""

    name: str
    topic: str
    path: str | None
    parts: tuple[PathPart, ...] | None
    unit: str | None
    time_path: str | None
    time_parts: tuple[PathPart, ...] | None
    # state
    value: float | int | None = None
    time: float | None = None  # the payload's own time
    arrived: float | None = None
    problem: SensorDataError | None = None  # the last message was unusable
    queue: deque[tuple[float | int, float] | SensorDataError] = field(default_factory=deque)
    dropped: int = 0
    retained: dict[str, bytes] = field(default_factory=dict)  # topic -> payload seen retained
    reported: str | None = None  # the problem last logged as a warning


def _reading_specs(readings: Any, time_path: Any) -> list[_Spec]:
    if readings is None:
        raise ConfigError(
            f"driver {_DRIVER!r} needs the option 'readings' "
            '(reading name -> {"topic": ..., "path": ...})',
            field="readings",
        )
    if not isinstance(readings, Mapping) or not readings:
        raise ConfigError(
            f"driver {_DRIVER!r}: option 'readings' must be an object naming at least one "
            'reading (name -> {"topic": ..., "path": ...})',
            field="readings",
        )
    specs = []
    for name, given in readings.items():
        where = f"readings.{name}"
        entry = {"topic": given} if isinstance(given, str) else given
        if not isinstance(name, str) or not name:
            raise ConfigError(f"driver {_DRIVER!r}: a reading name must be text", field="readings")
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f'driver {_DRIVER!r}: {where} must be an object {{"topic": ..., "path": ...}}',
                field=where,
            )
        for key in entry:
            if key not in READING_KEYS:
                raise ConfigError(
                    f"driver {_DRIVER!r}: {where} has no key {key!r}"
                    f"{did_you_mean(key, READING_KEYS)} (keys: {', '.join(READING_KEYS)})",
                    field=f"{where}.{key}",
                )
        topic = entry.get("topic")
        try:
            check_topic_filter(topic)
        except ValueError as exc:
            raise ConfigError(f"driver {_DRIVER!r}: {where}.topic: {exc}", field=where) from None
        for key in ("path", "unit", "timePath"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise ConfigError(
                    f"driver {_DRIVER!r}: {where}.{key} must be a string", field=f"{where}.{key}"
                )
        path = entry.get("path")
        own_time = entry.get("timePath", time_path)
        specs.append(
            _Spec(
                name=name,
                topic=topic,
                path=path,
                parts=_path(path, f"{where}.path"),
                unit=entry.get("unit"),
                time_path=own_time,
                time_parts=_path(own_time, f"{where}.timePath"),
            )
        )
    return specs


def _path(path: str | None, where: str) -> tuple[PathPart, ...] | None:
    if path is None:
        return None
    try:
        return parse_path(path)
    except ValueError as exc:
        raise ConfigError(f"driver {_DRIVER!r}: {where}: {exc}", field=where) from None


def _broker(url: Any) -> tuple[bool, str, int]:
    """(tls, host, port) from the ``url`` option."""
    if not isinstance(url, str) or not url:
        raise ConfigError(f"driver {_DRIVER!r}: option 'url' must be a string", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(
            f"driver {_DRIVER!r}: option 'url' is not a URL like mqtt://host:1883", field="url"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _PORTS:
        raise ConfigError(
            f"driver {_DRIVER!r}: option 'url' must start with mqtt:// or mqtts://", field="url"
        )
    if "@" in parts.netloc:  # credentials: not shown, not accepted here
        raise ConfigError(
            f"driver {_DRIVER!r}: option 'url' must not hold credentials; "
            "give them as 'username' and 'password'",
            field="url",
        )
    if not parts.hostname:
        raise ConfigError(f"driver {_DRIVER!r}: option 'url' names no host", field="url")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"driver {_DRIVER!r}: option 'url' is only mqtt(s)://host:port, not {url!r}",
            field="url",
        )
    return scheme == "mqtts", parts.hostname, port or _PORTS[scheme]


def require_paho() -> Any:
    """paho's client module, or a :class:`ConfigError` saying how to install it."""
    try:
        import paho.mqtt.client as paho
    except ImportError as exc:
        raise ConfigError(
            f"driver {_DRIVER!r} needs the paho-mqtt package: {INSTALL_HINT}", field="driver"
        ) from exc
    return paho


# ---------------------------------------------------------------- Home Assistant (pure)

#: our units -> Home Assistant's spelling, where they differ
_HA_UNITS = {"C": "°C", "F": "°F", "ug/m3": "µg/m³", "mg/m3": "mg/m³", "lux": "lx"}
#: Home Assistant device classes that follow from a unit alone
_HA_CLASSES = {
    "C": "temperature",
    "F": "temperature",
    "K": "temperature",
    "Pa": "pressure",
    "hPa": "pressure",
    "kPa": "pressure",
    "mbar": "pressure",
    "bar": "pressure",
    "inHg": "pressure",
    "mmHg": "pressure",
    "psi": "pressure",
    "W": "power",
    "kW": "power",
    "V": "voltage",
    "mV": "voltage",
    "lx": "illuminance",
    "lux": "illuminance",
    "klx": "illuminance",
}
_HA_ID = re.compile(r"[^a-zA-Z0-9_-]+")


def ha_id(text: str) -> str:
    """``text`` as a Home Assistant discovery id: letters, digits, ``_`` and ``-`` only."""
    return _HA_ID.sub("_", text).strip("_") or "_"


def value_template(parts: tuple[PathPart, ...] | None) -> str:
    """The Home Assistant template that picks a path (``None``: the payload itself)."""
    if not parts:
        return "{{ value }}"
    out = "value_json"
    for part in parts:
        if isinstance(part, int) or part.isdigit():
            out += f"[{int(part)}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + json.dumps(part).replace('"', "'") + "]"
    return "{{ " + out + " }}"


def discovery_messages(
    node: str,
    readings: list[tuple[str, str, tuple[PathPart, ...] | None, str | None]],
    *,
    availability: str,
    expire_after: float | None = None,
    version: str = "",
) -> list[tuple[str, dict[str, Any]]]:
    """(topic, config) of the Home Assistant MQTT discovery message of each reading.

    ``readings`` holds (name, topic, path parts, unit); a topic with wildcards
    cannot be a sensor's state topic and is left out. Every sensor belongs to
    one device ``node`` and is available while ``availability`` says
    ``online`` (the driver's last will sets ``offline``).
    """
    device = {
        "identifiers": [f"iota_publisher_{node}"],
        "name": f"IOTA publisher {node}",
        "manufacturer": "iota-publisher",
        "model": "mqtt source",
    }
    if version:
        device["sw_version"] = version
    out = []
    for name, topic, parts, unit in readings:
        if "+" in topic or "#" in topic:
            continue
        object_id = ha_id(name)
        config: dict[str, Any] = {
            "name": name,
            "unique_id": f"iota_publisher_{node}_{object_id}",
            "state_topic": topic,
            "value_template": value_template(parts),
            "state_class": "measurement",
            "availability_topic": availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
        }
        if unit is not None:
            config["unit_of_measurement"] = _HA_UNITS.get(unit, unit)
            if unit in _HA_CLASSES:
                config["device_class"] = _HA_CLASSES[unit]
        if expire_after is not None:
            config["expire_after"] = max(1, round(expire_after))
        out.append((f"homeassistant/sensor/{node}/{object_id}/config", config))
    return out


# ---------------------------------------------------------------- the driver


class MqttSource(Driver):
    """Readings from topics on an MQTT broker; see the module documentation."""

    name: ClassVar[str] = _DRIVER
    path_options: ClassVar[frozenset[str]] = frozenset({"ca", "cert", "key"})
    OPTIONS = (
        Option("url", str, "mqtt://localhost:1883", "the broker: mqtt://host:port or mqtts://"),
        Option("username", str, None, "the broker account"),
        Option("password", str, None, "the broker account's password", secret=True),
        Option("clientId", str, None, "the MQTT client id (default: a random one)"),
        Option("qos", int, 0, "quality of service of the subscriptions", low=0, high=2),
        Option("keepalive", int, 60, "seconds between pings", low=5, high=65535),
        Option("ca", (str, os.PathLike), None, "mqtts: the CA file of the broker's certificate"),
        Option("cert", (str, os.PathLike), None, "mqtts: a client certificate file"),
        Option("key", (str, os.PathLike), None, "mqtts: the client certificate's key file"),
        Option(
            "readings",
            Mapping,
            None,
            'reading name -> {"topic": ..., "path": ..., "unit": ...}',
            required=True,
        ),
        Option("timePath", str, None, "path to the payload's own time (its reading time)"),
        Option("mode", str, "latest", "latest value per window, or each value", choices=MODES),
        Option("staleAfter", float, None, "seconds after which a value is stale", positive=True),
        Option(
            "homeAssistant",
            (bool, str),
            False,
            "announce the readings to Home Assistant (true, or the device's id there)",
        ),
    )

    #: the reading names are the config's (``readings``)
    OPEN_READINGS: ClassVar[bool] = True

    #: seconds between reconnect tries: doubling from the first to the second
    reconnect_min: ClassVar[float] = 1.0
    reconnect_max: ClassVar[float] = 60.0
    #: at most this many seconds the first read waits for the subscriptions and the
    #: retained messages (0: not at all), and the quiet gap that ends the retained ones
    first_read_wait: ClassVar[float] = 2.0
    settle_quiet: ClassVar[float] = 0.05
    #: closing and reopening this driver after failed reads does not help (it
    #: reconnects by itself) and loses what it holds
    reopen_on_failure: ClassVar[bool] = False
    #: values queued per reading in ``each`` mode
    queue_limit: ClassVar[int] = 1000

    @classmethod
    def option_problems(
        cls, options: Mapping[str, Any], where: str = "options"
    ) -> Iterator[ConfigError]:
        """The declared checks, and those of the ``url`` and of each reading's entry."""
        problems = list(super().option_problems(options, where))
        yield from problems
        named = {str(p.field) for p in problems}
        checks = (
            ("url", _broker),
            ("readings", lambda value: _reading_specs(value, options.get("timePath"))),
        )
        for key, check in checks:
            value = options.get(key)
            if value is None or f"{where}.{key}" in named:
                continue
            try:
                check(value)
            except ConfigError as exc:
                field = f"{where}.{exc.field or key}"
                yield ConfigError(f"{field}: {exc}", field=field)

    @classmethod
    def declared_readings(cls, options: Mapping[str, Any]) -> ReadingSet:
        """The names in ``readings``, with their units (nothing known without it)."""
        readings = options.get("readings")
        if not isinstance(readings, Mapping) or not readings:
            return ReadingSet((), open=True)
        specs = []
        for name, entry in readings.items():
            unit = entry.get("unit") if isinstance(entry, Mapping) else None
            specs.append(ReadingSpec(str(name), unit if isinstance(unit, str) else None))
        return ReadingSet(tuple(specs))

    def __init__(
        self,
        *,
        url: str = "mqtt://localhost:1883",
        username: str | None = None,
        password: str | None = None,
        clientId: str | None = None,
        qos: int = 0,
        keepalive: int = 60,
        ca: str | os.PathLike[str] | None = None,
        cert: str | os.PathLike[str] | None = None,
        key: str | os.PathLike[str] | None = None,
        readings: Mapping[str, Any] | None = None,
        timePath: str | None = None,
        mode: str = "latest",
        staleAfter: float | None = None,
        homeAssistant: bool | str = False,
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        given = {
            "url": url,
            "username": username,
            "password": password,
            "clientId": clientId,
            "qos": qos,
            "keepalive": keepalive,
            "ca": ca,
            "cert": cert,
            "key": key,
            "timePath": timePath,
            "mode": mode,
            "staleAfter": staleAfter,
            "homeAssistant": homeAssistant,
        }
        checked = {k: self.option(k).check(self.name, v) for k, v in given.items()}
        self.tls, self.host, self.port = _broker(checked["url"])
        self.qos: int = checked["qos"]
        self.keepalive: int = checked["keepalive"]
        self.mode: str = checked["mode"]
        stale = checked["staleAfter"]
        self.stale_after: float | None = None if stale is None else float(stale)
        _path(timePath, "timePath")
        self._specs = _reading_specs(readings, timePath)
        self._username: str | None = checked["username"]
        if checked["password"] is not None and self._username is None:
            raise ConfigError(
                f"driver {_DRIVER!r}: option 'password' needs a 'username'", field="password"
            )
        files = {k: checked[k] for k in ("ca", "cert", "key")}
        if not self.tls and any(v is not None for v in files.values()):
            raise ConfigError(
                f"driver {_DRIVER!r}: options 'ca', 'cert' and 'key' need an mqtts:// url",
                field="url",
            )
        if files["key"] is not None and files["cert"] is None:
            raise ConfigError(f"driver {_DRIVER!r}: option 'key' needs a 'cert'", field="key")
        for k, v in files.items():
            if v is not None and not Path(v).is_file():
                raise ConfigError(f"driver {_DRIVER!r}: option {k!r}: no file {str(v)!r}", field=k)
        self._clock = clock
        self._lock = threading.Lock()
        self._connected = False
        self._last_error: str | None = None
        self._closed = False
        self._settled = threading.Event()  # subscribed, or the broker refused or is away
        self._unacked = 0
        self._activity = 0.0  # time.monotonic() of the last subscription answer or message
        self._first_read = True
        self._started = clock()
        self._filters = list(dict.fromkeys(s.topic for s in self._specs))
        self.ha_node = _ha_node(checked["homeAssistant"], checked["clientId"])
        self.availability_topic = (
            None if self.ha_node is None else f"iota-publisher/{self.ha_node}/availability"
        )
        self._client = self._make_client(client, checked["clientId"], checked["password"], files)
        self._client.connect_async(self.host, self.port, keepalive=self.keepalive)
        self._client.loop_start()

    def _make_client(
        self, client: Any, client_id: str | None, password: str | None, files: dict[str, Any]
    ) -> Any:
        if client is None:
            paho = require_paho()
            client = paho.Client(
                paho.CallbackAPIVersion.VERSION2,
                client_id=client_id or "",
                protocol=paho.MQTTv311,
            )
        if self._username is not None:
            client.username_pw_set(self._username, password)
        if self.tls:
            try:
                client.tls_set(
                    ca_certs=None if files["ca"] is None else str(files["ca"]),
                    certfile=None if files["cert"] is None else str(files["cert"]),
                    keyfile=None if files["key"] is None else str(files["key"]),
                )
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise ConfigError(
                    f"driver {_DRIVER!r}: the TLS files cannot be used: {clip_text(str(exc))}",
                    field="ca",
                ) from None
        client.reconnect_delay_set(min_delay=self.reconnect_min, max_delay=self.reconnect_max)
        if self.availability_topic is not None:  # before connecting: the broker keeps the will
            client.will_set(self.availability_topic, "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    @property
    def broker(self) -> str:
        """Where the driver connects, for messages: ``mqtt://host:port``."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._connected

    def __repr__(self) -> str:
        return f"<MqttSource driver 'mqtt' {self.broker}>"

    # -- paho's thread ---------------------------------------------------------

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None
    ) -> None:
        if _failed(reason):
            self._connected = False
            self._last_error = f"the broker refused the connection: {reason}"
            self._settled.set()
            log.warning("%s: %s refused the connection: %s", _DRIVER, self.broker, reason)
            return
        self._connected = True
        self._last_error = None
        log.info("%s: connected to %s", _DRIVER, self.broker)
        self._unacked = len(self._filters)
        for topic in self._filters:
            client.subscribe(topic, qos=self.qos)
        if self.ha_node is not None:
            self._announce(client)

    def _announce(self, client: Any) -> None:
        """Home Assistant discovery (retained), then ``online`` on the availability topic."""
        from .._version import __version__

        assert self.availability_topic is not None
        messages = discovery_messages(
            self.ha_node or "",
            [(s.name, s.topic, s.parts, s.unit) for s in self._specs],
            availability=self.availability_topic,
            expire_after=self.stale_after,
            version=__version__,
        )
        for topic, config in messages:
            client.publish(topic, json.dumps(config), qos=1, retain=True)
        client.publish(self.availability_topic, "online", qos=1, retain=True)
        log.info(
            "%s: announced %d reading(s) to Home Assistant as %r",
            _DRIVER,
            len(messages),
            self.ha_node,
        )

    def _on_subscribe(
        self, _client: Any, _userdata: Any, _mid: Any, reasons: Any, _props: Any = None
    ) -> None:
        for reason in reasons if isinstance(reasons, (list, tuple)) else [reasons]:
            if _failed(reason):
                log.warning("%s: %s refused a subscription: %s", _DRIVER, self.broker, reason)
        self._activity = time.monotonic()
        self._unacked -= 1
        if self._unacked <= 0:
            self._settled.set()

    def _on_connect_fail(self, _client: Any, _userdata: Any) -> None:
        self._last_error = "cannot connect (is the broker running? with mqtts: its certificate?)"
        self._settled.set()
        log.debug("%s: %s does not answer", _DRIVER, self.broker)

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None
    ) -> None:
        was = self._connected
        self._connected = False
        if self._closed:
            return
        if not was and self._last_error is not None:
            return  # the refusal just reported says more than the closed socket
        self._last_error = f"the connection was lost ({reason}); reconnecting"
        if was:
            log.warning(
                "%s: lost the connection to %s (%s); reconnecting", _DRIVER, self.broker, reason
            )

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        topic = message.topic
        payload = bytes(message.payload)
        retained = bool(getattr(message, "retain", False))
        now = self._clock()
        self._activity = time.monotonic()
        for spec in self._specs:
            if topic_matches(spec.topic, topic):
                outcome: tuple[float | int, float | None] | SensorDataError
                try:
                    outcome = self._decode(spec, topic, payload)
                except SensorDataError as exc:
                    outcome = exc
                except Exception as exc:  # noqa: BLE001 - paho's thread must live on
                    outcome = self._bad(spec, topic, f"cannot be read: {clip_text(str(exc))}")
                with self._lock:
                    self._take(spec, topic, payload, retained, outcome, now)

    def _decode(self, spec: _Spec, topic: str, payload: bytes) -> tuple[float | int, float | None]:
        """(value, the payload's own time) of one message for ``spec``."""
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise self._bad(spec, topic, "the payload is not UTF-8 text") from None
        data: Any = None
        if spec.parts is not None or spec.time_parts is not None:
            try:
                data = json.loads(text)
            except ValueError:
                raise self._bad(
                    spec, topic, f"the payload is not JSON: {clip_text(text)!r}"
                ) from None
        if spec.parts is None:
            value = _number(text)
            if value is None:
                raise self._bad(spec, topic, f"the payload is not a number: {clip_text(text)!r}")
        else:
            try:
                found = get_path(data, spec.parts)
            except LookupError as exc:
                raise self._bad(spec, topic, f"path {spec.path!r}: {exc}") from None
            value = _number(found)
            if value is None:
                kind = json_kind(found)
                shown = f" {clip_text(found)!r}" if isinstance(found, str) else ""
                raise self._bad(
                    spec, topic, f"path {spec.path!r} holds {kind}{shown}, not a number"
                )
        when = None
        if spec.time_parts is not None:
            try:
                when = parse_time(get_path(data, spec.time_parts))
            except (LookupError, ValueError) as exc:
                raise self._bad(spec, topic, f"timePath {spec.time_path!r}: {exc}") from None
        return value, when

    def _bad(self, spec: _Spec, topic: str, reason: str) -> SensorDataError:
        return SensorDataError(
            f"{_DRIVER}: reading {spec.name!r}, topic {topic!r}: {reason}", driver=_DRIVER
        )

    def _take(
        self,
        spec: _Spec,
        topic: str,
        payload: bytes,
        retained: bool,
        outcome: tuple[float | int, float | None] | SensorDataError,
        now: float,
    ) -> None:
        if retained:
            if self.mode == "each":
                return  # an old event, kept by the broker
            if spec.retained.get(topic) == payload:
                return  # delivered again on a reconnect: nothing new
            spec.retained[topic] = payload
        if self.mode == "each":  # every message, a bad one too, is handed over once, in order
            if len(spec.queue) >= self.queue_limit:
                spec.queue.popleft()
                spec.dropped += 1
            if isinstance(outcome, SensorDataError):
                spec.queue.append(outcome)
            else:
                spec.queue.append((outcome[0], now if outcome[1] is None else outcome[1]))
        if isinstance(outcome, SensorDataError):
            if self.mode == "latest":
                spec.problem = outcome
            log.debug("%s", outcome)
            return
        spec.problem = None
        spec.value, spec.time = outcome
        spec.arrived = now

    # -- the agent's thread ------------------------------------------------------

    def read(self) -> Readings:
        if self._closed:
            raise DriverError(f"{_DRIVER}: read() after close()", driver=_DRIVER)
        if self._first_read:
            self._first_read = False
            self._settle()
        now = self._clock()
        readings: Readings = {}
        problems: list[Exception] = []
        with self._lock:
            for spec in self._specs:
                try:
                    reading = self._read_one(spec, now)
                except (SensorDataError, SensorUnavailableError) as exc:
                    problems.append(exc)
                    if spec.reported != str(exc):
                        spec.reported = str(exc)
                        if len(self._specs) > 1:
                            log.warning("%s", exc)
                    continue
                spec.reported = None
                if reading is not None:
                    readings[spec.name] = reading
        if readings or not problems:  # each mode: no event is not a failure
            return readings
        text = "; ".join(str(p).removeprefix(f"{_DRIVER}: ") for p in problems)
        if all(isinstance(p, SensorDataError) for p in problems):
            raise SensorDataError(f"{_DRIVER}: {text}", driver=_DRIVER)
        raise SensorUnavailableError(f"{_DRIVER}: {text}", driver=_DRIVER)

    def _settle(self) -> None:
        """Wait (boundedly) for the subscriptions' answer and the retained messages after it."""
        deadline = time.monotonic() + self.first_read_wait
        if not self._settled.wait(self.first_read_wait) or not self._connected:
            return
        while True:
            now = time.monotonic()
            quiet_until = self._activity + self.settle_quiet
            if now >= quiet_until or now >= deadline:
                return
            time.sleep(min(quiet_until, deadline) - now)

    def _read_one(self, spec: _Spec, now: float) -> Reading | None:
        if spec.dropped:
            log.warning(
                "%s: reading %r: %d value(s) dropped, more than %d waited",
                _DRIVER,
                spec.name,
                spec.dropped,
                self.queue_limit,
            )
            spec.dropped = 0
        if spec.queue:  # each mode: the oldest value (or bad message) not handed over yet
            item = spec.queue.popleft()
            if isinstance(item, SensorDataError):
                raise item
            return self._reading(spec.name, item[0], spec.unit, item[1])
        if self.mode == "each":
            return self._nothing_new(spec, now)
        if spec.problem is not None:
            raise spec.problem
        if spec.arrived is None:
            raise SensorUnavailableError(
                f"{_DRIVER}: no message yet on topic {spec.topic!r} "
                f"(reading {spec.name!r}){self._link_state()}",
                driver=_DRIVER,
            )
        if self.stale_after is not None:
            age = now - (spec.arrived if spec.time is None else spec.time)
            if age > self.stale_after:
                raise SensorUnavailableError(
                    f"{_DRIVER}: reading {spec.name!r} is stale: nothing new on topic "
                    f"{spec.topic!r} for {age:.0f} s (staleAfter {self.stale_after:g})"
                    f"{self._link_state()}",
                    driver=_DRIVER,
                )
        assert spec.value is not None
        return self._reading(spec.name, spec.value, spec.unit, spec.time)

    def _nothing_new(self, spec: _Spec, now: float) -> None:
        """Each mode, nothing queued: no event, unless stale.

        Not even a lost connection raises: a failed read would let the caller
        reuse the last readings, and an event would be published twice (the
        loss is logged as a warning, and paho reconnects)."""
        if self.stale_after is not None:
            since = self._started if spec.arrived is None else spec.arrived
            if now - since > self.stale_after:
                raise SensorUnavailableError(
                    f"{_DRIVER}: reading {spec.name!r} is stale: nothing on topic "
                    f"{spec.topic!r} for {now - since:.0f} s (staleAfter {self.stale_after:g})"
                    f"{self._link_state()}",
                    driver=_DRIVER,
                )
        log.debug("%s: nothing new for reading %r%s", _DRIVER, spec.name, self._link_state())

    def _link_state(self) -> str:
        if self._connected:
            return ""
        return f"; not connected to {self.broker}: {self._last_error or 'connecting'}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.availability_topic is not None and self._connected:
                # a clean disconnect does not fire the will: say it
                info = self._client.publish(self.availability_topic, "offline", qos=1, retain=True)
                wait = getattr(info, "wait_for_publish", None)
                if wait is not None:
                    try:
                        wait(timeout=2.0)
                    except (RuntimeError, ValueError) as exc:
                        log.debug("%s: 'offline' not sent: %s", _DRIVER, exc)
            self._client.disconnect()
        finally:
            self._client.loop_stop()


def _ha_node(option: bool | str | None, client_id: str | None) -> str | None:
    """The device id announced to Home Assistant (``None``: no announcement)."""
    if option is None or option is False:
        return None
    if isinstance(option, str):
        if not option.strip():
            raise ConfigError(
                f"driver {_DRIVER!r}: option 'homeAssistant' must be true or a non-empty id",
                field="homeAssistant",
            )
        return ha_id(option)
    return ha_id(client_id or f"iota_publisher_{socket.gethostname()}")


def _failed(reason: Any) -> bool:
    failure = getattr(reason, "is_failure", None)
    if isinstance(failure, bool):
        return failure
    return reason != 0


def _number(value: Any) -> float | int | None:
    """A finite number from a JSON number or a string that holds one, else ``None``."""
    if is_number(value):
        return value if is_finite(value) else None
    if isinstance(value, str):
        try:
            number = json.loads(value)
        except ValueError:
            return None
        if is_number(number) and is_finite(number):
            return number
    return None
