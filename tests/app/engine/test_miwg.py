"""The public BPMN MIWG reference models (``../shared/conformance/miwg``, see its README).

None crashes or hangs validation; every finding names the file, an element id that is in
the file and a line inside that element; no finding speaks parser internals. Made
executable, the models that use only supported elements run to their end event (their
plain tasks pass through), on SQLite and PostgreSQL.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
from lxml import etree

import app.operations  # noqa: F401  registers the shipped operations
from app.engine.history import instance_history
from app.engine.operations import known_operations
from app.engine.validation import check_bpmn
from app.roles import KNOWN_ROLES

# beside the checkout (/work/main -> /work/shared), or two levels up from a worktree (/work/wt/<name>)
MIWG = next((p for p in (Path(__file__).parents[3] / ".." / "shared" / "conformance" / "miwg",
                         Path(__file__).parents[3] / ".." / ".." / "shared" / "conformance" / "miwg")
             if p.is_dir()), Path(__file__).parents[3] / ".." / "shared" / "conformance" / "miwg")
MODELS = sorted(p.name for p in MIWG.glob("*.bpmn"))
SECONDS = 10
NOT_ELEMENTS = {"xml", "file", "DOCTYPE"}  # findings about the file itself


def test_the_reference_models_are_there():
    assert len(MODELS) >= 30, f"expected the MIWG models in {MIWG.resolve()}"


@contextmanager
def _deadline(seconds: int):
    def _timeout(signum, frame):
        raise TimeoutError(f"validation took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _spans(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """element id -> (first line, last line of anything inside it) of each element with it
    (some tools reuse a process id for its diagram)."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    spans: dict[str, list[tuple[int, int]]] = {}
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id"):
            lines = [n.sourceline for n in node.iter() if n.sourceline]
            spans.setdefault(node.get("id"), []).append((node.sourceline, max(lines)))
    return spans


def _validate(data: bytes, name: str):
    with _deadline(SECONDS):
        return check_bpmn(data, name, {}, known_operations(), set(KNOWN_ROLES))


def _executable(data: bytes) -> bytes:
    return data.replace(b'isExecutable="false"', b'isExecutable="true"')


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("variant", ["as published", "made executable"])
def test_findings_name_real_elements_and_lines(name, variant):
    data = (MIWG / name).read_bytes()
    if variant == "made executable":
        data = _executable(data)
    found = _validate(data, name)
    assert found, "a drawing with plain tasks gets at least a warning"
    spans = _spans(data)
    for finding in found:
        assert finding.file == name
        if finding.element in NOT_ELEMENTS:
            continue
        assert finding.element in spans, f"{finding}: no element with this id"
        assert any(first <= finding.line <= last for first, last in spans[finding.element]), \
            f"{finding}: the element spans lines {spans[finding.element]}"
        text = str(finding).lower()
        for internal in ("spiff", "perhaps a form", "traceback", "/tmp", "task spec",
                         "cannot build"):
            assert internal not in text, finding


RUNNABLE = [name for name in MODELS
            if not [f for f in _validate(_executable((MIWG / name).read_bytes()), name)
                    if not f.is_warning]] if MIWG.is_dir() else []


def test_some_models_are_runnable_once_executable():
    assert {"ref_A.1.0.bpmn", "bpmnio_A.1.0-export.bpmn", "camecl_A.1.0-export.bpmn"} \
        <= set(RUNNABLE)


@pytest.mark.parametrize("name", RUNNABLE)
def test_runnable_models_run_to_their_end(session, community, name):
    from app.engine.deploy import deploy_process
    from app.engine.runtime import start_instance

    data = _executable((MIWG / name).read_bytes())
    version = deploy_process(session, name, data, "test", "consultant", set())
    session.commit()
    with _deadline(SECONDS):
        instance = start_instance(session, version.process_id, community.id)
    session.commit()
    assert instance.status == "completed"
    root = etree.fromstring(data)
    ends = {n.get("id") for n in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}endEvent")}
    done = set(instance_history(session, instance.id)["completed_elements"])
    assert ends & done, f"no end event among the completed elements {sorted(done)}"
