from decimal import Decimal

import pytest

from app.forms.rules import RuleError, evaluate, parse_rule, rule_fields


def test_equality_and_truthiness_combined():
    rule = parse_rule("decision == 'decline' and (count != 3 or not urgent)")
    assert rule_fields(rule) == {"decision", "count", "urgent"}
    assert evaluate(rule, {"decision": "decline", "count": "4", "urgent": "yes"})
    assert evaluate(rule, {"decision": "decline", "count": Decimal("3"), "urgent": False})
    assert not evaluate(rule, {"decision": "decline", "count": "3.0", "urgent": True})
    assert not evaluate(rule, {"decision": "accept", "count": "4"})


def test_yes_no_and_multi_choice_values():
    assert evaluate(parse_rule("paid"), {"paid": "yes"})
    assert not evaluate(parse_rule("paid"), {"paid": "no"})
    assert evaluate(parse_rule("paid == true"), {"paid": True})
    assert evaluate(parse_rule("tags == 'urgent'"), {"tags": ["repeat", "urgent"]})
    assert evaluate(parse_rule("note == null"), {})


@pytest.mark.parametrize("text", ["", "a ==", "a = 1", "(a", "a == b", "1", "__import__('os')"])
def test_unparseable_rules_are_refused(text):
    with pytest.raises(RuleError):
        parse_rule(text)
