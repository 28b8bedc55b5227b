"""Operator commands for API keys: ``flask --app app keys create|list|revoke``."""

from __future__ import annotations

import re
import uuid

import click
from flask import current_app
from flask.cli import AppGroup

from core.keystore import SCOPES, KeyStore

keys = AppGroup("keys", help="API keys: create (printed once), list, revoke.")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _store() -> KeyStore:
    return KeyStore(current_app.extensions["pixelflow"].jobs)


@keys.command("create")
@click.option("--name", required=True, help="who or what the key is for")
@click.option("--tenant", default=None, help="the tenant it acts for (default: the name)")
@click.option("--scope", type=click.Choice(SCOPES), default="write", show_default=True)
@click.option("--quiet", is_flag=True, help="print the key alone")
def create(name: str, tenant: str | None, scope: str, quiet: bool) -> None:
    tenant = tenant or name.lower()
    if not _TENANT.match(tenant):
        raise click.BadParameter("lower-case letters, digits and '-', up to 63", param_hint="--tenant")
    record, key = _store().create(tenant, name, scope)
    if quiet:
        click.echo(key)
        return
    click.echo(f"created key {record.id} for tenant {record.tenant!r} ({record.scope}); it is shown only now:")
    click.echo(key)


@keys.command("list")
@click.option("--tenant", default=None)
def list_keys(tenant: str | None) -> None:
    for k in _store().list(tenant):
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "live"
        click.echo(f"{k.id}  {k.prefix}…  {k.tenant:<20} {k.name:<20} {k.scope:<6} {state}")


@keys.command("revoke")
@click.argument("key_id", type=uuid.UUID)
def revoke(key_id: uuid.UUID) -> None:
    if not _store().revoke(key_id):
        raise click.ClickException(f"no live key {key_id}")
    kept = current_app.extensions["pixelflow"].settings.api_key_cache_seconds
    # Running API processes keep a key they looked up (app/auth.py): say how long the revoked one may still work.
    click.echo(f"revoked {key_id}" + (f" (running API processes refuse it within {kept:g} s)" if kept else ""))
