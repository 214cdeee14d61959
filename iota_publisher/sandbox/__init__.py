"""A local legacy IOTA node and Data Marketplace, for trying the whole flow on one machine.

``iota-publish sandbox`` runs both (see :mod:`.cli`); from Python::

    from iota_publisher.sandbox import Sandbox

    with Sandbox("sandbox-data", mwm=9) as sb:
        device_id, secret_key = sb.create_demo_device()
        sb.write_config("sandbox-config.json")   # a live config for `iota-publish run`
        sb.node_url, sb.api_url, sb.endpoint, sb.user_id, sb.api_key

The node (:mod:`.node`) speaks the legacy IRI HTTP API, checks what it stores
(format, proof of work at its minWeightMagnitude, bundle consistency) and
keeps its Tangle in SQLite; the marketplace (:mod:`.market`) speaks the
blueprint's API, with the user's ``apiKey`` required wherever the data is a
user's. Both answer only requests naming them in ``Host`` and send no
wildcard CORS header, so web pages in the developer's browser cannot use
them. The demo user's API key and wallet seed and the demo device's secret
key are random per data directory. All state lives in the data directory:
delete it to reset.
"""

from ._db import SandboxError
from .market import DEMO_DEVICE, DEMO_USER_ID, SandboxMarket
from .node import SandboxNode
from .server import Sandbox

__all__ = [
    "DEMO_DEVICE",
    "DEMO_USER_ID",
    "Sandbox",
    "SandboxError",
    "SandboxMarket",
    "SandboxNode",
]
