"""Upload-time check of the expressions and scripts inside a BPMN file.

Gateway conditions, script tasks and timer expressions run in the restricted evaluator
(app/engine/evaluator.py). Whatever the evaluator refuses from the text alone (names and
attributes off the whitelist, syntax it does not run, and the size bounds of constant parts
such as ``Decimal('0.' + '9' * 8000) ** 2``) is reported here, when the model is uploaded,
as ``file:line: element: reason``, instead of as an incident of a running instance.
"""
from __future__ import annotations

from lxml import etree

from app.assets.errors import AssetError
from app.engine.evaluator import EvaluationError, validate_expression, validate_script

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_TIMERS = ("timeDuration", "timeDate", "timeCycle")


def _owner_id(node: etree._Element) -> str:
    current = node
    while current is not None:
        if current.get("id"):
            return current.get("id")
        current = current.getparent()
    return etree.QName(node).localname


def expression_errors(root: etree._Element, filename: str) -> list[AssetError]:
    """Static refusals of every condition, script and ``${...}`` timer expression."""
    errors: list[AssetError] = []

    def check(node: etree._Element, text: str, script: bool) -> None:
        try:
            (validate_script if script else validate_expression)(text)
        except EvaluationError as err:
            line = (node.sourceline or 1) + max((err.lineno or 1) - 1, 0) if script \
                else node.sourceline or 1
            errors.append(AssetError(filename, line, _owner_id(node), str(err)))

    for node in root.iter(f"{{{_BPMN_NS}}}conditionExpression"):
        text = (node.text or "").strip()
        if text:
            check(node, text, script=False)
    for task in root.iter(f"{{{_BPMN_NS}}}scriptTask"):
        for node in task.iterfind(f"{{{_BPMN_NS}}}script"):
            if (node.text or "").strip():
                check(node, node.text, script=True)
    for tag in _TIMERS:
        for node in root.iter(f"{{{_BPMN_NS}}}{tag}"):
            text = (node.text or "").strip()
            if text.startswith("${") and text.endswith("}"):
                check(node, text[2:-1], script=False)
    return errors
