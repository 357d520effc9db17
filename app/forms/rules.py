"""Visibility rules (``visible_if``): a tiny grammar, parsed once, evaluated on both sides.

A rule is ``<field>`` (truthy), ``<field> == <literal>`` or ``<field> != <literal>``,
combined with ``and``/``or``/``not`` and parentheses. Literals: quoted strings, numbers,
``true``/``false``/``null``. We parse it ourselves instead of handing it to ``eval``: a form
is an asset a consultant uploads, not trusted code. The parsed tree is plain JSON (numbers as
``{"number": "12.5"}``) so the browser evaluates exactly the same tree (static/forms/forms.js).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|\(|\))
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "true", "false", "null", "True", "False", "None"}


class RuleError(ValueError):
    """A ``visible_if`` text that does not parse."""


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "bad":
            raise RuleError(f"unexpected character {value!r}")
        tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise RuleError("unexpected end of rule")
        self.pos += 1
        return tok

    def parse(self) -> dict:
        if not self.tokens:
            raise RuleError("empty rule")
        node = self.or_expr()
        if self.peek() is not None:
            raise RuleError(f"unexpected {self.peek()[1]!r}")
        return node

    def or_expr(self) -> dict:
        items = [self.and_expr()]
        while self.peek() == ("name", "or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else {"or": items}

    def and_expr(self) -> dict:
        items = [self.not_expr()]
        while self.peek() == ("name", "and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else {"and": items}

    def not_expr(self) -> dict:
        if self.peek() == ("name", "not"):
            self.take()
            return {"not": self.not_expr()}
        return self.atom()

    def atom(self) -> dict:
        kind, value = self.take()
        if (kind, value) == ("op", "("):
            node = self.or_expr()
            if self.take() != ("op", ")"):
                raise RuleError("missing ')'")
            return node
        if kind != "name" or value in _KEYWORDS:
            raise RuleError(f"expected a field name, got {value!r}")
        nxt = self.peek()
        if nxt in (("op", "=="), ("op", "!=")):
            self.take()
            op = "eq" if nxt[1] == "==" else "ne"
            return {op: [value, self.literal()]}
        return {"field": value}

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "num":
            return {"number": value}
        if kind == "name" and value in ("true", "True"):
            return True
        if kind == "name" and value in ("false", "False"):
            return False
        if kind == "name" and value in ("null", "None"):
            return None
        raise RuleError(f"expected a literal (quoted text, number, true, false), got {value!r}")


def parse_rule(text: str) -> dict:
    """Parse a ``visible_if`` text into a JSON-ready tree; raises ``RuleError``."""
    if not isinstance(text, str):
        raise RuleError("rule must be text")
    return _Parser(text).parse()


def rule_fields(rule: dict) -> set[str]:
    """Names of the fields a rule reads."""
    if "field" in rule:
        return {rule["field"]}
    for op in ("eq", "ne"):
        if op in rule:
            return {rule[op][0]}
    if "not" in rule:
        return rule_fields(rule["not"])
    out: set[str] = set()
    for item in rule.get("and", []) + rule.get("or", []):
        out |= rule_fields(item)
    return out


_FALSE_WORDS = {"", "no", "false", "0", "off"}


def _absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _truthy(value: Any) -> bool:
    if _absent(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    if isinstance(value, (int, Decimal)):
        return value != 0
    return str(value).strip().lower() not in _FALSE_WORDS


def _equals(value: Any, literal: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_equals(v, literal) for v in value)
    if literal is None:
        return _absent(value)
    if _absent(value):
        return False
    if isinstance(literal, bool):
        return _truthy(value) == literal
    if isinstance(literal, dict):  # number
        try:
            return Decimal(str(value).strip()) == Decimal(literal["number"])
        except (InvalidOperation, ValueError):
            return False
    return str(value) == literal


def evaluate(rule: dict, values: dict[str, Any]) -> bool:
    """Evaluate a parsed rule on submitted values (strings or typed values, both work)."""
    if "field" in rule:
        return _truthy(values.get(rule["field"]))
    if "eq" in rule:
        name, literal = rule["eq"]
        return _equals(values.get(name), literal)
    if "ne" in rule:
        name, literal = rule["ne"]
        return not _equals(values.get(name), literal)
    if "not" in rule:
        return not evaluate(rule["not"], values)
    if "and" in rule:
        return all(evaluate(r, values) for r in rule["and"])
    if "or" in rule:
        return any(evaluate(r, values) for r in rule["or"])
    raise RuleError(f"bad rule node {rule!r}")
