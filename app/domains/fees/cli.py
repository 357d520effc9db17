"""Fees' commands for ``estateflow``: ``estateflow billing run --community YC --period 2026-11``."""
from __future__ import annotations

import sys

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": []})
@click.pass_context
def billing(ctx: click.Context) -> None:
    """Billing run: ``estateflow billing run --community YC --period 2026-11 [--preview]``."""
    from app.domains.fees.billing_cli import main as billing_main

    sys.exit(billing_main(list(ctx.args)) or 0)


COMMANDS = [billing]
