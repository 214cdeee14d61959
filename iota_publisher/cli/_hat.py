"""``iota-publish offers``, ``claim`` and ``debits``: selling through HAT Data Exchange.

``offers`` lists DEX offers and whether this device can satisfy each;
``claim`` claims one for this device's HAT and enables the data debit (the
owner's consent) once the owner has seen what it gives; ``debits`` lists the
HAT's data debits and disables one. The config's HAT section does not exist
yet: the HAT, its namespace and endpoint, and DEX are options; the field ids
come from the config's ``fields``. The HAT password comes from
``$IOTA_PUBLISH_HAT_PASSWORD``, ``--password-stdin`` or a prompt, never from
the command line.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from ._common import CONFIG, EXIT_CONFIG, EXIT_FAILURE, CliError, load

__all__ = ["DEFAULT_DEX", "PASSWORD_ENV", "claim", "debits", "offers"]

DEFAULT_DEX = "https://dex.hubofallthings.com"
PASSWORD_ENV = "IOTA_PUBLISH_HAT_PASSWORD"


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    moment = _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _duration(ms: int) -> str:
    seconds = ms // 1000
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p) or f"{seconds} s"


def _collects(item: Any) -> str:
    if item.collection_duration is None:
        return "until it expires"
    return f"for {_duration(item.collection_duration)}"


def _field_ids(config_path: str) -> list[str]:
    config = load(config_path)
    if config.fields is None:
        raise CliError(f"{config_path}: no fields: nothing this device could sell", EXIT_CONFIG)
    return [rule.id for rule in config.fields.rules]


def _device_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            CONFIG,
            click.option(
                "--dex-url", default=DEFAULT_DEX, show_default=True, help="The Data Exchange."
            ),
            click.option("--namespace", required=True, help="The HAT namespace the device writes."),
            click.option("--endpoint", required=True, help="The HAT endpoint the device writes."),
        ]
    ):
        command = option(command)
    return command


def _hat_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--hat-url", required=True, help="The HAT (https://you.hubofallthings.net)."
            ),
            click.option(
                "--username", default="owner", show_default=True, help="The HAT owner's username."
            ),
            click.option(
                "--password-stdin",
                is_flag=True,
                help=f"Read the HAT password from stdin (else ${PASSWORD_ENV}, else a prompt).",
            ),
        ]
    ):
        command = option(command)
    return command


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get(PASSWORD_ENV) or click.prompt("HAT password", hide_input=True)
    if not password:
        raise CliError("no HAT password given", EXIT_CONFIG)
    return password


def _hat_client(hat_url: str, username: str, from_stdin: bool) -> Any:
    from ..errors import InvalidInputError
    from ..hat import HatClient

    try:
        return HatClient(hat_url, username=username, password=_password(from_stdin))
    except InvalidInputError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None


def _run(action: Callable[[], Any]) -> Any:
    """``action()``, with the HAT's and DEX's failures as exit 1."""
    from ..errors import DexError, HatError, InvalidInputError, OfferNotClaimableError

    try:
        return action()
    except (HatError, DexError, OfferNotClaimableError) as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    except InvalidInputError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None


def _gives(verdict: Any) -> str:
    return ", ".join(
        f"{out} (from {path})" if out != path else out for _, out, path in verdict.fields
    )


@click.command()
@_device_options
@click.option("--all", "show_all", is_flag=True, help="Also list offers this device cannot claim.")
def offers(config_path: str, dex_url: str, namespace: str, endpoint: str, show_all: bool) -> None:
    """List the DEX offers and whether this device can satisfy each.

    An offer is claimable when it is approved, open (between its start and
    expiry), not full, and asks only for this device's HAT endpoint and for
    fields its records hold (the config's field ids, time and deviceId).
    """
    from ..dex import DexClient, satisfiable
    from ..protocol import hat as _hat

    ids = _field_ids(config_path)
    try:
        _hat.full_endpoint(namespace, endpoint)
    except ValueError as exc:
        raise CliError(f"--namespace/--endpoint: {exc}", EXIT_CONFIG) from None
    with DexClient(dex_url) as dex:
        listed = _run(dex.offers)
    now = int(time.time() * 1000)
    shown = 0
    for item in listed:
        verdict = satisfiable(
            item, namespace=namespace, endpoint=endpoint, field_ids=ids, now_ms=now
        )
        if not verdict.ok and not show_all:
            continue
        shown += 1
        mark = "claimable" if verdict.ok else f"not claimable ({verdict.reason})"
        claimed = "?" if item.claims is None else str(item.claims)
        click.echo(f"{item.offer_id}  {item.title}  [{mark}]")
        click.echo(f"    {verdict.detail}")
        if verdict.ok:
            click.echo(f"    gives: {_gives(verdict)}")
        click.echo(
            f"    open {_when(item.starts)} .. {_when(item.expires)}; collects "
            f"{_collects(item)}; users {item.min_users}..{item.max_users} "
            f"(claimed by {claimed}); status {item.status}"
        )
    if not shown:
        click.echo(
            f"no offers on {dex_url}"
            if not listed
            else f"none of {len(listed)} offers is claimable (--all lists them)"
        )


@click.command()
@click.argument("offer_id")
@_device_options
@_hat_options
@click.option("--yes", "-y", is_flag=True, help="Claim without asking.")
def claim(
    offer_id: str,
    config_path: str,
    dex_url: str,
    namespace: str,
    endpoint: str,
    hat_url: str,
    username: str,
    password_stdin: bool,
    yes: bool,
) -> None:
    """Claim a DEX offer for this device's HAT and enable its data debit.

    Shows what the buyer will get and for how long, asks (unless --yes),
    claims the offer with a token the HAT issues for DEX, checks that the data
    debit DEX registered on the HAT asks for what the offer said, and enables
    it. Expired, not yet open, full, rejected and unsatisfiable offers are
    refused with the reason.
    """
    from ..dex import DexClient, check_claimable

    ids = _field_ids(config_path)
    with DexClient(dex_url) as dex:
        item = _run(lambda: dex.offer(offer_id))
        now = int(time.time() * 1000)
        verdict = _run(
            lambda: check_claimable(
                item, namespace=namespace, endpoint=endpoint, field_ids=ids, now_ms=now
            )
        )
        click.echo(f"offer {item.offer_id}: {item.title}")
        if item.description:
            click.echo(f"  {item.description}")
        click.echo(f"  the buyer gets, from {namespace}/{endpoint}: {_gives(verdict)}")
        click.echo(
            f"  every such record stored on the HAT, for {_duration(item.collects_for(now))} "
            f"from the claim (until about {_when(now + item.collects_for(now))})"
        )
        if item.data_conditions is not None:
            click.echo("  only while the offer's data conditions hold")
        if not yes and not click.confirm("Claim it and enable the data debit?", default=False):
            raise CliError("not claimed", EXIT_FAILURE)
        hat = _hat_client(hat_url, username, password_stdin)
        with hat:

            def go() -> Any:
                token = hat.application_token("dex")
                dex.register_hat(hat.address)
                made = dex.claim(item.offer_id, token)
                debit = hat.data_debit(made.data_debit_id)
                if dict(debit.bundle) != dict(item.required_data):
                    raise CliError(
                        f"the data debit {made.data_debit_id} on the HAT does not ask for what "
                        "the offer says; it is left disabled",
                        EXIT_FAILURE,
                    )
                return hat.enable_data_debit(made.data_debit_id)

            enabled = _run(go)
    click.echo(
        f"claimed; data debit {enabled.key} enabled until {_when(enabled.end_ms)} "
        f"(iota-publish debits --disable {enabled.key} withdraws it)"
    )


@click.command()
@_hat_options
@click.option("--disable", "disable_key", metavar="ID", help="Disable this data debit.")
def debits(hat_url: str, username: str, password_stdin: bool, disable_key: str | None) -> None:
    """List the HAT's data debits, or disable one (--disable ID)."""
    hat = _hat_client(hat_url, username, password_stdin)
    with hat:
        if disable_key is not None:
            debit = _run(lambda: hat.disable_data_debit(disable_key))
            click.echo(f"data debit {debit.key} disabled")
            return
        listed = _run(hat.data_debits)
    if not listed:
        click.echo("no data debits")
    for debit in listed:
        state = "active" if debit.active else ("enabled" if debit.enabled else "disabled")
        who = f" for {debit.client_name}" if debit.client_name else ""
        click.echo(f"{debit.key}  [{state}]{who}  {_when(debit.start_ms)} .. {_when(debit.end_ms)}")
        endpoints = sorted(
            {
                q.get("endpoint", "?")
                for spec in debit.bundle.values()
                for q in spec.get("endpoints", [])
            }
        )
        if endpoints:
            click.echo(f"    reads {', '.join(endpoints)}")
