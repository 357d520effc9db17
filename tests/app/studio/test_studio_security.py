"""Only consultants and administrators use the studio: a manager and a regulator are refused
(403) on every studio route, read routes included, and nothing is written; a consultant and the
administrator get the list page."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.db import db
from app.studio.models import StudioDraft


def _studio_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/studio"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "notice", rule.rule)
        for method in sorted(set(rule.methods or ()) & {"GET", "POST"}):
            routes.append((method, path))
    return routes


@pytest.mark.parametrize("username", ["manager_yc", "regulator"])
def test_other_roles_are_refused_on_every_studio_route(demo_app, login, username):
    client = login(username)
    routes = _studio_routes(demo_app)
    assert len(routes) >= 12
    with demo_app.app_context():
        before = db.session.scalar(select(func.count()).select_from(StudioDraft))
    for method, path in routes:
        if method == "POST":
            response = client.post(path, json={"path": "menus/notice.yaml", "text": "x", "expression": "1"})
        else:
            response = client.get(path)
        assert response.status_code == 403, f"{method} {path} → {response.status_code}"
    with demo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StudioDraft)) == before


@pytest.mark.parametrize("username", ["consultant", "admin"])
def test_consultant_and_admin_open_the_studio(demo_app, login, username):
    response = login(username).get("/studio/")
    assert response.status_code == 200
    assert 'id="studio-new-form"' in response.text
