"""Validation names file, line and element for every problem, and refuses unsafe XML."""
from __future__ import annotations

from pathlib import Path

from app.engine.validation import validate_bpmn
from app.roles import KNOWN_ROLES

FIXTURES = Path(__file__).parent / "fixtures"
OPS = {"notify.log", "data.set"}
FORMS = {"test/request", "test/approve"}


def _check(data: bytes, name: str = "x.bpmn", forms=FORMS, ops=OPS):
    return validate_bpmn(data, name, set(forms), set(ops), set(KNOWN_ROLES))


def test_valid_file_has_no_errors():
    assert _check((FIXTURES / "gateways.bpmn").read_bytes()) == []


def test_malformed_xml_names_file_and_line():
    data = b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n<bpmn:process id="p">\n</bpmn:definitions>\n'
    [error] = _check(data, "broken.bpmn")
    assert error.file == "broken.bpmn" and error.line == 4
    assert "malformed XML" in error.reason
    assert str(error).startswith("broken.bpmn:4: ")


def test_unknown_form_role_operation_and_element_are_named():
    errors = _check((FIXTURES / "unknown_refs.bpmn").read_bytes(), "unknown_refs.bpmn")
    by_element = {(e.element, e.reason) for e in errors}
    assert ("ask", "unknown form 'nowhere/form'") in by_element
    assert ("ask", "unknown role 'janitor'") in by_element
    assert ("call", "unknown operation 'no.such.op'") in by_element
    assert any(e == "decide" and "does not run 'businessRuleTask'" in r for e, r in by_element)
    lines = {e.element: e.line for e in errors}
    assert lines["ask"] == 5 and lines["call"] == 6


def test_java_only_camunda_extensions_are_refused():
    data = (FIXTURES / "gateways.bpmn").read_bytes().replace(
        b'<bpmn:userTask id="request" name="Request purchase" camunda:formKey="test/request" />',
        b'<bpmn:userTask id="request" camunda:formKey="test/request"><bpmn:extensionElements>'
        b'<camunda:taskListener class="com.acme.Listener" event="create" />'
        b'</bpmn:extensionElements></bpmn:userTask>')
    [error] = _check(data)
    assert error.element == "request" and "camunda:taskListener" in error.reason


def test_xxe_is_refused_before_parsing():
    data = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&xxe;</bpmn:definitions>"""
    [error] = _check(data, "evil.bpmn")
    assert (error.file, error.line, error.element) == ("evil.bpmn", 2, "DOCTYPE")
    assert "root:" not in error.reason


def test_billion_laughs_is_refused():
    lol = b"".join(b'<!ENTITY lol%d "&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;">\n' % (i, i - 1, i - 1, i - 1, i - 1, i - 1)
                   for i in range(1, 10))
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 "lol">\n' + lol +
            b']>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol9;</bpmn:definitions>')
    [error] = _check(data)
    assert error.element == "DOCTYPE"


def test_oversized_file_is_refused(monkeypatch):
    from app.settings import get_settings

    monkeypatch.setattr(get_settings(), "bpmn_max_bytes", 100)
    [error] = _check((FIXTURES / "gateways.bpmn").read_bytes())
    assert "larger than 100 bytes" in error.reason


def test_service_task_without_operation_and_user_task_without_role():
    data = (FIXTURES / "gateways.bpmn").read_bytes().replace(
        b'<bpmn:flowNodeRef>request</bpmn:flowNodeRef>', b'').replace(
        b'<bpmn:scriptTask id="auto" scriptFormat="python"><bpmn:script>route = \'small\'</bpmn:script></bpmn:scriptTask>',
        b'<bpmn:serviceTask id="auto" />')
    reasons = {(e.element, e.reason.split(" (")[0]) for e in _check(data)}
    assert ("request", "user task has no role") in reasons
    assert ("auto", "service task has no operation") in reasons


def test_spiff_structural_errors_are_reported():
    data = (FIXTURES / "gateways.bpmn").read_bytes().replace(
        b'<bpmn:sequenceFlow id="f9" sourceRef="auto" targetRef="end_small" />',
        b'<bpmn:sequenceFlow id="f9" sourceRef="auto" targetRef="nowhere" />')
    errors = _check(data)
    assert errors and errors[0].file == "x.bpmn"
