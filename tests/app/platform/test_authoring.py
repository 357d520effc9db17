"""A single BPMN upload is a new version of its module: it never reaches every community at
once (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.engine.models import ProcessInstance, ProcessVersion
from app.modules.activation import enable_module, module_states, upgrade_module
from app.modules.catalog import load_catalog
from app.modules.models import ModulePackage
from app.modules.packages import with_packages
from app.platform.authoring import upload_process
from app.platform.processes import deploy_catalog, start_process
from app.settings import PROJECT_ROOT

NOTICE = (PROJECT_ROOT / "bpmn/notice/notice.bpmn").read_bytes()
CHANGED = NOTICE.replace("name=\"起草通知".encode(), b'name="Draft the notice', 1)


@pytest.fixture
def estate(session, two_communities):
    catalog = _catalog(session)
    deploy_catalog(session, catalog, actor="init")  # as `estateflow init` does
    for cid in two_communities:
        enable_module(session, catalog=catalog, community_id=cid, module_id="notice", actor="admin")
    session.commit()
    return two_communities


def _catalog(session):
    return with_packages(session, load_catalog(PROJECT_ROOT))


def _upload(session, data, name="notice.bpmn", forms=None):
    result = upload_process(session, bpmn_name=name, bpmn_data=data, forms=forms or {}, module_id="notice",
                            actor="consultant")
    assert result.errors == []
    session.commit()
    return result


def _running(session, cid, key):
    instance = start_process(session, community_id=cid, process_id="notice", actor="m", business_key=key)
    session.commit()
    return session.get(ProcessVersion, instance.version_id).version


def test_an_upload_to_a_shipped_module_reaches_a_community_only_when_it_upgrades(session, estate):
    yc, hx = estate
    assert _running(session, yc, "OLD") == 1
    result = _upload(session, CHANGED)
    assert (result.module_version, result.version.version) == ("1.0.1", 2)
    # every community still runs the shipped process, also after a restart redeploys the installation
    deploy_catalog(session, load_catalog(PROJECT_ROOT), actor="init")
    session.commit()
    assert session.scalar(select(func.count()).select_from(ProcessVersion)
                          .where(ProcessVersion.process_id == "notice")) == 2
    assert (_running(session, yc, "A"), _running(session, hx, "B")) == (1, 1)

    catalog = _catalog(session)
    state = {s.module.id: s for s in module_states(session, catalog, yc)}["notice"]
    assert (state.version, state.module.version) == ("1.0.0", "1.0.1")
    assert [c["en"] for c in state.upgrade_changes] == ["process notice changed"]
    upgrade_module(session, catalog=catalog, community_id=yc, module_id="notice", actor="manager_yc")
    session.commit()
    assert (_running(session, yc, "C"), _running(session, hx, "D")) == (2, 1)
    old = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == "OLD"))
    assert session.get(ProcessVersion, old.version_id).version == 1  # running instances keep theirs


def test_each_upload_is_the_next_version_and_the_same_bytes_change_nothing(session, estate):
    _upload(session, CHANGED)
    assert _upload(session, CHANGED).module_version == "1.0.1"  # identical: nothing new
    again = CHANGED.replace(b'name="Draft the notice', b'name="Draft the community notice', 1)
    assert _upload(session, again).module_version == "1.0.2"
    extra = NOTICE.replace(b'<bpmn:process id="notice"', b'<bpmn:process id="notice_followup"', 1)
    added = _upload(session, extra, name="followup.bpmn")
    assert (added.module_version, added.version.process_id) == ("1.0.3", "notice_followup")
    rows = {r.version: r for r in session.scalars(select(ModulePackage).where(ModulePackage.module_id == "notice"))}
    assert sorted(rows) == ["1.0.1", "1.0.2", "1.0.3"]
    newest = rows["1.0.3"]
    assert newest.processes == {"notice": 3, "notice_followup": 1}
    assert "bpmn/notice/followup.bpmn" in newest.files["menus/notice.yaml"]
    assert 'version: "1.0.3"' in newest.files["menus/notice.yaml"]
    assert _catalog(session).get("notice").processes == ("bpmn/notice/notice.bpmn", "bpmn/notice/followup.bpmn")


def test_an_upload_that_breaks_the_module_stores_nothing(session, estate):
    broken = CHANGED.replace(b'camunda:formKey="notice/review"', b'camunda:formKey="notice/nope"')
    result = upload_process(session, bpmn_name="notice.bpmn", bpmn_data=broken, forms={}, module_id="notice",
                            actor="consultant")
    assert any("unknown form 'notice/nope'" in str(e) for e in result.errors)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ModulePackage)) == 0
