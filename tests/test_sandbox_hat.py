"""The sandbox HAT and DEX over real HTTP on 127.0.0.1, and the selling flow end to end
(without the agent: records are written with the HatClient, as the agent's sink will)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import jwt
import pytest
import requests
from click.testing import CliRunner

from iota_publisher._http import NO_RETRY
from iota_publisher.cli import main
from iota_publisher.dex import DexClient
from iota_publisher.errors import (
    DexAuthError,
    DexRejectedError,
    HatAuthError,
    HatNotFoundError,
    HatRejectedError,
)
from iota_publisher.hat import HatClient
from iota_publisher.protocol import hat as _hat
from iota_publisher.sandbox import Sandbox
from iota_publisher.sandbox.dex import PutJsonServer, SandboxDex
from iota_publisher.sandbox.hat import DEMO_ENDPOINT, DEMO_NAMESPACE, OWNER, SandboxHat

NS, EP = DEMO_NAMESPACE, DEMO_ENDPOINT


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Local:
    """HATs and a DEX with a clock the test moves."""

    def __init__(self, tmp_path, hats: int = 1) -> None:
        self.clock = Clock()
        self.hats, self.servers, self.urls = [], [], []
        for i in range(hats):
            hat = SandboxHat(tmp_path / f"hat{i}.db", clock=self.clock)
            server = PutJsonServer("127.0.0.1", 0, hat.route)
            hat.address = f"127.0.0.1:{server.port}"
            self.hats.append(hat)
            self.servers.append(server)
            self.urls.append(f"http://{hat.address}")
        by_address = {h.address: h for h in self.hats}
        self.dex = SandboxDex(tmp_path / "dex.db", hats=by_address.get, clock=self.clock)
        server = PutJsonServer("127.0.0.1", 0, self.dex.route)
        self.servers.append(server)
        self.dex_url = f"http://127.0.0.1:{server.port}"
        for s in self.servers:
            s.start()

    def owner(self, i: int = 0) -> HatClient:
        return HatClient(
            self.urls[i],
            username=OWNER,
            password=self.hats[i].owner_password,
            retry_policy=NO_RETRY,
            clock=self.clock,
        )

    def buyer(self) -> DexClient:
        return DexClient(
            self.dex_url, username="buyer", password=self.dex.buyer_password, retry_policy=NO_RETRY
        )

    def close(self) -> None:
        for s in self.servers:
            s.stop()
        for h in self.hats:
            h.close()
        self.dex.close()


@pytest.fixture
def local(tmp_path):
    env = Local(tmp_path)
    yield env
    env.close()


@pytest.fixture
def two(tmp_path):
    env = Local(tmp_path, hats=2)
    yield env
    env.close()


def reading(t: int, temperature: float = 20.0, humidity: float = 40.0) -> dict:
    return _hat.sensor_record(
        "sandbox-station", t, {"temperature": temperature, "humidity": humidity, "pressure": 1000.0}
    )


def offer_json(offer_id: str = "weather", now_ms: int | None = None, **changes) -> dict:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    offer = {
        "offerId": offer_id,
        "title": "Berlin weather",
        "description": "temperature and humidity of a weather station",
        "starts": now_ms - 60_000,
        "expires": now_ms + 3_600_000,
        "collectionDuration": 600_000,
        "requiredData": {
            "name": offer_id,
            "bundle": {
                "weather": {
                    "endpoints": [
                        {
                            "endpoint": f"{NS}/{EP}",
                            "mapping": {
                                "temperature": "temperature",
                                "humidity": "humidity",
                                "time": "time",
                            },
                        }
                    ],
                    "orderBy": "time",
                }
            },
        },
        "requiredMinUser": 1,
        "requiredMaxUser": 5,
        "status": "approved",
    }
    offer.update(changes)
    return offer


# -- the HAT ------------------------------------------------------------------------------


def test_owner_login_gives_an_rs256_token_the_public_key_verifies(local):
    hat = local.owner()
    token = hat.login()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, hat.public_key(), algorithms=["RS256"])
    assert claims["sub"] == OWNER and claims["iss"] == hat.address
    answer = requests.get(
        f"{local.urls[0]}/users/access_token/validate", headers={"X-Auth-Token": token}
    )
    assert answer.status_code == 200
    wrong = HatClient(local.urls[0], username=OWNER, password="nope", retry_policy=NO_RETRY)
    with pytest.raises(HatAuthError) as err:
        wrong.login()
    assert err.value.status == 401
    answer = requests.get(f"{local.urls[0]}/api/v2.6/data/{NS}/{EP}")
    assert answer.status_code == 401 and answer.json()["message"] == "Not Authenticated"


def test_expired_token_is_refused_and_renewed(local):
    hat = local.owner()
    first = hat.login()
    local.clock.now += local.hats[0].token_ttl + 1
    answer = requests.get(
        f"{local.urls[0]}/api/v2.6/data/{NS}/{EP}", headers={"X-Auth-Token": first}
    )
    assert answer.status_code == 401
    assert hat.read(NS, EP) == []  # renewed before use
    assert hat.token() != first


def test_namespace_write_rule_and_application_tokens(local):
    local.hats[0].add_user("device", "device-password", [("namespacewrite", NS)])
    device = HatClient(
        local.urls[0], username="device", password="device-password", retry_policy=NO_RETRY
    )
    assert device.write(NS, EP, reading(1)).record_ids
    with pytest.raises(HatAuthError) as err:
        device.write("other", EP, reading(1))
    assert err.value.status == 403
    with pytest.raises(HatAuthError):
        device.read(NS, EP)  # writing is not reading
    with pytest.raises(HatAuthError):
        device.data_debits()
    app = HatClient(
        local.urls[0], token=local.owner().application_token("dex"), retry_policy=NO_RETRY
    )
    with pytest.raises(HatAuthError):  # the owner's application token is not the owner
        app.write(NS, EP, reading(2))


def test_records_duplicates_arrays_and_reads(local):
    hat = local.owner()
    first = hat.write(NS, EP, reading(1))
    again = hat.write(NS, EP, reading(1))
    assert again.duplicate and not first.duplicate
    assert hat.write("elsewhere", EP, reading(1)).record_ids  # per endpoint
    # all or nothing: one duplicate refuses the list...
    assert hat.write(NS, EP, [reading(2), reading(1)]).duplicate
    assert [r.data["time"] for r in hat.read(NS, EP)] == [1]
    stored = hat.write(NS, EP, [reading(2), reading(1), reading(3)], skip_errors=True)
    assert [r.data["time"] for r in stored.records] == [2, 3]  # ... unless skipErrors
    got = hat.read(NS, EP, order_by="time", ordering="descending", skip=1, take=1)
    assert [r.data["time"] for r in got] == [2]
    assert len(hat.read(NS, EP)) == 3
    assert hat.read(NS, "never-written") == []
    bad_name = requests.get(
        f"{local.urls[0]}/api/v2.6/data/Bad/{EP}", headers={"X-Auth-Token": hat.token()}
    )
    assert bad_name.status_code == 404
    answer = requests.post(
        f"{local.urls[0]}/api/v2.6/data/{NS}/{EP}",
        data="[1, 2]",
        headers={"X-Auth-Token": hat.token(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["message"] == "Bad Request"
    sources = requests.get(
        f"{local.urls[0]}/api/v2.6/data/sources", headers={"X-Auth-Token": hat.token()}
    )
    assert sources.json() == {"elsewhere": [EP], NS: [EP]}


def test_data_bundles_and_combinators(local):
    hat = local.owner()
    for t, temp in ((1, 15.0), (2, 25.0), (3, 22.0)):
        hat.write(NS, EP, reading(t, temp))
    headers = {"X-Auth-Token": hat.token()}
    bundle = {
        "warm": {
            "endpoints": [
                {
                    "endpoint": f"{NS}/{EP}",
                    "mapping": {"t": "temperature", "time": "time"},
                    "filters": [
                        {
                            "field": "temperature",
                            "operator": {"operator": "between", "lower": 20, "upper": 30},
                        }
                    ],
                }
            ],
            "orderBy": "time",
            "ordering": "descending",
            "limit": 1,
        }
    }
    url = f"{local.urls[0]}/api/v2.6/data-bundle/warm"
    assert requests.post(url, json=bundle, headers=headers).status_code == 201
    got = requests.get(url, headers=headers).json()
    assert [r["data"] for r in got["warm"]] == [{"t": 22.0, "time": 3}]
    bad = requests.post(url, json={"warm": {"endpoints": [{"endpoint": "x"}]}}, headers=headers)
    assert bad.status_code == 400
    assert (
        requests.get(f"{local.urls[0]}/api/v2.6/data-bundle/none", headers=headers).status_code
        == 404
    )
    combinator = [
        {
            "endpoint": f"{NS}/{EP}",
            "filters": [{"field": "time", "operator": {"operator": "in", "value": [1, 3]}}],
        }
    ]
    curl = f"{local.urls[0]}/api/v2.6/combinator/ends"
    assert requests.post(curl, json=combinator, headers=headers).status_code == 201
    assert [r["data"]["time"] for r in requests.get(curl, headers=headers).json()] == [1, 3]


def debit_request(key: str, start_ms: int, period_s: int = 600, conditions=None):
    spec = offer_json(key)["requiredData"]["bundle"]
    return _hat.debit_request(
        key,
        spec,
        purpose="test",
        start_ms=start_ms,
        period_s=period_s,
        client_name="buyer",
        client_url="http://buyer.example",
        terms_url="http://buyer.example/terms",
        conditions=conditions,
    )


def test_data_debits_give_nothing_until_enabled_and_after_their_end(local):
    hat = local.owner()
    hat.write(NS, EP, reading(1, 21.0))
    now = int(local.clock.now * 1000)
    made = hat.create_data_debit("d1", debit_request("d1", now))
    assert not made.enabled and not made.active
    with pytest.raises(HatRejectedError) as err:
        hat.data_debit_values("d1")
    assert "not enabled" in str(err.value)
    with pytest.raises(HatRejectedError):  # the key is taken
        hat.create_data_debit("d1", debit_request("d1", now))
    assert hat.enable_data_debit("d1").active
    values = hat.data_debit_values("d1")
    assert values.conditions is None
    assert [r["data"] for r in values.bundle["weather"]] == [
        {"temperature": 21.0, "humidity": 40.0, "time": 1}
    ]
    assert not hat.disable_data_debit("d1").enabled
    with pytest.raises(HatRejectedError):
        hat.data_debit_values("d1")
    hat.enable_data_debit("d1")
    local.clock.now += 601
    with pytest.raises(HatRejectedError) as err:
        hat.data_debit_values("d1")
    assert "not active" in str(err.value)
    with pytest.raises(HatRejectedError):
        hat.enable_data_debit("d1")  # past its end
    with pytest.raises(HatNotFoundError):
        hat.data_debit_values("nothing")
    assert [d.key for d in hat.data_debits()] == ["d1"]


def test_data_debit_conditions(local):
    hat = local.owner()
    hat.write(NS, EP, reading(1, 21.0))
    now = int(local.clock.now * 1000)
    hot = {
        "hot": {
            "endpoints": [
                {
                    "endpoint": f"{NS}/{EP}",
                    "filters": [
                        {
                            "field": "temperature",
                            "operator": {"operator": "between", "lower": 30, "upper": 50},
                        }
                    ],
                }
            ]
        }
    }
    hat.create_data_debit("c1", debit_request("c1", now, conditions=hot))
    hat.enable_data_debit("c1")
    assert hat.data_debit_values("c1") == ({"hot": False}, {})
    hat.write(NS, EP, reading(2, 35.0))
    values = hat.data_debit_values("c1")
    assert values.conditions == {"hot": True} and len(values.bundle["weather"]) == 2


def test_v2_data_debits(local):
    hat = local.owner()
    hat.write(NS, EP, reading(1))
    now = int(local.clock.now * 1000)
    spec = offer_json("v")["requiredData"]["bundle"]
    request = _hat.debit_request_v2("b-v2", spec, start_ms=now - 1000, end_ms=now + 60_000)
    made = hat.create_data_debit("v2", request, v2=True)
    assert made.bundle_name == "b-v2" and not made.enabled
    with pytest.raises(HatRejectedError):
        hat.enable_data_debit("v2", bundle_name="other")
    assert hat.enable_data_debit("v2", bundle_name="b-v2").enabled
    values = hat.data_debit_values("v2", v2=True)
    assert values.conditions is None and values.bundle["weather"][0]["data"]["time"] == 1


def test_only_the_debits_holder_and_the_owner_read_it(local):
    hat = local.owner()
    now = int(local.clock.now * 1000)
    hat.create_data_debit("d1", debit_request("d1", now))
    hat.enable_data_debit("d1")
    local.hats[0].add_user("holder", "holder-password", [("datadebitowner", "d1")])
    local.hats[0].add_user("stranger", "stranger-password", [])
    holder = HatClient(
        local.urls[0], username="holder", password="holder-password", retry_policy=NO_RETRY
    )
    assert holder.data_debit_values("d1").bundle == {"weather": []}
    with pytest.raises(HatAuthError):
        holder.enable_data_debit("d1")  # consent is the owner's
    with pytest.raises(HatAuthError):
        holder.create_data_debit("d2", debit_request("d2", now))
    stranger = HatClient(
        local.urls[0], username="stranger", password="stranger-password", retry_policy=NO_RETRY
    )
    with pytest.raises(HatAuthError):
        stranger.data_debit_values("d1")


def test_host_origin_and_unknown_paths(local):
    url = local.urls[0]
    assert requests.get(f"{url}/healthz", headers={"Host": "evil.example"}).status_code == 421
    refused = requests.get(f"{url}/healthz", headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    assert requests.get(f"{url}/nothing").status_code == 404
    assert (
        requests.get(local.dex_url + "/api/v2/offers", headers={"Host": "evil.example"}).status_code
        == 421
    )


# -- DEX ---------------------------------------------------------------------------------


def claim_for(env: Local, i: int, offer_id: str):
    hat = env.owner(i)
    dex = DexClient(env.dex_url, retry_policy=NO_RETRY)
    dex.register_hat(hat.address)
    return dex.claim(offer_id, hat.application_token("dex"))


def test_offers_need_the_marketplace_role(local):
    local.dex.add_account("nobody", "nobody-password", [])
    nobody = DexClient(
        local.dex_url, username="nobody", password="nobody-password", retry_policy=NO_RETRY
    )
    with pytest.raises(DexAuthError) as err:
        nobody.create_offer(offer_json())
    assert err.value.status == 403
    buyer = local.buyer()
    made = buyer.create_offer(offer_json())
    assert made.claims == 0
    with pytest.raises(DexRejectedError):
        buyer.create_offer(offer_json())  # the id is taken
    assert [o.offer_id for o in DexClient(local.dex_url).offers()] == ["weather"]
    assert buyer.set_offer_status("weather", "rejected").status == "rejected"
    with pytest.raises(DexAuthError):
        nobody.set_offer_status("weather", "approved")
    bad = requests.post(
        f"{local.dex_url}/api/v2/offer",
        json={"offerId": "x"},
        headers={"X-Auth-Token": buyer.login()},
    )
    assert bad.status_code == 400 and "not a valid offer" in bad.json()["cause"]


def test_claims_register_a_debit_and_are_confirmed_once_enabled(local):
    buyer = local.buyer()
    buyer.create_offer(offer_json())
    made = claim_for(local, 0, "weather")
    assert (made.data_debit_id, made.confirmed, made.claimer_number) == ("weather", False, 1)
    assert claim_for(local, 0, "weather").claimer_number == 1  # the same claim again
    assert DexClient(local.dex_url).offer("weather").claims == 1
    creds, claims = buyer.claims("weather")
    assert creds is None and not claims[0].confirmed  # nothing before the owner's consent
    hat = local.owner()
    debit = hat.data_debit("weather")
    assert not debit.enabled and dict(debit.bundle) == offer_json()["requiredData"]["bundle"]
    hat.enable_data_debit("weather")
    creds, claims = buyer.claims("weather")
    assert claims[0].confirmed and creds.login


def test_claim_refusals(two):
    buyer = two.buyer()
    now = int(two.clock.now * 1000)
    buyer.create_offer(offer_json("one", requiredMaxUser=1))
    buyer.create_offer(offer_json("later", starts=now + 60_000))
    buyer.create_offer(offer_json("past", starts=now - 10_000, expires=now - 1))
    buyer.create_offer(offer_json("no", status="rejected"))
    claim_for(two, 0, "one")
    for offer_id, words in (
        ("one", "full"),
        ("later", "not open"),
        ("past", "expired"),
        ("no", "rejected"),
    ):
        with pytest.raises(DexRejectedError) as err:
            claim_for(two, 1, offer_id)
        assert words in str(err.value)
    with pytest.raises(DexRejectedError):
        claim_for(two, 1, "unknown")
    dex = DexClient(two.dex_url, retry_policy=NO_RETRY)
    with pytest.raises(DexAuthError):  # a login token is not issued for DEX
        dex.claim("later", two.owner(1).login())
    with pytest.raises(DexRejectedError):
        dex.register_hat("127.0.0.1:1")


def test_register_claim_by_the_offers_owner(two):
    buyer = two.buyer()
    buyer.create_offer(offer_json(requiredMinUser=2))
    address = two.owner(1).address
    DexClient(two.dex_url).register_hat(address)
    assert buyer.register_claim("weather", address).address == address
    claim_for(two, 0, "weather")
    two.owner(0).enable_data_debit("weather")
    creds, claims = buyer.claims("weather")
    assert creds is None and [c.confirmed for c in claims] == [False, True]  # min 2 users
    two.owner(1).enable_data_debit("weather")
    assert buyer.claims("weather")[0] is not None


# -- the sandbox ----------------------------------------------------------------------------


def test_sandbox_keeps_its_state_and_keys_across_restarts(tmp_path):
    with Sandbox(tmp_path / "data") as sb:
        owner, password = sb.hat_owner
        buyer = sb.buyer
        hat = HatClient(sb.hat_url, username=owner, password=password, retry_policy=NO_RETRY)
        hat.write(NS, EP, reading(1))
        key = hat.public_key()
        DexClient(sb.dex_url, username=buyer[0], password=buyer[1]).create_offer(offer_json())
    with Sandbox(tmp_path / "data") as sb:
        assert sb.hat_owner == (owner, password) and sb.buyer == buyer
        hat = HatClient(sb.hat_url, username=owner, password=password, retry_policy=NO_RETRY)
        assert [r.data["time"] for r in hat.read(NS, EP)] == [1]
        assert hat.public_key() == key
        assert [o.offer_id for o in DexClient(sb.dex_url).offers()] == ["weather"]
    with Sandbox(tmp_path / "other") as sb:
        assert sb.hat_owner[1] != password and sb.buyer[1] != buyer[1]
        other = HatClient(sb.hat_url, username=owner, password=password, retry_policy=NO_RETRY)
        assert other.public_key() != key
        with pytest.raises(HatAuthError):
            other.login()


def test_the_flow_end_to_end(tmp_path, monkeypatch):
    """A buyer's offer asks for the device's endpoint and two of its fields; records are
    written as the agent will; `offers` shows it claimable; `claim --yes` claims and
    enables; the buyer collects exactly those fields with their times."""
    runner = CliRunner()
    with Sandbox(tmp_path / "data") as sb:
        config = sb.write_config(tmp_path / "config.json")
        owner, password = sb.hat_owner
        buyer_name, buyer_password = sb.buyer
        buyer = DexClient(sb.dex_url, username=buyer_name, password=buyer_password)
        buyer.create_offer(offer_json())
        buyer.create_offer(
            offer_json(
                "fitbit",
                requiredData={
                    "name": "f",
                    "bundle": {"s": {"endpoints": [{"endpoint": "fitbit/sleep"}]}},
                },
            )
        )

        hat = HatClient(sb.hat_url, username=owner, password=password)
        written = [reading(1_800_000_000_000 + i * 5000, 20.0 + i, 40.0 + i) for i in range(3)]
        for record in written:
            assert hat.write(NS, EP, record).record_ids
        assert hat.write(NS, EP, written[0]).duplicate  # a resend after a lost answer

        device = [
            "--config",
            str(config),
            "--dex-url",
            sb.dex_url,
            "--namespace",
            NS,
            "--endpoint",
            EP,
        ]
        shown = runner.invoke(main, ["offers", *device, "--all"])
        assert shown.exit_code == 0, shown.output
        assert "weather  Berlin weather  [claimable]" in shown.output
        assert "fitbit" in shown.output and "not claimable (unsatisfiable)" in shown.output
        assert "gives: temperature, humidity, time" in shown.output

        monkeypatch.setenv("IOTA_PUBLISH_HAT_PASSWORD", password)
        hat_args = ["--hat-url", sb.hat_url, "--username", owner]
        refused = runner.invoke(main, ["claim", "fitbit", *device, *hat_args, "--yes"])
        assert refused.exit_code == 1 and "cannot be claimed" in refused.output
        asked = runner.invoke(main, ["claim", "weather", *device, *hat_args], input="n\n")
        assert asked.exit_code == 1 and "not claimed" in asked.output
        assert "the buyer gets" in asked.output and "10 min" in asked.output
        assert buyer.claims("weather") == (None, [])
        done = runner.invoke(main, ["claim", "weather", *device, *hat_args, "--yes"])
        assert done.exit_code == 0, done.output
        assert "data debit weather enabled" in done.output
        assert password not in done.output

        listed = runner.invoke(main, ["debits", *hat_args])
        assert listed.exit_code == 0 and "weather  [active] for buyer" in listed.output

        creds, claims = buyer.claims("weather")
        assert [c.confirmed for c in claims] == [True]
        collector = HatClient(sb.hat_url, username=creds.login, password=creds.password)
        values = collector.data_debit_values(claims[0].data_debit_id)
        got = [r["data"] for r in values.bundle["weather"]]
        assert got == [
            {"temperature": r["temperature"], "humidity": r["humidity"], "time": r["time"]}
            for r in written
        ]
        assert set(values.bundle) == {"weather"}

        off = runner.invoke(main, ["debits", *hat_args, "--disable", "weather"])
        assert off.exit_code == 0 and "disabled" in off.output
        with pytest.raises(HatRejectedError):
            collector.data_debit_values("weather")
        assert json.loads(config.read_text())["sensorId"]


def test_cli_sandbox_prints_the_hat_and_dex_logins(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "iota_publisher", "sandbox", "--port", "0", "--mwm", "5"]
        + ["--data", str(tmp_path / "data"), "--config", str(tmp_path / "cfg.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    killer = threading.Timer(30, proc.kill)
    killer.start()
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        hat = re.search(r"HAT: +(http://127\.0\.0\.1:\d+) +owner login (\S+) / (\S+)", text)
        dex = re.search(r"DEX: +(http://127\.0\.0\.1:\d+) +buyer login (\S+) / (\S+)", text)
        assert hat and dex, text
        assert f"namespace {NS}   endpoint {EP}" in text
        client = HatClient(hat[1], username=hat[2], password=hat[3], retry_policy=NO_RETRY)
        assert client.read(NS, EP) == []
        DexClient(dex[1], username=dex[2], password=dex[3]).create_offer(offer_json())
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out and not err
