"""Repair categories and their SLA, skills and limits: read from the module's data, never coded.

* The categories are the choices of the ``category`` field of ``forms/repair/report.yaml``.
* A category's response limit is the setting ``response_minutes_<category>`` when the menu
  declares one, else ``response_minutes``; its resolution limit ``resolution_hours_<category>``,
  else ``resolution_hours_other``.
* The skill it needs comes from the setting ``skills_by_category`` (``"plumbing: plumbing;
  lift: lift"``); a category not listed can go to any technician.

So a consultant adds a category and changes an SLA in YAML only (menus/repair.yaml and the
report form), and a manager tunes them per community in the module settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.forms.definitions import FormRegistry, localized
from app.modules.catalog import Catalog, ModuleDef, load_catalog
from app.modules.models import ModuleActivation
from app.modules.settings_schema import settings_from_json
from app.settings import get_settings

MODULE_ID = "repair"
REPORT_FORM = "repair/report"


@lru_cache(maxsize=4)
def _catalog(root: Path) -> Catalog:
    return load_catalog(root)


@lru_cache(maxsize=4)
def _forms(root: Path) -> FormRegistry:
    return FormRegistry(root / "forms")


def clear_cache() -> None:
    """Forget loaded assets (tests that edit a copy of the assets call this)."""
    _catalog.cache_clear()
    _forms.cache_clear()


def _root() -> Path:
    return Path(get_settings().assets_dir).resolve()


def module_def() -> ModuleDef:
    module = _catalog(_root()).get(MODULE_ID)
    if module is None:
        raise LookupError("the repair module's menu entry (menus/repair.yaml) is missing or invalid")
    return module


def report_form():
    return _forms(_root()).get(REPORT_FORM)


@dataclass(frozen=True)
class Category:
    id: str
    label: dict[str, str]

    def title(self, locale: str = "zh") -> str:
        return localized(self.label, locale)


def categories() -> list[Category]:
    field = report_form().field("category")
    return [Category(c.value, dict(c.label)) for c in field.choices]


def category_label(category: str, locale: str = "zh") -> str:
    for c in categories():
        if c.id == category:
            return c.title(locale)
    return category


def choice_label(form_id: str, field: str, value: Any, locale: str = "zh") -> str:
    """The label of a choice value of any repair form (e.g. the preferred time)."""
    try:
        fdef = _forms(_root()).get(form_id).field(field)
    except KeyError:
        return "" if value is None else str(value)
    for c in fdef.choices:
        if c.value == value:
            return localized(c.label, locale)
    return "" if value is None else str(value)


def community_settings(session: Session, community_id: int) -> dict[str, Any]:
    """Typed settings of the repair module for a community (menu defaults fill the gaps)."""
    module = module_def()
    stored = session.scalar(select(ModuleActivation.settings).where(
        ModuleActivation.community_id == community_id, ModuleActivation.module_id == MODULE_ID))
    return settings_from_json(module, stored)


def parse_skill_map(text: str | None) -> dict[str, str]:
    """``"plumbing: plumbing; roof_leak: plumbing"`` → {category: skill}; ``=`` works too."""
    mapping: dict[str, str] = {}
    for part in (text or "").replace(",", ";").split(";"):
        sep = ":" if ":" in part else "="
        if sep not in part:
            continue
        category, skill = (p.strip() for p in part.split(sep, 1))
        if category and skill:
            mapping[category] = skill
    return mapping


def required_skill(settings: dict[str, Any], category: str) -> str | None:
    return parse_skill_map(settings.get("skills_by_category")).get(category)


def response_minutes(settings: dict[str, Any], category: str) -> int:
    return int(settings.get(f"response_minutes_{category}") or settings.get("response_minutes") or 30)


def resolution_hours(settings: dict[str, Any], category: str) -> int:
    return int(settings.get(f"resolution_hours_{category}") or settings.get("resolution_hours_other") or 48)


def _iso(at: datetime) -> str:
    return at.replace(tzinfo=timezone.utc).isoformat()


def sla_plan(settings: dict[str, Any], category: str, start: datetime) -> dict[str, Any]:
    """Deadlines from ``start`` (naive UTC): datetimes for the order, ISO texts for BPMN timers.

    ``remind_due`` (remind the technician), ``response_due`` (escalate to the manager),
    ``company_due`` (escalate to the company), ``resolution_due`` (resolution overdue).
    """
    response = timedelta(minutes=response_minutes(settings, category))
    remind = max(timedelta(0), response - timedelta(minutes=int(settings.get("remind_before_minutes") or 0)))
    company = response + timedelta(minutes=int(settings.get("escalate_company_after_minutes") or 60))
    resolution = timedelta(hours=resolution_hours(settings, category))
    at = {
        "remind_due": start + remind,
        "response_due": start + response,
        "company_due": start + company,
        "resolution_due": start + resolution,
    }
    days = int(settings.get("reopen_days") or 0)
    return {
        "at": at,
        "timers": {**{k: _iso(v) for k, v in at.items()},
                   "reopen_window": f"P{days}D" if days > 0 else "PT1M"},
    }
