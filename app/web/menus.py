"""The top menu grouped by what people do, and FAB's pages given our words.

Views register themselves under a category id (``Estate``, ``Fees``, ``Repair``, ``Safety``,
``Visitors`` …). After every view is registered, ``arrange`` puts the categories in the order
people look for them, moves the administration pages (users, roles, groups, the audit log,
processes and forms, rejected device messages) under FAB's ``Security`` category — shown as
系统设置 / Settings — and gives FAB's generated titles ("List Device") and code columns people's
words. Categories a new module adds keep their place before 系统设置.
"""
from __future__ import annotations

from flask_appbuilder.baseviews import BaseCRUDView
from flask_babel import lazy_gettext as _l

from app.localtime import local_format
from app.web.labels import code_label, code_label_list

ORDER = ["Work", "Estate", "Fees", "Repair", "Safety", "Visitors", "Energy", "Parking", "Inspection"]
SETTINGS = "Security"  # FAB's own category for users and roles, translated 系统设置
SETTINGS_ITEMS = ("audit", "processes", "rejected_device_messages")
CODE_COLUMNS = ("status", "state", "method", "kind", "action", "job", "channel", "mode", "outcome", "source",
                "target_type", "actor")


def arrange(appbuilder) -> None:
    menu = appbuilder.menu.menu
    by_name = {item.name: item for item in menu}
    settings = by_name.get(SETTINGS)
    if settings is not None:
        settings.label = _l("System settings")
        for category in list(menu):
            for child in list(category.childs or []):
                if child.name in SETTINGS_ITEMS and category is not settings:
                    category.childs.remove(child)
                    settings.childs.append(child)
        menu[:] = [c for c in menu if c.childs or c.baseview or c.href]
    rank = {name: i for i, name in enumerate(ORDER)}
    menu.sort(key=lambda c: (c.name == SETTINGS, rank.get(c.name, len(ORDER))))
    labels = {type(item.baseview): item.label for category in menu for item in category.childs or []
              if isinstance(item.baseview, BaseCRUDView)}
    for view in appbuilder.baseviews:
        if isinstance(view, BaseCRUDView):
            for shown in [view, *getattr(view, "_related_views", [])]:
                _polish(shown, labels.get(type(shown)))


def _is_datetime(view: BaseCRUDView, column: str) -> bool:
    try:
        return bool(view.datamodel.is_datetime(column))
    except Exception:  # noqa: BLE001 - a computed column (panel_link) has no type
        return False


def _polish(view: BaseCRUDView, label) -> None:
    """Titles from the menu label (not "List Household"); code columns shown as labels."""
    if label is not None and isinstance(view.list_title, str) and view.list_title.startswith("List "):
        view.list_title = view.title = label
        view.show_title = _l("%(name)s: details", name=label)
        view.add_title = _l("%(name)s: add", name=label)
        view.edit_title = _l("%(name)s: edit", name=label)
    columns = set(view.list_columns or []) | set(view.show_columns or [])
    formatters = dict(view.formatters_columns or {})
    for column in columns:
        if column in formatters:
            continue
        if column in CODE_COLUMNS:
            formatters[column] = code_label
        elif _is_datetime(view, column):
            formatters[column] = local_format  # one time format: local, minutes, no microseconds
    if "roles" in columns and "roles" not in formatters:
        formatters["roles"] = code_label_list
    if view.datamodel.obj.__name__ == "Role" and "name" not in formatters:
        formatters["name"] = code_label
    view.formatters_columns = formatters
