"""Studio test runs: a draft's process in the scratch community, step by step, and its saved
test cases replayed on upload. Real engine, real SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from app import clock
from app.domains.estate.models import Community, Household
from app.engine.models import Incident, ProcessInstance, ProcessVersion, TaskRow, TimerRow
from app.modules.models import ModuleActivation, ModulePackage
from app.modules.packages import check_package, read_folder, upload_package
from app.platform.models import AuditEvent
from app.studio import testcases, testrun
from app.studio.scratch import SCRATCH_COMMUNITY_CODE, SCRATCH_PROCESS_PREFIX

FIXTURE = Path(__file__).parent / "fixtures" / "trial"
PROCESS = "bpmn/trial/request.bpmn"


@pytest.fixture(autouse=True)
def _clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def files() -> dict[str, str]:
    return {p: d.decode("utf-8") for p, d in read_folder(FIXTURE).items()}


def _start(session, files, **kw):
    run = testrun.start_run(session, files, PROCESS, module_id="trial", actor="consultant", **kw)
    session.commit()
    return run


def _task(session, run, element):
    found = [t for t in testrun.run_state(session, run)["tasks"] if t["element"] == element]
    assert found, testrun.run_state(session, run)["tasks"]
    return found[0]


def _complete(session, run, element, role, data):
    errors = testrun.complete_run_task(session, run, _task(session, run, element)["id"], role, data,
                                       "consultant")
    session.commit()
    return errors


def _counts(session, community_ids):
    """Rows that belong to these communities, per table."""
    return {
        "instances": session.scalar(select(func.count()).select_from(ProcessInstance)
                                    .where(ProcessInstance.community_id.in_(community_ids))),
        "tasks": session.scalar(select(func.count()).select_from(TaskRow)
                                .where(TaskRow.community_id.in_(community_ids))),
        "audit": session.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.community_id.in_(community_ids))),
        "activations": session.scalar(select(func.count()).select_from(ModuleActivation)
                                      .where(ModuleActivation.community_id.in_(community_ids))),
        "households": session.scalar(select(func.count()).select_from(Household)
                                     .where(Household.community_id.in_(community_ids))),
        "incidents": session.scalar(select(func.count()).select_from(Incident)
                                    .where(Incident.community_id.in_(community_ids))),
    }


def test_small_amount_takes_the_default_branch(session, files):
    run = _start(session, files)
    state = testrun.run_state(session, run)
    assert state["status"] == "waiting"
    assert state["path"] == ["start", "load_settings"]
    ask = _task(session, run, "ask")
    assert ask["role"] == "resident" and ask["form_id"] == "trial/ask"
    assert _complete(session, run, "ask", "resident", {"amount": "120", "reason": "a key"}) == {}
    state = testrun.run_state(session, run)
    assert state["status"] == "completed"
    assert state["path"] == ["start", "load_settings", "ask", "size", "record", "done"]
    steps = state["steps"]
    assert [(s["action"], s["element"], s["role"]) for s in steps] == [
        ("start", "start", None), ("task", "ask", "resident")]
    assert steps[1]["data_in"] == {"amount": 120, "reason": "a key"}
    assert steps[1]["data_after"]["recorded"] == "yes"
    assert steps[1]["data_after"]["limit_yuan"] == 500  # the draft's settings default
    assert steps[0]["data_after"]["household_id"] is not None  # sample data


def test_large_amount_goes_to_the_manager_and_forms_validate(session, files):
    run = _start(session, files)
    errors = _complete(session, run, "ask", "resident", {"amount": "lots", "reason": ""})
    assert set(errors) == {"amount", "reason"}  # the form refuses, as on the task page
    assert testrun.run_state(session, run)["path"] == ["start", "load_settings"]
    with pytest.raises(testrun.TestRunError, match="for role 'resident'"):
        _complete(session, run, "ask", "manager", {"amount": "900", "reason": "door"})
    session.rollback()
    assert _complete(session, run, "ask", "resident", {"amount": "900", "reason": "door"}) == {}
    state = testrun.run_state(session, run)
    assert [t["element"] for t in state["tasks"]] == ["approve"]
    assert state["tasks"][0]["role"] == "manager"
    assert [t["element"] for t in state["timers"]] == ["reminder"]
    assert _complete(session, run, "approve", "manager", {"approved": "yes"}) == {}
    state = testrun.run_state(session, run)
    assert state["status"] == "completed"
    assert state["path"] == ["start", "load_settings", "ask", "size", "approve", "record", "done"]
    assert state["steps"][-1]["data_after"]["approved"] is True


def test_a_timer_fires_on_demand_and_only_the_runs(session, files, two_communities, deploy_real):
    real = deploy_real()
    due_before = session.get(TimerRow, real).due_at
    run = _start(session, files)
    _complete(session, run, "ask", "resident", {"amount": "900", "reason": "door"})
    timer = testrun.run_state(session, run)["timers"][0]
    assert timer["element"] == "reminder"
    testrun.fire_run_timer(session, run, timer["id"])
    session.commit()
    state = testrun.run_state(session, run)
    assert state["path"][-2:] == ["reminder", "note_late"]
    assert [t["element"] for t in state["tasks"]] == ["approve"]  # back to the manager
    assert run.clock_offset_s >= 2 * 24 * 3600 - 5  # the run's clock moved on two days
    # the new reminder is two days after the run's time, not the platform's
    again = session.get(TimerRow, state["timers"][0]["id"])
    assert again.due_at > clock.now() + timedelta(days=3, hours=23)
    assert state["steps"][-1]["action"] == "timer"
    # the real community's timer, due in one day, was not fired
    row = session.get(TimerRow, real)
    assert row.status == "pending" and row.due_at == due_before


@pytest.fixture
def deploy_real(session, two_communities, files):
    """A published process with a timer (due in one day) waiting in a real community (YC);
    returns its timer row id."""
    def _deploy():
        from app.engine.deploy import deploy_process
        from app.engine.runtime import start_instance
        from app.engine.tasks import complete_task
        from app.platform.module_settings import draft_modules

        data = files[PROCESS].encode().replace(b"P2D", b"P1D")
        version = deploy_process(session, "request.bpmn", data, "trial", "consultant",
                                 {"trial/ask", "trial/approve"})
        session.add(ModuleActivation(community_id=two_communities[0], module_id="trial", version="1.0.0",
                                     settings={}))
        with draft_modules({"trial": testrun.draft_module(files, "trial")}):
            instance = start_instance(session, version.process_id, two_communities[0],
                                      data={"applicant": "a"}, version=version)
            task = session.scalar(select(TaskRow).where(TaskRow.instance_id == instance.id))
            complete_task(session, task.id, {"amount": 900, "reason": "x"}, "a")
        session.commit()
        return session.scalar(select(TimerRow.id).where(TimerRow.instance_id == instance.id))
    return _deploy


def test_nothing_is_written_to_real_communities(session, files, two_communities):
    real = list(two_communities)
    before = _counts(session, real)
    versions_before = set(session.scalars(select(ProcessVersion.process_id)))
    run = _start(session, files)
    _complete(session, run, "ask", "resident", {"amount": "900", "reason": "door"})
    testrun.fire_run_timer(session, run, testrun.run_state(session, run)["timers"][0]["id"])
    _complete(session, run, "approve", "manager", {"approved": "no"})
    session.commit()
    assert _counts(session, real) == before
    scratch = session.scalar(select(Community).where(Community.code == SCRATCH_COMMUNITY_CODE))
    assert run.community_id == scratch.id and scratch.id not in real
    assert _counts(session, [scratch.id])["households"] == 4  # the sample data
    # the draft's process is a scratch version, never the real process id
    new = set(session.scalars(select(ProcessVersion.process_id))) - versions_before
    assert new == {f"{SCRATCH_PROCESS_PREFIX}trial_request"}
    assert session.scalar(select(func.count()).select_from(ProcessVersion)
                          .where(ProcessVersion.process_id == "trial_request")) == 0
    # a real community that enables the module does not get the scratch process to start
    from app.platform.processes import startable_processes

    session.add(ModuleActivation(community_id=real[0], module_id="trial", version="1.0.0", settings={}))
    session.commit()
    assert startable_processes(session, real[0]) == []
    # a second run reuses the scratch community and the scratch version of the same text
    again = _start(session, files)
    assert again.community_id == scratch.id
    assert session.scalar(select(func.count()).select_from(Community)
                          .where(Community.code == SCRATCH_COMMUNITY_CODE)) == 1


def test_a_broken_process_does_not_start(session, files):
    files[PROCESS] = files[PROCESS].replace('camunda:formKey="trial/approve"', 'camunda:formKey="trial/nope"')
    with pytest.raises(testrun.TestRunError) as err:
        testrun.start_run(session, files, PROCESS, module_id="trial", actor="consultant")
    assert any(f.element == "approve" and "trial/nope" in f.reason for f in err.value.findings)
    with pytest.raises(testrun.TestRunError, match="no process bpmn/trial/other.bpmn"):
        testrun.start_run(session, files, "bpmn/trial/other.bpmn", module_id="trial", actor="consultant")


def _saved_case(session, files) -> tuple[str, str]:
    run = _start(session, files)
    _complete(session, run, "ask", "resident", {"amount": "900", "reason": "door"})
    testrun.fire_run_timer(session, run, testrun.run_state(session, run)["timers"][0]["id"])
    _complete(session, run, "approve", "manager", {"approved": "yes"})
    session.commit()
    path = testcases.case_path("trial", testcases.slug("Large amount"))
    return path, testcases.case_from_run(session, run, "Large amount")


def test_a_saved_test_case_replays_on_upload(session, files):
    path, text = _saved_case(session, files)
    assert path == "tests/trial/large_amount.yaml"
    doc = yaml.safe_load(text)
    assert [next(iter(s)) for s in doc["steps"]] == ["task", "timer", "task"]
    assert doc["steps"][0] == {"task": "ask", "role": "resident", "data": {"amount": 900, "reason": "door"}}
    assert doc["expect"]["status"] == "completed"
    assert doc["expect"]["path"][-3:] == ["approve", "record", "done"]
    package = {p: t.encode() for p, t in files.items()} | {path: text.encode()}
    scratch_before = session.scalar(select(func.count()).select_from(ProcessInstance))
    result = upload_package(session, package, actor="consultant")
    assert result.errors == [], [str(e) for e in result.errors]
    session.commit()
    stored = session.scalar(select(ModulePackage).where(ModulePackage.module_id == "trial"))
    assert path in stored.files
    # the replay left nothing behind
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == scratch_before


def test_a_changed_process_that_breaks_a_test_case_is_refused(session, files):
    path, text = _saved_case(session, files)
    package = {p: t.encode() for p, t in files.items()} | {path: text.encode()}
    # the gateway now sends 900 down the small branch: the path differs
    changed = dict(package)
    changed[PROCESS] = package[PROCESS].replace(b"amount &gt;= limit_yuan", b"amount &gt;= 10 * limit_yuan")
    result = upload_package(session, changed, actor="consultant")
    assert result.package is None
    [finding] = [e for e in result.errors if e.file == path]
    assert finding.reason.startswith("step 2 (timer reminder): no such timer is waiting; the run is completed")
    assert finding.element == "steps[1]" and finding.line == next(i for i, l in enumerate(text.splitlines(), 1) if "timer: reminder" in l)
    # a form with a new required field refuses the saved data at that step
    stricter = dict(package)
    stricter["forms/trial/ask.yaml"] = package["forms/trial/ask.yaml"] + (
        b"  - name: phone\n    type: text\n    label: {zh: \xe7\x94\xb5\xe8\xaf\x9d, en: Phone}\n    required: true\n")
    result = upload_package(session, stricter, actor="consultant")
    [finding] = [e for e in result.errors if e.file == path]
    assert "step 1 (task ask)" in finding.reason and "phone" in finding.reason
    # an expectation that no longer holds names it
    wrong = dict(package)
    wrong[path] = text.replace("status: completed", "status: waiting").encode()
    found = check_package(wrong, session=session).errors
    assert [(e.file, e.element) for e in found] == [(path, "expect.status")]
    assert "the run ended completed, the test case expects waiting" in found[0].reason
    assert session.scalar(select(func.count()).select_from(ModulePackage)) == 0


def test_a_malformed_test_case_names_its_line(session, files):
    package = {p: t.encode() for p, t in files.items()}
    package["tests/trial/bad.yaml"] = b"process: bpmn/trial/request.bpmn\nsteps:\n  - {task: ask, timer: x}\nexpect: {}\n"
    package["tests/other/x.yaml"] = b"process: bpmn/trial/request.bpmn\nsteps: []\nexpect: {}\n"
    errors = check_package(package).errors
    shown = [str(e) for e in errors]
    assert "tests/trial/bad.yaml:3: steps[0]: a step names one element: task: <id>, timer: <id> or retry: <id>" in shown
    assert any(e.file == "tests/other/x.yaml" and "put it under tests/trial/" in e.reason for e in errors)


def test_a_failing_operation_is_an_incident_of_the_run_with_retry(session, files):
    """Without its menu entry the draft has no settings: ``module.settings`` fails at run time."""
    del files["menus/trial.yaml"]
    run = _start(session, files)
    state = testrun.run_state(session, run)
    assert state["status"] == "incident"
    [incident] = state["incidents"]
    assert incident["element"] == "load_settings" and "trial" in incident["error"]
    assert "load_settings" in state["active"]
    testrun.retry_run_incident(session, run, incident["id"], "consultant")
    session.commit()
    state = testrun.run_state(session, run)
    assert [s["action"] for s in state["steps"]] == ["start", "retry"]
    assert state["status"] == "incident" and state["incidents"][0]["element"] == "load_settings"
    with pytest.raises(testrun.TestRunError, match="is not open in this run"):
        testrun.retry_run_incident(session, run, incident["id"] + 999, "consultant")
