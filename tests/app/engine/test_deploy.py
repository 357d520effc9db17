"""Deployment: immutable versions, idempotent re-deploys, instances keep their version."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.assets.errors import AssetInvalid
from app.engine.deploy import deploy_directory, validate_directory
from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.runtime import start_instance
from app.engine.tasks import complete_task

ROOT = Path(__file__).resolve().parents[3]
NOTICE_DIR = ROOT / "bpmn" / "notice"
FORMS = {"notice/draft", "notice/review"}


def test_same_bytes_deploy_once(session, deploy):
    v1 = deploy("gateways.bpmn")
    again = deploy("gateways.bpmn")
    assert again.id == v1.id and v1.version == 1
    assert len(session.scalars(select(ProcessVersion)).all()) == 1


def test_running_instance_keeps_its_version(session, community, deploy, open_tasks):
    data = (NOTICE_DIR / "notice.bpmn").read_bytes()
    v1 = deploy(NOTICE_DIR / "notice.bpmn", module="notice")
    old = start_instance(session, "notice", community.id, "N-1")
    session.commit()
    [old_draft] = open_tasks(old.id)
    v2 = deploy(NOTICE_DIR / "notice.bpmn",
                data.replace("审核通知".encode(), "经理审核".encode()),
                module="notice")
    assert (v1.version, v2.version) == (1, 2)
    new = start_instance(session, "notice", community.id, "N-2")
    session.commit()
    assert (old.version_id, new.version_id) == (v1.id, v2.id)
    for inst, title in ((old, "审核通知"), (new, "经理审核")):
        [draft] = open_tasks(inst.id)
        complete_task(session, draft.id, {"title": "t", "body": "b"}, actor="front")
        [review] = open_tasks(inst.id)
        assert review.title == title
        complete_task(session, review.id, {"decision": "approve"}, actor="boss")
    session.commit()
    assert {i.status for i in session.scalars(select(ProcessInstance))} == {"completed"}


def test_deploy_directory_of_the_notice_module(session):
    [version] = deploy_directory(session, NOTICE_DIR, actor="admin", known_forms=FORMS)
    assert (version.process_id, version.module_id) == ("notice", "notice")
    assert validate_directory(NOTICE_DIR, known_forms=FORMS) == []


def test_notice_forms_exist_for_the_process():
    """The notice module ships the forms its BPMN names."""
    import yaml

    ids = {yaml.safe_load(p.read_text())["id"] for p in (ROOT / "forms" / "notice").glob("*.yaml")}
    assert ids == FORMS


def test_invalid_file_is_refused_with_every_error(session):
    with pytest.raises(AssetInvalid) as caught:
        deploy_directory(session, Path(__file__).parent / "fixtures", actor="x",
                         known_forms={"test/request"})
    assert any("unknown_refs.bpmn" in str(e) for e in caught.value.errors)
    assert session.scalars(select(ProcessVersion)).all() == []  # nothing half-deployed
