"""Engine test helpers: a community to run in, the forms the fixtures use, deploy()."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community, PropertyCompany

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]

FORMS = {
    "notice/draft", "notice/review", "test/request", "test/approve", "test/repair",
    "test/escalate", "test/check", "test/inner", "test/after",
}


@pytest.fixture
def community(session: Session) -> Community:
    company = PropertyCompany(name="和平物业")
    c = Community(company=company, code="HP-01", name="和平里小区")
    session.add_all([company, c])
    session.commit()
    return c


@pytest.fixture
def other_community(session: Session, community: Community) -> Community:
    c = Community(company_id=community.company_id, code="HP-02", name="安贞里小区")
    session.add(c)
    session.commit()
    return c


@pytest.fixture(autouse=True)
def _clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def deploy(session: Session):
    """Deploy a fixture (or any path) and commit; returns the ProcessVersion."""
    from app.engine.deploy import deploy_process

    def _deploy(name: str | Path, data: bytes | None = None, module: str = "test"):
        path = Path(name) if Path(name).is_absolute() else FIXTURES / name
        version = deploy_process(session, path.name, data or path.read_bytes(), module,
                                 "consultant", FORMS)
        session.commit()
        return version

    return _deploy


@pytest.fixture
def open_tasks(session: Session):
    """Open user-task rows of one instance, as (element_id, role) pairs, sorted."""
    from sqlalchemy import select

    from app.engine.models import OPEN_TASK, TaskRow

    def _open(instance_id: int) -> list:
        rows = session.scalars(select(TaskRow).where(
            TaskRow.instance_id == instance_id, TaskRow.status.in_(OPEN_TASK)).order_by(TaskRow.id))
        return list(rows)

    return _open
