"""Loading and saving instance state, with the per-version spec cache.

Specs are parsed once per content hash and kept in memory (versions are
immutable). Saving is one ``UPDATE ... WHERE lock_version = :v``; zero rows
means someone else saved first, which raises :class:`ConcurrentUpdate`.
"""
from __future__ import annotations

import functools
import threading

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.engine import timebridge  # noqa: F401  (installs the platform clock for timers)
from app.engine.definitions import Definition, build_definition
from app.engine.errors import ConcurrentUpdate
from app.engine.evaluator import RestrictedScriptEngine
from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.serializer import dumps, loads
from app.engine.xmlsafe import parse_xml

_CACHE: dict[str, Definition] = {}
_LOCK = threading.Lock()
_SCRIPT_ENGINE: RestrictedScriptEngine | None = None


def script_engine() -> RestrictedScriptEngine:
    """One restricted engine for every workflow (it holds no per-instance state)."""
    global _SCRIPT_ENGINE
    if _SCRIPT_ENGINE is None:
        _SCRIPT_ENGINE = RestrictedScriptEngine()
    return _SCRIPT_ENGINE


def definition_of(version: ProcessVersion) -> Definition:
    """The parsed definition of a version, cached by content hash."""
    found = _CACHE.get(version.content_hash)
    if found is not None:
        return found
    with _LOCK:
        found = _CACHE.get(version.content_hash)
        if found is None:
            tree, errors = parse_xml(version.bpmn.encode("utf-8"), version.filename)
            if tree is None:
                raise ValueError(f"stored version {version!r} does not parse: {errors}")
            found = build_definition(tree, version.filename)
            _CACHE[version.content_hash] = found
    return found


def remember_definition(content_hash: str, definition: Definition) -> None:
    _CACHE.setdefault(content_hash, definition)


def new_workflow(definition: Definition) -> BpmnWorkflow:
    return BpmnWorkflow(
        definition.spec, definition.subprocess_specs, script_engine=script_engine()
    )


def definition_for_instance(session: Session, instance: ProcessInstance) -> Definition:
    """The instance carries its version's content hash: a cache hit costs no query."""
    found = _CACHE.get(instance.spec_hash)
    if found is not None:
        return found
    return definition_of(session.get(ProcessVersion, instance.version_id))


def load_workflow(session: Session, instance: ProcessInstance) -> tuple[BpmnWorkflow, Definition]:
    definition = definition_for_instance(session, instance)
    wf = loads(instance.state, definition.spec, definition.subprocess_specs, script_engine())
    return wf, definition


@functools.lru_cache(maxsize=64)
def _save_statement(columns: tuple[str, ...]):
    """Built once per column set: statement construction is a real cost per step."""
    return (
        update(ProcessInstance)
        .where(ProcessInstance.id == bindparam("_id"),
               ProcessInstance.lock_version == bindparam("_expected"))
        .values({c: bindparam(c) for c in columns})
    )


def save_instance(
    session: Session,
    instance: ProcessInstance,
    wf: BpmnWorkflow,
    expected_version: int,
    **changes,
) -> None:
    """Write state and ``changes`` if nobody saved since ``expected_version``."""
    values = {"state": dumps(wf), "lock_version": expected_version + 1, **changes}
    result = session.execute(
        _save_statement(tuple(sorted(values))),
        {**values, "_id": instance.id, "_expected": expected_version},
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(instance.id, expected_version)
    for key, value in values.items():
        set_committed_value(instance, key, value)
