"""The navbar menu and permission answers are cached, and a role change shows at once."""
from __future__ import annotations

import re

from sqlalchemy import event


def _menu_links(html: str) -> set[str]:
    nav = html.split('<ul class="nav navbar-nav">', 1)[1].split("</ul>\n", 1)[0]
    return set(re.findall(r'href="(/[^"]*)"', nav))


def _statements(demo_app, client, path: str) -> list[str]:
    from app.db import db

    with demo_app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_repeated_page_asks_no_permission_query(demo_app, login):
    manager = login("manager_yc")
    manager.get("/")
    for path in ("/", "/inbox/"):
        assert not [s for s in _statements(demo_app, manager, path) if "ab_permission_view" in s]


def test_a_permission_taken_from_a_database_role_leaves_its_menu_at_once(demo_app, login):
    """A role an administrator made in the database (not one of the built-in ones): its menu and
    page follow its permissions on the next request, cache or not."""
    from app.db import db

    with demo_app.app_context():
        sm = demo_app.appbuilder.sm
        role = sm.add_role("Spot reader")
        pvm = sm.find_permission_view_menu("can_list", "AuditView")
        sm.add_permission_role(role, pvm)
        sm.add_user("spot", "Spot", "Reader", "spot@example.invalid", [role], password="spot-reader-pw-1")
        db.session.commit()
    reader = login("spot", "spot-reader-pw-1")
    assert "/audit/list/" in _menu_links(reader.get("/").get_data(as_text=True))
    assert reader.get("/audit/list/").status_code == 200

    with demo_app.app_context():
        sm = demo_app.appbuilder.sm
        sm.del_permission_role(sm.find_role("Spot reader"),
                                       sm.find_permission_view_menu("can_list", "AuditView"))
        db.session.commit()
    assert "/audit/list/" not in _menu_links(reader.get("/").get_data(as_text=True))
    assert reader.get("/audit/list/").status_code in (302, 403)
