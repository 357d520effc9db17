"""Estate commands for ``estateflow``: ``estateflow resident link --household YC-1-101 --login son_yc``
lets a family member's login act for an elderly resident's household (it keeps its own)."""
from __future__ import annotations

import click


@click.group()
def resident() -> None:
    """Resident logins and the households they act for."""


@resident.command("link")
@click.option("--household", "household_code", required=True, help="Household code, e.g. YC-1-101.")
@click.option("--login", "username", required=True, help="The family member's login name.")
@click.option("--name", default="", help="The family member's name (default: the login's name).")
@click.option("--relation", default="family", show_default=True)
def link(household_code: str, username: str, name: str, relation: str) -> None:
    """Link a login to one more household; on the resident home it then picks which one it acts for."""
    from flask_appbuilder.security.sqla.models import User
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from app.domains.estate.models import Household
    from app.domains.estate.residents import households_of_user, link_login
    from app.settings import get_settings

    engine = create_engine(get_settings().database_url)
    try:
        with Session(engine) as session:
            household = session.scalar(select(Household).where(Household.code == household_code))
            if household is None:
                raise click.ClickException(f"no household {household_code}")
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no login {username}")
            if not any(role.name == "Resident" for role in user.roles):
                raise click.ClickException(f"{username} is not a resident login")
            link_login(session, household=household, user_id=user.id,
                       name=name or f"{user.first_name}{user.last_name}".strip("-") or username, relation=relation)
            session.commit()
            codes = [h.code for h in households_of_user(session, user.id)]
    finally:
        engine.dispose()
    click.echo(f"{username} acts for: {', '.join(codes)}")


COMMANDS = [resident]
