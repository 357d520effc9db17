"""Our Flask-AppBuilder security manager: menu entries follow view permissions.

FAB shows a menu entry only with a separate ``menu_access`` permission. Roles here are
declared as (view, permission) regexes, so a menu entry is shown exactly when the user
may open the view behind it (a category when any of its entries is shown): one source
of truth, no second list of menu names to keep in sync.
"""
from __future__ import annotations

from flask_appbuilder.security.sqla.manager import SecurityManager


class EstateflowSecurityManager(SecurityManager):
    def has_access(self, permission_name: str, view_name: str) -> bool:
        if permission_name == "menu_access":
            item = self._find_menu_item(view_name)
            if item is not None:
                return self._menu_item_visible(item)
        return super().has_access(permission_name, view_name)

    def _find_menu_item(self, name: str, items=None):
        items = self.appbuilder.menu.get_list() if items is None else items
        for item in items:
            if item.name == name:
                return item
            if item.childs:
                found = self._find_menu_item(name, item.childs)
                if found is not None:
                    return found
        return None

    def _menu_item_visible(self, item) -> bool:
        if item.childs:
            return any(self._menu_item_visible(child) for child in item.childs if child.name != "-")
        view = item.baseview
        if view is None:
            return super().has_access("menu_access", item.name)
        return super().has_access(f"can_{view.default_view}", view.class_permission_name)
