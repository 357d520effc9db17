"""Loading and saving instance state, with the per-version spec cache.

Specs are parsed once per content hash and kept in memory (versions are
immutable). Saving is one ``UPDATE ... WHERE lock_version = :v``; zero rows
means someone else saved first, which raises :class:`ConcurrentUpdate`.
"""
from __future__ import annotations

import functools
import threading
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Integer, bindparam, insert, inspect, literal_column, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.engine import timebridge  # noqa: F401  (installs the platform clock for timers)
from app.engine.definitions import Definition, build_definition
from app.engine.errors import ConcurrentUpdate
from app.engine.evaluator import RestrictedScriptEngine
from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.serializer import dumps, loads
from app.engine.xmlsafe import parse_xml
from app.db import utcnow
from app.platform.models import AuditEvent

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


def cached_definition(content_hash: str) -> Definition | None:
    return _CACHE.get(content_hash)


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
    """Built once per column set: statement construction is a real cost per step.

    Core (table) statements: the ORM's bulk-update machinery adds nothing here and
    costs as much as the database round trip. Being the same object every time,
    the statement's cache key is memoized and its compiled form comes from the
    engine's compiled cache."""
    table = ProcessInstance.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("_id"), table.c.lock_version == bindparam("_expected"))
        .values({c: bindparam(c) for c in columns})
    )


_INSTANCE_COLUMNS = (
    "version_id", "process_id", "spec_hash", "community_id", "business_key", "status",
    "lock_version", "state", "projection", "error", "started_at", "started_by", "ended_at",
)
_INSERT_INSTANCE = (
    insert(ProcessInstance.__table__)
    .values({c: bindparam(c) for c in _INSTANCE_COLUMNS})
    .returning(ProcessInstance.__table__.c.id)
)


_BIND = {"mapper": ProcessInstance}


def connection(session: Session):
    """The session's connection (its current transaction) for the engine's Core statements.

    Executing Core DML on the connection skips ``Session.execute``'s per-call work, about
    half the cost of a small statement. Nothing is flushed implicitly: the engine calls
    ``session.flush()`` before it writes, where autoflush would have."""
    return session.connection(bind_arguments=_BIND)


def insert_instance(session: Session, instance: ProcessInstance, **changes) -> None:
    """INSERT a new (transient) instance with one statement and make it persistent.

    ``changes`` override the instance's attributes first. Afterwards the object is in
    the session exactly as if it had been loaded: no pending changes, no refresh."""
    for key, value in changes.items():
        setattr(instance, key, value)
    values = {c: getattr(instance, c) for c in _INSTANCE_COLUMNS}
    instance.id = connection(session).execute(_INSERT_INSTANCE, values).scalar_one()
    make_transient_to_detached(instance)
    session.add(instance)


_V = ProcessVersion.__table__
_I = ProcessInstance.__table__
_NEWEST_VERSION = (
    select(_V.c.id, _V.c.process_id, _V.c.content_hash)
    .where(_V.c.process_id == bindparam("_process_id"))
    .order_by(_V.c.version.desc())
    .limit(1)
)
# Start = INSERT ... SELECT: find the newest version and insert the instance in one
# statement (no version found: nothing inserted, no row returned).
_START_COLUMNS = ("version_id", "process_id", "spec_hash")
_START_PARAMS = ("community_id", "business_key", "status", "lock_version", "projection",
                 "started_at", "started_by")
_INSERT_NEWEST = (
    insert(_I)
    .from_select(
        [*_START_COLUMNS, *_START_PARAMS],
        _NEWEST_VERSION.add_columns(*(bindparam(c, type_=_I.c[c].type) for c in _START_PARAMS)),
    )
    .returning(_I.c.id, _I.c.version_id, _I.c.spec_hash,
               # the version number, for the audit row (SQLAlchemy does not correlate a
               # subquery inside RETURNING, hence the text; works on SQLite and PostgreSQL)
               literal_column("(SELECT wf_process_version.version FROM wf_process_version "
                              "WHERE wf_process_version.id = wf_instance.version_id)",
                              type_=Integer))
)


def insert_newest(session: Session, process_id: str, **values) -> tuple[ProcessInstance, int] | None:
    """INSERT an instance of the newest version of ``process_id`` (one statement).

    Returns the persistent instance and its version number, or None if nothing is deployed."""
    params = {"_process_id": process_id, **{c: values[c] for c in _START_PARAMS}}
    found = connection(session).execute(_INSERT_NEWEST, params).first()
    if found is None:
        return None
    instance_id, version_id, spec_hash, number = found
    instance = loaded_instance(session, {
        "id": instance_id, "version_id": version_id, "process_id": process_id,
        "spec_hash": spec_hash, "state": None, "error": None, "ended_at": None,
        **{c: values[c] for c in _START_PARAMS}})
    return instance, number


_INSTANCE_MANAGER = inspect(ProcessInstance).class_manager


def loaded_instance(session: Session, values: dict) -> ProcessInstance:
    """A persistent ProcessInstance holding ``values`` (every column), as if the ORM had
    just loaded the row: in the session, nothing pending, no SQL. (The ORM's loaders
    fill ``__dict__`` the same way; the constructor's per-attribute events would only
    be undone by ``make_transient_to_detached``.)"""
    instance = _INSTANCE_MANAGER.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def ensure_inserted(session: Session, instance: ProcessInstance) -> None:
    """Insert a starting instance now (state not yet saved) if rows must point at it."""
    if instance.id is None:
        insert_instance(session, instance)


def save_instance(
    session: Session,
    instance: ProcessInstance,
    wf: BpmnWorkflow,
    expected_version: int,
    **changes,
) -> None:
    """Write state and ``changes`` if nobody saved since ``expected_version``.

    An instance not yet in the database (a start that created no rows on its way)
    is written by one INSERT at ``expected_version + 1`` instead."""
    values = {"state": dumps(wf), "lock_version": expected_version + 1, **changes}
    if instance.id is None:
        insert_instance(session, instance, **values)
        return
    result = connection(session).execute(
        _save_statement(tuple(sorted(values))),
        {**values, "_id": instance.id, "_expected": expected_version},
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(instance.id, expected_version)
    for key, value in values.items():
        set_committed_value(instance, key, value)


# --------------------------------------------------------------------------------------------
# Audit rows, batched: the engine collects a step's audit events and writes them with one
# (executemany) INSERT in the caller's transaction — the same rows ``app.platform.audit.record``
# would add, in the same order.

_INSERT_AUDIT = insert(AuditEvent.__table__)


def audit_row(*, actor: str, action: str, target_type: str, target_id: Any = None,
              community_id: int | None = None, before: dict | None = None,
              after: dict | None = None) -> dict:
    """One audit event as :func:`app.platform.audit.record` would write it."""
    return {
        "community_id": community_id, "actor": actor, "action": action,
        "target_type": target_type,
        "target_id": target_id if target_id is None or target_id is THIS_INSTANCE else str(target_id),
        "before": before, "after": after, "at": utcnow(),
    }


class _ThisInstance:
    """``target_id`` placeholder for the instance a step is about to insert."""

    def __repr__(self) -> str:
        return "THIS_INSTANCE"


THIS_INSTANCE: Any = _ThisInstance()


def insert_audit(session: Session, rows: list[dict], instance_id: int | None = None) -> None:
    """Write collected audit rows with one statement (``THIS_INSTANCE`` -> ``instance_id``)."""
    if not rows:
        return
    for row in rows:
        if row["target_id"] is THIS_INSTANCE:
            row["target_id"] = str(instance_id)
    connection(session).execute(_INSERT_AUDIT, rows)
