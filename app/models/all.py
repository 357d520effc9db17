"""Import every module that declares tables, so ``Model.metadata`` is complete.

Alembic, ``estateflow init`` and the tests call ``import_all_models()``; a package that
adds tables adds its import here (one place, not scattered side-effect imports).
"""
from __future__ import annotations

from sqlalchemy import MetaData


def import_all_models() -> MetaData:
    import flask_appbuilder.security.sqla.models  # noqa: F401  (ab_user, ab_role, ...)

    import app.models  # noqa: F401
    import app.models.uploads  # noqa: F401
    import connectors.models  # noqa: F401  (meter_reading, device_error, device_command)
    import app.engine.models  # noqa: F401  (wf_* engine tables)
    from app.db import Model

    return Model.metadata
