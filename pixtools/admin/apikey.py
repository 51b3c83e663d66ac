"""``pixtools apikey create|list|revoke``: the keys scripts use against the API."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .. import apikeys

apikey = AppGroup("apikey", help="Create, list and revoke API keys.")


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"  # type: ignore[attr-defined]


@apikey.command("create")
@click.option("--name", required=True, help="Who or what the key is for (shown by 'list').")
def create(name: str) -> None:
    """Make a key and print it. It is shown this once: only its hash is stored."""
    if not name.strip():
        raise click.BadParameter("give the key a name", param_hint="--name")
    key = apikeys.create(name)
    click.echo(f"Created API key {key.id} ({key.name}). Copy it now; it is not shown again:")
    click.echo(key.secret)
    click.echo("Send it as 'Authorization: Bearer <key>' (or an X-API-Key header).", err=True)


@apikey.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_keys(as_json: bool) -> None:
    """List keys (never their secrets): id, name, created, last used, status."""
    keys = apikeys.all_keys()
    if as_json:
        for key in keys:
            click.echo(json.dumps({
                "id": key.id, "name": key.name, "created_at": _when(key.created_at),
                "last_used_at": _when(key.last_used_at), "revoked_at": _when(key.revoked_at),
            }))
        return
    if not keys:
        click.echo("No API keys. Make one: pixtools apikey create --name NAME")
        return
    click.echo(f"{'id':16}  {'name':24}  {'created':25}  {'last used':25}  status")
    for key in keys:
        status = f"revoked {_when(key.revoked_at)}" if key.revoked_at else "active"
        click.echo(
            f"{key.id:16}  {key.name[:24]:24}  {_when(key.created_at):25}  "
            f"{_when(key.last_used_at):25}  {status}"
        )


@apikey.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key by its id: its holder is refused from the next request on."""
    key = apikeys.revoke(key_id)
    if key is None:
        raise click.ClickException(f"no API key {key_id!r}: see 'pixtools apikey list'")
    click.echo(f"Revoked API key {key.id} ({key.name}).")
