"""The module catalogue as the web app sees it: loaded once at start-up, errors logged."""
from __future__ import annotations

import logging

from flask import current_app

from app.modules.catalog import Catalog, load_catalog

log = logging.getLogger(__name__)


def init_catalog(app) -> Catalog:
    """Load menus/*.yaml; a broken entry is logged and skipped, the rest still load."""
    catalog = load_catalog(app.config["ESTATEFLOW_SETTINGS"].assets_dir)
    for error in catalog.errors:
        log.error("module asset: %s", error)
    app.extensions["estateflow_catalog"] = catalog
    return catalog


def get_catalog() -> Catalog:
    return current_app.extensions["estateflow_catalog"]
