"""Password policy for every password a person sets or changes.

Hooked into Flask-AppBuilder as ``FAB_PASSWORD_COMPLEXITY_VALIDATOR``, which FAB applies to the
user add form, both reset-password forms (my password, an admin resetting someone's) and the
user API. Rules: at least ``password_min_length`` characters (default 10), not a well-known
password (``data/common_passwords.txt``, case-insensitive, also with trailing digits or
punctuation stripped), not one character repeated.

The demo seeding (``app/demo/seed.py``) creates its users through ``add_user``, which no policy
touches: the demo passwords ``demo1234``/``admin`` stay demo-only, printed at start-up.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import current_app, has_app_context
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext as _

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
DEFAULT_MIN_LENGTH = 10


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _min_length() -> int:
    if has_app_context():
        settings = current_app.config.get("ESTATEFLOW_SETTINGS")
        if settings is not None:
            return settings.password_min_length
    return DEFAULT_MIN_LENGTH


def problems(password: str) -> list[str]:
    """Why this password is refused (empty list: acceptable)."""
    password = password or ""
    found = []
    minimum = _min_length()
    if len(password) < minimum:
        found.append(_("The password must have at least %(n)d characters.", n=minimum))
    lowered = password.strip().lower()
    stem = lowered.rstrip("0123456789!@#$%^&*.?_-")
    listed = common_passwords()
    if lowered in listed or (stem and stem in listed and len(stem) >= 4):
        found.append(_("This password is too common; choose another one."))
    elif password and len(set(password)) == 1:
        found.append(_("The password must not be one character repeated."))
    return found


def validate_password(password: str) -> None:
    """``FAB_PASSWORD_COMPLEXITY_VALIDATOR``: raises FAB's error with the reasons."""
    found = problems(password)
    if found:
        raise PasswordComplexityValidationError(" ".join(found))
