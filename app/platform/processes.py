"""Starting processes and deploying a module's processes: the rules around the engine.

The engine runs any deployed process; this service adds the platform's rules:
a process of a module starts only in a community that has the module enabled, and
enabling a module deploys its shipped processes (idempotent: same content, same version).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.platform.discovery import load_operations

load_operations()  # registers every operation before validation
from app.engine import deploy_process, start_instance
from app.engine.models import ProcessInstance, ProcessVersion
from app.engine.runtime import latest_version
from app.modules.catalog import ModuleDef
from app.modules.models import ModuleActivation


class ProcessNotAllowed(Exception):
    """A process was asked for in a community where its module is not enabled."""

    def __init__(self, process_id: str, module_id: str | None):
        self.process_id = process_id
        self.module_id = module_id
        super().__init__(f"module {module_id!r} of process {process_id!r} is not enabled here")

    def message(self, locale: str) -> str:
        if locale.startswith("en"):
            return f"The module of this process ({self.module_id}) is not enabled for this community."
        return f"该流程所属模块（{self.module_id}）未在本小区启用。"


_ENABLED_MEMO = "estateflow.enabled_modules"


def enabled_modules(session: Session, community_id: int) -> frozenset[str]:
    """The modules on in a community. A page asks this for every tile and menu entry, so the
    answer is kept on the session until its next flush or the end of its transaction."""
    memo = session.info.setdefault(_ENABLED_MEMO, {})
    if community_id not in memo:
        memo[community_id] = frozenset(session.scalars(select(ModuleActivation.module_id).where(
            ModuleActivation.community_id == community_id, ModuleActivation.enabled.is_(True))))
    return memo[community_id]


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_transaction_end")
def _forget_enabled_modules(session, *_args) -> None:
    session.info.pop(_ENABLED_MEMO, None)


def module_enabled(session: Session, community_id: int, module_id: str | None) -> bool:
    """Whether a module is on in a community. A process with no module is on nowhere: every
    process belongs to a module and starts only where that module is enabled."""
    if module_id is None:
        return False
    return module_id in enabled_modules(session, community_id)


def community_version(session: Session, community_id: int, version: ProcessVersion) -> ProcessVersion:
    """The process version a community runs: the one deployed with the module version the
    community enabled (an uploaded package, or a revision made by a single process upload); for
    the version the installation ships, the one deployed from the installation's file. A newer
    module version reaches a community only when it is upgraded there."""
    from app.modules.packages import package_version

    if version.module_id is None:
        return version
    enabled_version = session.scalar(select(ModuleActivation.version).where(
        ModuleActivation.community_id == community_id, ModuleActivation.module_id == version.module_id))
    package = package_version(session, version.module_id, enabled_version)
    if package is not None:
        number = (package.processes or {}).get(version.process_id)
    else:
        number = _shipped_number(session, version)
    if number is None or number == version.version:
        return version
    return session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == version.process_id,
                                                       ProcessVersion.version == number)) or version


def _shipped_number(session: Session, version: ProcessVersion) -> int | None:
    """The version deployed from the installation's own file of this process, if it ships one."""
    from app.modules.packages import shipped_process_number
    from app.settings import get_settings

    path = _shipped_process_files(str(get_settings().assets_dir)).get(version.process_id)
    if path is None:
        return None
    return shipped_process_number(session, version.process_id, Path(path).read_bytes())


@lru_cache(maxsize=4)
def _shipped_process_files(root: str) -> dict[str, str]:
    """process id -> file of every process the installation's modules ship (read once)."""
    from app.modules.catalog import load_catalog
    from app.modules.packages import process_id_of

    out: dict[str, str] = {}
    for module in load_catalog(Path(root)).modules.values():
        for rel in module.processes:
            path = Path(root) / rel
            pid = process_id_of(path.read_bytes(), rel) if path.is_file() else None
            if pid:
                out[pid] = str(path)
    return out


