"""Module assets as the web app sees them: catalogue and forms, loaded at start-up."""
from __future__ import annotations

import logging

from flask import current_app

from app.forms.definitions import FormRegistry
from app.modules.catalog import Catalog, load_catalog

log = logging.getLogger(__name__)


def init_catalog(app) -> Catalog:
    """Load menus/*.yaml and forms/**; a broken entry is logged and skipped."""
    root = app.config["ESTATEFLOW_SETTINGS"].assets_dir
    catalog = load_catalog(root)
    forms = FormRegistry(root / "forms")
    for error in [*catalog.errors, *forms.errors]:
        log.error("module asset: %s", error)
    app.extensions["estateflow_catalog"] = catalog
    app.extensions["estateflow_forms"] = forms
    return catalog


def get_catalog() -> Catalog:
    """The installation's modules plus the uploaded module packages (newest version each)."""
    from app.db import db
    from app.modules.packages import with_packages

    return with_packages(db.session, current_app.extensions["estateflow_catalog"])


def get_forms() -> FormRegistry:
    return current_app.extensions["estateflow_forms"]
