"""Every reason the validator can word reads in Chinese on a zh page (``app.assets.translate``).

The reasons are collected from the source: each string or f-string that reaches
``AssetError(..., reason)`` or ``warning(..., reason)``, also through the helpers that forward a
``reason`` parameter (``self.error(node, reason)``), local variables and small wording functions.
A placeholder becomes a sample id (``7``), which is what a name, id or number looks like. A new
English reason without a Chinese pattern fails ``test_every_reason_reads_in_chinese``.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app.assets.translate import translate

ROOT = Path(__file__).resolve().parents[3] / "app"
SAMPLE = "7"
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|“[^”]*”|<[^>]*>|\{[^}]*\}")  # names and code
_ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;]+[A-Za-z]{2,})+")


def _files():
    for path in sorted(ROOT.rglob("*.py")):
        if "static" in path.parts:
            continue
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        return func.attr
    return None


def _reason_arg(call: ast.Call, index: int) -> ast.expr | None:
    if any(isinstance(a, ast.Starred) for a in call.args):  # AssetError(*where, reason)
        return call.args[-1] if not isinstance(call.args[-1], ast.Starred) else None
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == "reason"), None)


def _params(fn) -> list[str]:
    names = [a.arg for a in fn.args.args]
    return names[1:] if names and names[0] == "self" else names


def _functions(tree):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _sinks(trees) -> dict[str, int]:
    """Callables whose argument at an index becomes an AssetError reason."""
    sinks = {"AssetError": 3, "warning": 3}
    grown = True
    while grown:
        grown = False
        for _, tree in trees:
            for fn in _functions(tree):
                for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call)):
                    name = _call_name(call)
                    if name not in sinks:
                        continue
                    arg = _reason_arg(call, sinks[name])
                    if isinstance(arg, ast.Name) and arg.id in _params(fn) and fn.name not in sinks:
                        sinks[fn.name] = _params(fn).index(arg.id)
                        grown = True
    return sinks


def _samples(node, fn, module_functions, depth=0) -> list[str]:
    """The reason texts an expression can produce, placeholders as SAMPLE ([] when dynamic)."""
    if depth > 4 or node is None:
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else SAMPLE for v in node.values)]
    if isinstance(node, ast.IfExp):
        return (_samples(node.body, fn, module_functions, depth + 1)
                + _samples(node.orelse, fn, module_functions, depth + 1))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _samples(node.left, fn, module_functions, depth + 1)
        right = _samples(node.right, fn, module_functions, depth + 1)
        return [a + b for a in left for b in right]
    if isinstance(node, ast.Name) and fn is not None:
        found = []
        for assign in (a for a in ast.walk(fn) if isinstance(a, ast.Assign)):
            if any(isinstance(t, ast.Name) and t.id == node.id for t in assign.targets):
                found += _samples(assign.value, fn, module_functions, depth + 1)
        return found
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in module_functions:
        helper = module_functions[node.func.id]
        return [s for r in ast.walk(helper) if isinstance(r, ast.Return)
                for s in _samples(r.value, helper, module_functions, depth + 1)]
    return []


def reason_templates() -> dict[str, str]:
    """Sample reason -> where it is worded (``file:line``)."""
    trees = list(_files())
    sinks = _sinks(trees)
    found: dict[str, str] = {}
    for path, tree in trees:
        module_functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
        for fn in [None, *_functions(tree)]:
            scope = tree if fn is None else fn
            for call in (c for c in ast.walk(scope) if isinstance(c, ast.Call)):
                name = _call_name(call)
                if name not in sinks:
                    continue
                for sample in _samples(_reason_arg(call, sinks[name]), fn, module_functions):
                    found.setdefault(sample, f"{path.relative_to(ROOT.parent)}:{call.lineno}")
    # wording tables the reasons splice in (hints after "; ", the engine's own words)
    from app.engine import validation
    for hint in validation._HINTS.values():
        found.setdefault(hint, "app/engine/validation.py:_HINTS")
    for _, reason in validation._SPIFF_WORDING:
        found.setdefault(reason, "app/engine/validation.py:_SPIFF_WORDING")
    return found


def english_left(text: str) -> str | None:
    """The first run of two or more English words outside quotes and code, if any."""
    match = _ENGLISH.search(_QUOTED.sub("", text))
    return match.group(0) if match else None


def test_the_collector_finds_the_reasons():
    found = reason_templates()
    assert len(found) > 120
    assert "unknown key" in found
    assert f"unknown form '{SAMPLE}'" in found                      # f-string through AssetError
    assert "condition is empty; write one such as decision == 'approve' or remove the condition element" \
        in found or any(s.startswith("condition is empty") for s in found)   # through self.error


def test_every_reason_reads_in_chinese():
    missing = []
    for sample, where in sorted(reason_templates().items(), key=lambda kv: kv[1]):
        zh = translate(sample, "zh")
        left = english_left(zh)
        if left:
            missing.append(f"{where}: {sample!r} -> {zh!r} (English left: {left!r})")
    assert not missing, f"{len(missing)} reasons without a Chinese pattern:\n" + "\n".join(missing)


def test_a_new_english_reason_fails():
    assert english_left(translate("the frobnicator is not wired to the gateway", "zh"))


@pytest.mark.parametrize("reason", ["unknown key", f"unknown form '{SAMPLE}'"])
def test_english_pages_keep_the_english_reason(reason):
    assert translate(reason, "en") == reason


BROKEN = ROOT.parent / "tests" / "app" / "engine" / "fixtures" / "broken"
_LINE = re.compile(r"^[^:]+:\d+: [^:]+: (.*)$")


def _broken_reasons() -> list[str]:
    """The real reasons (element words, names and the expression checker's words filled in) the
    broken-BPMN corpus expects, as ``estateflow validate`` prints them."""
    import yaml
    expected = yaml.safe_load((BROKEN / "expected.yaml").read_text("utf-8"))
    return sorted({m[1] for lines in expected.values() for line in lines if (m := _LINE.match(line))})


def test_the_broken_corpus_reads_in_chinese():
    reasons = _broken_reasons()
    assert len(reasons) > 40
    missing = [f"{r!r} -> {translate(r, 'zh')!r}" for r in reasons if english_left(translate(r, "zh"))]
    assert not missing, f"{len(missing)} corpus reasons with English left:\n" + "\n".join(missing)


@pytest.mark.parametrize("text", ["a: b: c\n", "a: 'x\n", "a:\n\t- b\n", "- a\nb: c\n", "a: [1, 2\n"])
def test_common_yaml_syntax_errors_read_in_chinese(text):
    from app.assets.errors import AssetInvalid
    from app.assets.yaml_lines import load_yaml_text

    with pytest.raises(AssetInvalid) as err:
        load_yaml_text(text, "x.yaml")
    zh = translate(err.value.errors[0].reason, "zh")
    assert zh.startswith("YAML 语法错误") and not english_left(zh), zh