def start_process(
    session: Session, *, community_id: int, process_id: str, actor: str,
    business_key: str | None = None, data: dict | None = None,
) -> ProcessInstance:
    """Start a process in a community where its module is on: the newest version, or for an
    uploaded package the version the community enabled."""
    version = latest_version(session, process_id)
    version = community_version(session, community_id, version)
    if not module_enabled(session, community_id, version.module_id):
        raise ProcessNotAllowed(process_id, version.module_id)
    return start_instance(session, process_id, community_id, business_key=business_key,
                          actor=actor, data=data, version=version)


# (community id, fingerprint) -> ids of the versions that community runs; see startable_processes
_STARTABLE: dict[tuple, list[int]] = {}


def startable_processes(session: Session, community_id: int) -> list[ProcessVersion]:
    """The version this community runs of every deployed process whose module is enabled here.

    It is on every resident home and process list, and working it out takes a few queries per
    process; the answer is kept per community under a fingerprint that any change to it moves
    (the community's activations, the newest process version, the newest package), so a
    request costs two small queries and one load of the versions it shows."""
    from app.modules.models import ModulePackage

    activations = tuple(sorted(session.execute(
        select(ModuleActivation.module_id, ModuleActivation.version, ModuleActivation.enabled)
        .where(ModuleActivation.community_id == community_id)).all()))
    newest_ids = session.execute(select(func.max(ProcessVersion.id),
                                        select(func.max(ModulePackage.id)).scalar_subquery())).one()
    key = (community_id, activations, tuple(newest_ids))
    ids = _STARTABLE.get(key)
    if ids is None:
        enabled = {module for module, _version, on in activations if on}
        newest: dict[str, ProcessVersion] = {}
        from app.studio.scratch import SCRATCH_PROCESS_PREFIX  # a studio test run's versions start nowhere

        for version in session.scalars(select(ProcessVersion).where(
                ProcessVersion.module_id.in_(enabled),
                ProcessVersion.process_id.not_like(f"{SCRATCH_PROCESS_PREFIX}%"))
                .order_by(ProcessVersion.version)):
            newest[version.process_id] = version
        ids = [community_version(session, community_id, v).id for v in newest.values()]
        if len(_STARTABLE) > 1000:
            _STARTABLE.clear()
        _STARTABLE[key] = ids
    by_id = {v.id: v for v in session.scalars(select(ProcessVersion).where(ProcessVersion.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def deploy_module_processes(
    session: Session, module: ModuleDef, assets_root: Path, known_forms: set[str], actor: str
) -> list[ProcessVersion]:
    """Deploy every process a module ships (unchanged files keep their version)."""
    from app.forms.versions import deploy_with_forms

    versions = []
    if module.package_id is not None:
        return versions  # an uploaded package's processes were deployed when it was uploaded
    for rel in module.processes:
        path = assets_root / rel
        version = deploy_with_forms(session, rel, path.read_bytes(), module.id, actor, known_forms,
                                    assets_root / "forms")
        versions.append(version)
    return versions


def deploy_on_enable(session: Session, community_id: int, module: ModuleDef, actor: str) -> None:
    """Module-activation hook: make sure the module's processes are deployed."""
    from app.forms.definitions import FormRegistry
    from app.settings import get_settings

    if module.package_id is not None:
        return  # deployed when the package was uploaded
    root = module.assets_root or get_settings().assets_dir
    deploy_module_processes(session, module, root, set(FormRegistry(root / "forms").ids()), actor)


def deploy_catalog(session: Session, catalog, actor: str = "system") -> list[ProcessVersion]:
    """Deploy the shipped processes of every valid module (start-up; idempotent)."""
    from app.forms.definitions import FormRegistry

    forms = set(FormRegistry(catalog.assets_root / "forms").ids())
    versions: list[ProcessVersion] = []
    for module in catalog.modules.values():
        versions.extend(deploy_module_processes(session, module, catalog.assets_root, forms, actor))
    return versions


def install_hooks() -> None:
    """Register the activation hooks once per process."""
    from app.modules import activation

    if deploy_on_enable not in activation.on_enable:
        activation.on_enable.append(deploy_on_enable)
    from app.engine import messages

    messages.version_for_community = community_version
