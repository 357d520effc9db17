"""A corpus of broken and hostile BPMN files: each gets exactly its findings.

``fixtures/broken/expected.yaml`` lists, per file, every ``file:line: element: reason``
validation must report — nothing more (no follow-on errors), nothing less. No file may
crash or hang validation; the ones validation accepts (warnings only) start without a
crash on both databases.
"""
from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

import app.operations  # noqa: F401  registers the shipped operations
from app.engine.operations import known_operations
from app.engine.validation import check_bpmn, validate_bpmn
from app.roles import KNOWN_ROLES

BROKEN = Path(__file__).parent / "fixtures" / "broken"
EXPECTED: dict[str, list[str]] = yaml.safe_load((BROKEN / "expected.yaml").read_text("utf-8"))
FORMS = {"test/request": {"note"}}
SECONDS = 10


@contextmanager
def _deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds``."""
    def _timeout(signum, frame):
        raise TimeoutError(f"validation took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _check(name: str):
    return check_bpmn((BROKEN / name).read_bytes(), name, FORMS, known_operations(),
                      set(KNOWN_ROLES))


def test_every_file_has_its_expectation():
    assert sorted(p.name for p in BROKEN.glob("*.bpmn")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_findings_are_exactly_the_expected_ones(name):
    began = time.monotonic()
    with _deadline(SECONDS):
        found = _check(name)
    assert time.monotonic() - began < SECONDS
    assert [str(f) for f in found] == EXPECTED[name]
    for finding in found:
        assert finding.file == name and finding.line >= 1 and finding.element
        text = str(finding).lower()
        for internal in ("spiff", "perhaps a form", "traceback", "/tmp", "task spec"):
            assert internal not in text, finding


def test_the_issue_examples_are_refused():
    refused = {name: validate_bpmn((BROKEN / name).read_bytes(), name, FORMS,
                                   known_operations(), set(KNOWN_ROLES))
               for name in ("condition_syntax.bpmn", "condition_import_only.bpmn",
                            "timer_PT2HOURS.bpmn", "timer_P3_days.bpmn",
                            "flow_to_missing_element.bpmn", "gateway_without_outgoing.bpmn",
                            "message_without_name.bpmn", "call_self.bpmn")}
    assert all(len(errors) == 1 for errors in refused.values()), refused


ACCEPTED = sorted(name for name, lines in EXPECTED.items()
                  if lines and all(": warning: " in line for line in lines))


def test_some_files_are_accepted_with_warnings_only():
    assert {"plain_task.bpmn", "manual_task.bpmn", "condition_unknown_name.bpmn"} <= set(ACCEPTED)


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_files_start_without_a_crash(session, community, name):
    from app.engine.deploy import deploy_process
    from app.engine.runtime import start_instance

    deploy_process(session, name, (BROKEN / name).read_bytes(), "test", "consultant",
                   set(FORMS))
    session.commit()
    process_id = "p"
    with _deadline(SECONDS):
        instance = start_instance(session, process_id, community.id, business_key="X-1")
    session.commit()
    assert instance.status in {"completed", "waiting", "incident"}
