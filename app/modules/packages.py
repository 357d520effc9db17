"""Module packages: a consultant's whole module (menu entry, BPMN, forms, notification
templates, device profiles) as one upload, validated as one unit and stored in the database.

A package is a set of files under these package-relative paths::

    menus/<id>.yaml                    the menu entry (exactly one; its ``version`` is the
                                       package's semantic version)
    bpmn/<id>/*.bpmn                   the processes (each listed under ``processes:``)
    forms/<id>/*.yaml                  the forms (each listed under ``forms:``)
    forms/<id>/checklists/*.yaml       patrol checklists, optional (checked by the validator the
                                       inspection domain registers; points may then use them)
    menus/notifications/<id>.yaml      notification templates (keys ``<id>.*``), optional
    connectors/profiles/*.yaml         device profiles, optional
    tests/<id>/*.yaml                  test cases saved from studio test runs, optional (each is
                                       replayed on upload; one that no longer passes refuses it)

It arrives as a zip, as the files of a multi-file picker, or as a folder (``estateflow
module``). ``check_package`` validates everything against the installation's forms,
operations and roles plus the package's own files, in a scratch folder that is removed
afterwards; ``upload_package`` stores a valid package (all or nothing), deploys its
processes under the module id and pins its forms. The same module id and version with other
content is refused: versions are immutable. Nothing is ever written into the installation.
"""
from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assets.errors import AssetError
from app.modules.catalog import Catalog, ModuleDef, load_catalog
from app.modules.catalog import _parse as _parse_menu
from app.modules.models import ModulePackage

#: At most this many files and bytes in one package (zip bombs, accidents).
MAX_FILES = 200
MAX_TOTAL_BYTES = 20 * 1024 * 1024

_NAME = r"[a-z0-9][a-z0-9_\-]{0,79}"
_PATTERNS = {
    "menu": re.compile(rf"^menus/(?P<id>{_NAME})\.yaml$"),
    "notifications": re.compile(rf"^menus/notifications/(?P<id>{_NAME})\.yaml$"),
    "bpmn": re.compile(rf"^bpmn/(?P<id>{_NAME})/{_NAME}\.bpmn$"),
    "form": re.compile(rf"^forms/(?P<id>{_NAME})/{_NAME}\.yaml$"),
    "checklist": re.compile(rf"^forms/(?P<id>{_NAME})/checklists/{_NAME}\.yaml$"),
    "profile": re.compile(rf"^connectors/profiles/{_NAME}\.yaml$"),
    "test": re.compile(rf"^tests/(?P<id>{_NAME})/{_NAME}\.yaml$"),
}
_FOLDERS = {"form": "forms", "test": "tests"}  # kind -> its top folder, where they differ
_TOP = ("menus", "bpmn", "forms", "connectors", "tests")
_LAYOUT = ("menus/<id>.yaml, bpmn/<id>/*.bpmn, forms/<id>/*.yaml, forms/<id>/checklists/*.yaml, "
           "menus/notifications/<id>.yaml, connectors/profiles/*.yaml or tests/<id>/*.yaml")


def _semver(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


def content_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode("utf-8") + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()


# --------------------------------------------------------------------------- reading


def _kind(path: str) -> str | None:
    for kind, pattern in _PATTERNS.items():
        if pattern.match(path):
            return kind
    return None


def _clean(name: str) -> str | None:
    """A safe package-relative POSIX path (no absolute paths, no '..', no hidden parts)."""
    name = name.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("..", ".", "") or p.startswith(".") for p in parts):
        return None
    return "/".join(parts)


def _strip_to_layout(name: str) -> str:
    """``lift_inspection/menus/x.yaml`` → ``menus/x.yaml`` (a zip or picker with a top folder)."""
    parts = name.split("/")
    for i, part in enumerate(parts):
        if part in _TOP:
            return "/".join(parts[i:])
    return name


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every package file under ``folder`` (other files are ignored)."""
    folder = Path(folder)
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in (".yaml", ".yml", ".bpmn"):
            continue
        rel = path.relative_to(folder).as_posix()
        if rel.split("/")[0] in _TOP:
            files[rel] = path.read_bytes()
    return files


def read_zip(data: bytes, name: str = "package.zip") -> tuple[dict[str, bytes], list[AssetError]]:
    """The files of a zipped package; a single top folder is allowed and dropped."""
    errors: list[AssetError] = []
    files: dict[str, bytes] = {}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return {}, [AssetError(name, 0, "file", "not a zip file")]
    entries = [i for i in archive.infolist() if not i.is_dir()]
    if len(entries) > MAX_FILES:
        return {}, [AssetError(name, 0, "file", f"more than {MAX_FILES} files")]
    if sum(i.file_size for i in entries) > MAX_TOTAL_BYTES:
        return {}, [AssetError(name, 0, "file", f"larger than {MAX_TOTAL_BYTES} bytes unpacked")]
    for info in entries:
        rel = _clean(info.filename)
        if rel is None:
            errors.append(AssetError(f"{name}/{info.filename}", 0, "file",
                                     "unsafe path in the zip (absolute, '..' or hidden)"))
            continue
        if PurePosixPath(rel).name.startswith("._") or rel.startswith("__MACOSX/"):
            continue
        files[_strip_to_layout(rel)] = archive.read(info)
    return files, errors


def _guess_path(name: str, data: bytes) -> str:
    """Where a bare file name from a multi-file picker belongs, judged by its content."""
    import yaml

    base = PurePosixPath(name).name
    if base.endswith(".bpmn"):
        return f"bpmn/?/{base}"
    try:
        doc = yaml.safe_load(data.decode("utf-8"))
    except Exception:
        return base
    if isinstance(doc, dict):
        if isinstance(doc.get("id"), str) and "/" in doc["id"] and "fields" in doc:
            return f"forms/{doc['id']}.yaml"
        if {"id", "version", "category"} <= set(doc):
            return f"menus/{base}"
        if "protocol" in doc or "capabilities" in doc:
            return f"connectors/profiles/{base}"
        if doc and all(isinstance(v, dict) and "title" in v for v in doc.values()):
            return f"menus/notifications/{base}"
    return base


def read_uploads(uploads: list[tuple[str, bytes]]) -> tuple[dict[str, bytes], list[AssetError]]:
    """Files from a form post: one zip, or the files of a folder or multi-file picker.

    Names with folders (``menus/x.yaml``, ``pkg/forms/x/y.yaml``) keep their place; bare names
    are placed by content (a menu entry, a form by its id, a BPMN file beside the menu's id).
    """
    files: dict[str, bytes] = {}
    errors: list[AssetError] = []
    for name, data in uploads:
        if name.endswith(".zip"):
            zipped, errs = read_zip(data, name)
            files.update(zipped)
            errors.extend(errs)
            continue
        rel = _clean(name)
        if rel is None:
            errors.append(AssetError(name, 0, "file", "unsafe file name"))
            continue
        rel = _strip_to_layout(rel)
        if "/" not in rel:
            rel = _guess_path(rel, data)
        files[rel] = data
    menus = [p for p in files if _kind(p) == "menu"]
    if len(menus) == 1:
        module_id = PurePosixPath(menus[0]).stem
        files = {(p.replace("bpmn/?/", f"bpmn/{module_id}/", 1) if p.startswith("bpmn/?/") else p): d
                 for p, d in files.items()}
    return files, errors


def pack_folder(folder: Path) -> bytes:
    """A zip of the package files under ``folder`` (what ``estateflow module pack`` writes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, data in sorted(read_folder(folder).items()):
            info = zipfile.ZipInfo(rel, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


# --------------------------------------------------------------------------- checking


@dataclass
class PackageCheck:
    errors: list[AssetError] = field(default_factory=list)
    #: findings that do not refuse the package (pass-through tasks, names nothing provides, ...)
    warnings: list[AssetError] = field(default_factory=list)
    module: ModuleDef | None = None
    module_id: str | None = None
    version: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    content_hash: str = ""
    processes: dict[str, str] = field(default_factory=dict)  # bpmn path -> process id
    forms: dict[str, str] = field(default_factory=dict)  # form id -> YAML text
    menu_version_line: int = 1


def _installation_root() -> Path:
    from app.settings import get_settings

    return get_settings().assets_dir


def stored_packages(session: Session | None) -> list[ModulePackage]:
    """The newest stored version of every uploaded module."""
    if session is None:
        return []
    newest: dict[str, ModulePackage] = {}
    for row in session.scalars(select(ModulePackage).order_by(ModulePackage.id)):
        if row.module_id not in newest or _semver(row.version) > _semver(newest[row.module_id].version):
            newest[row.module_id] = row
    return list(newest.values())


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _process_owners(session: Session | None, process_ids: set[str]) -> dict[str, set[str | None]]:
    if session is None or not process_ids:
        return {}
    from app.engine.models import ProcessVersion

    owners: dict[str, set[str | None]] = {}
    for pid, mid in session.execute(select(ProcessVersion.process_id, ProcessVersion.module_id)
                                    .where(ProcessVersion.process_id.in_(sorted(process_ids)))
                                    .distinct()):
        owners.setdefault(pid, set()).add(mid)
    return owners


def check_package(
    files: dict[str, bytes], *, session: Session | None = None, installation: Path | None = None,
    shipped: Catalog | None = None, display_prefix: str = "", require_menu: bool = True,
    revision_of_shipped: bool = False,
) -> PackageCheck:
    """Validate a package as one unit; every problem as ``file:line: element: reason``.

    Checked against the installation's forms, operations and roles, the modules of the
    installation and those uploaded earlier (``session``), plus the package's own files.
    ``display_prefix`` is put before every file name in the errors (the consultant's folder).
    """
    from app.platform.discovery import load_operations

    load_operations()
    from app.engine.operations import known_operations
    from app.engine.validation import check_bpmn
    from app.forms.definitions import FormRegistry, validate_form_file
    from app.roles import KNOWN_ROLES
    from app.settings import get_settings

    result = PackageCheck(files=dict(files))
    errors = result.errors
    installation = Path(installation or _installation_root())
    shipped = shipped if shipped is not None else load_catalog(installation)
    limit = get_settings().bpmn_max_bytes

    kinds: dict[str, str] = {}
    for rel, data in sorted(files.items()):
        kind = _kind(rel)
        if kind is None:
            errors.append(AssetError(rel, 0, "file", f"not part of a module package (expected {_LAYOUT})"))
        elif len(data) > limit:
            errors.append(AssetError(rel, 0, "file", f"larger than {limit} bytes"))
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                errors.append(AssetError(rel, 0, "file", "not UTF-8 text"))
                continue
            kinds[rel] = kind
    if len(files) > MAX_FILES:
        errors.append(AssetError("package", 0, "file", f"more than {MAX_FILES} files"))

    menus = sorted(p for p, k in kinds.items() if k == "menu")
    module_id = None
    if len(menus) == 1:
        module_id = PurePosixPath(menus[0]).stem
    elif len(menus) > 1:
        for extra in menus[1:]:
            errors.append(AssetError(extra, 0, "file",
                                     f"a package carries one module; {menus[0]} is already its menu entry"))
        module_id = PurePosixPath(menus[0]).stem
    elif require_menu:
        errors.append(AssetError("menus/<id>.yaml", 0, "file",
                                 "the package has no menu entry (menus/<id>.yaml)"))
    else:  # a folder of processes and forms only: its module is the folder name under bpmn/forms
        owners = {_PATTERNS[k].match(p).group("id") for p, k in kinds.items() if k in ("bpmn", "form")}
        module_id = owners.pop() if len(owners) == 1 else None
    result.module_id = module_id

    if module_id:
        for rel, kind in kinds.items():
            if kind in ("bpmn", "form", "checklist", "notifications", "test"):
                owner = _PATTERNS[kind].match(rel).group("id")
                if owner != module_id:
                    errors.append(AssetError(rel, 0, "file",
                                             f"belongs to module {owner!r}, but this package is module "
                                             f"{module_id!r} (put it under {_FOLDERS.get(kind, kind)}/"
                                             f"{module_id}/)" if kind != "notifications" else
                                             f"notification templates of this package go in "
                                             f"menus/notifications/{module_id}.yaml"))
        if not revision_of_shipped and (module_id in shipped.modules
                                        or (installation / "menus" / f"{module_id}.yaml").exists()):
            line = _key_line(files[menus[0]], "id") if menus else 0
            errors.append(AssetError(menus[0] if menus else "package", line, "id",
                                     f"module {module_id!r} ships with the installation; a package cannot "
                                     "replace it (choose another module id)"))

    scratch = Path(tempfile.mkdtemp(prefix="ef-package-"))
    try:
        # forms: the installation's, those of packages uploaded earlier, then the package's own
        if (installation / "forms").is_dir():
            shutil.copytree(installation / "forms", scratch / "forms", dirs_exist_ok=True)
        for row in stored_packages(session):
            if row.module_id == module_id:
                continue
            _write_tree(scratch, {p: t.encode("utf-8") for p, t in row.files.items() if p.startswith("forms/")})
        if module_id and (scratch / "forms" / module_id).is_dir():
            shutil.rmtree(scratch / "forms" / module_id)  # the package's forms replace older ones
        _write_tree(scratch, {p: files[p] for p in kinds})
        (scratch / "forms").mkdir(exist_ok=True)

        form_paths = sorted(p for p, k in kinds.items() if k == "form")
        for rel in form_paths:
            errors.extend(validate_form_file(scratch / rel, scratch / "forms"))
            result.forms[rel[len("forms/"):-len(".yaml")]] = files[rel].decode("utf-8")
        registry = FormRegistry(scratch / "forms")
        known_forms = {form_id: {f.name for f in registry.get(form_id).fields} for form_id in registry.ids()}

        module = None
        if menus:
            module, menu_errors = _parse_menu(scratch / menus[0], scratch)
            errors.extend(menu_errors)
            if module is not None:
                result.version = module.version
                errors.extend(_cross_check(module, menus[0], files[menus[0]], kinds, shipped, session))
        result.module = module

        bpmn_paths = sorted(p for p, k in kinds.items() if k == "bpmn")
        good_bpmn = []
        for rel in bpmn_paths:
            found = check_bpmn(files[rel], rel, known_forms, known_operations(), set(KNOWN_ROLES))
            errors.extend(found)
            if not any(not e.is_warning for e in found):
                good_bpmn.append(rel)
        _check_process_ids(result, good_bpmn, module_id, session)
        errors[:] = _cross_file_calls(files, bpmn_paths, errors)

        from app.domains.notifications.delivery import validate_template_file
        from connectors.profiles import validate_profile_file

        for rel, kind in kinds.items():
            if kind == "notifications":
                errors.extend(validate_template_file(scratch / rel))
                errors.extend(_check_template_keys(rel, files[rel], module_id))
            elif kind == "checklist":
                errors.extend(_check_checklist(scratch, rel, installation, session, module_id))
            elif kind == "profile":
                errors.extend(validate_profile_file(scratch / rel))
                if (installation / rel).is_file():
                    errors.append(AssetError(rel, 1, "name", f"device profile {PurePosixPath(rel).stem!r} ships "
                                             "with the installation; a package adds new device models only "
                                             "(choose another name)"))
            elif kind == "test":
                from app.studio.testcases import parse_case

                errors.extend(parse_case(files[rel].decode("utf-8"), rel)[1])
        tests = [p for p, k in kinds.items() if k == "test"]
        if tests and session is not None and module_id and not any(not e.is_warning for e in errors):
            from app.studio.testcases import replay_package  # a package that passes every check runs its tests

            errors.extend(replay_package(session, {p: files[p] for p in kinds}, module_id))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    found = _relocate(errors, scratch, display_prefix)
    result.errors = [e for e in found if not e.is_warning]
    result.warnings = [e for e in found if e.is_warning]
    result.content_hash = content_hash({p: files[p] for p in files})
    return result


def _check_checklist(scratch: Path, rel: str, installation: Path, session: Session | None,
                     module_id: str | None) -> list[AssetError]:
    """A package's checklist: its own validator (``DATA_VALIDATORS['checklists']``), and an id no
    shipped checklist or other package already uses (points name checklists by id)."""
    from app.assets.validate import _validate_module_data

    errors = _validate_module_data(scratch / rel, scratch)
    stem = PurePosixPath(rel).stem
    taken = [p.relative_to(installation).as_posix() for p in installation.glob(f"forms/*/checklists/{stem}.yaml")]
    taken += [f"module {row.module_id!r}" for row in stored_packages(session) if row.module_id != module_id
              and any(_kind(p) == "checklist" and PurePosixPath(p).stem == stem for p in row.files)]
    if taken:
        errors.append(AssetError(rel, 1, "id", f"checklist {stem!r} already exists ({taken[0]}); "
                                 "choose another file name"))
    return errors


def _relocate(errors: list[AssetError], scratch: Path, prefix: str) -> list[AssetError]:
    """Errors name package paths (never the scratch folder), behind the consultant's folder."""
    out: list[AssetError] = []
    seen: set[str] = set()
    scratch_names = {str(scratch) + "/", str(scratch.resolve()) + "/"}
    for e in errors:
        name = e.file
        for s in scratch_names:
            if name.startswith(s):
                name = name[len(s):]
        if prefix and not name.startswith(prefix):
            name = f"{prefix.rstrip('/')}/{name}"
        fixed = AssetError(name, e.line, e.element, e.reason, e.severity)
        if str(fixed) not in seen:
            seen.add(str(fixed))
            out.append(fixed)
    return out


def _cross_check(module: ModuleDef, menu_path: str, menu_data: bytes, kinds: dict[str, str],
                 shipped: Catalog, session: Session | None) -> list[AssetError]:
    """What the menu entry says against the rest: files listed, dependencies, schedules."""
    from app.assets.yaml_lines import load_yaml_text

    errors: list[AssetError] = []
    data = load_yaml_text(menu_data.decode("utf-8"), menu_path)
    listed = set(module.processes) | set(module.forms)
    for rel, kind in sorted(kinds.items()):
        if kind in ("bpmn", "form") and rel not in listed:
            key = "processes" if kind == "bpmn" else "forms"
            errors.append(AssetError(rel, 1, "file",
                                     f"not listed under {key}: in {menu_path}; list it or leave it out"))
    known_modules = set(shipped.modules) | {r.module_id for r in stored_packages(session)}
    deps = data.get("depends_on") or []
    for i, dep in enumerate(module.depends_on):
        if dep not in known_modules:
            errors.append(AssetError(menu_path, deps.line_of(i) if hasattr(deps, "line_of") else 1,
                                     f"depends_on[{i}]", f"unknown module {dep!r}"))
    return errors


def _cross_file_calls(files: dict[str, bytes], bpmn_paths: list[str],
                      errors: list[AssetError]) -> list[AssetError]:
    """A call activity naming a process of another file of the package: the engine runs the
    processes of one file only, so say where that process is; when the calls lead back to the
    caller's own process (a.bpmn calls B, b.bpmn calls A), name the cycle as for one file."""
    from app.engine.checks import _path_back, label
    from app.engine.definitions import BPMN_NS
    from app.engine.xmlsafe import parse_xml

    home: dict[str, str] = {}  # process id -> file
    calls: dict[str, list] = {}  # process id -> its call activities
    for rel in bpmn_paths:
        try:
            tree, _ = parse_xml(files[rel], rel)
        except Exception:  # noqa: BLE001 - the file's own errors are reported already
            continue
        if tree is None:
            continue
        for process in tree.getroot().iter(f"{{{BPMN_NS}}}process"):
            pid = process.get("id")
            if pid and pid not in home:
                home[pid] = rel
                calls[pid] = list(process.iter(f"{{{BPMN_NS}}}callActivity"))
    out = list(errors)
    for pid, rel in home.items():
        for call in calls[pid]:
            called = call.get("calledElement")
            other = home.get(called)
            if not called or other is None or other == rel:
                continue
            element = call.get("id") or "callActivity"
            stale = f"called process '{called}' is not in this file"
            out = [e for e in out if not (e.file == rel and e.element == element and e.reason == stale)]
            path = _path_back(called, pid, calls)
            if path is not None:
                chain = " → ".join([pid, *path])
                reason = (f"{label(call)} calls '{called}' (in {other}), which leads back to its own "
                          f"process ({chain}): an instance would start copies of itself without end")
            else:
                reason = (f"called process '{called}' is in {other}, not in this file: a call activity "
                          "runs a process of its own file (copy that process into this file)")
            out.append(AssetError(rel, call.sourceline or 1, element, reason))
    return out


def _check_template_keys(rel: str, data: bytes, module_id: str | None) -> list[AssetError]:
    from app.assets.errors import AssetInvalid
    from app.assets.yaml_lines import load_yaml_text

    if not module_id:
        return []
    try:
        doc = load_yaml_text(data.decode("utf-8"), rel)
    except AssetInvalid:
        return []
    if not hasattr(doc, "line_of"):
        return []
    return [AssetError(rel, doc.line_of(key), str(key),
                       f"a package's templates are named {module_id}.<name>")
            for key in doc if not str(key).startswith(f"{module_id}.")]


def _check_process_ids(result: PackageCheck, bpmn_paths: list[str], module_id: str | None,
                       session: Session | None) -> None:
    from app.engine.definitions import build_definition
    from app.engine.xmlsafe import parse_xml

    seen: dict[str, str] = {}
    for rel in bpmn_paths:
        tree, _ = parse_xml(result.files[rel], rel)
        pid = build_definition(tree, rel).process_id
        if pid in seen:
            result.errors.append(AssetError(rel, 1, pid, f"process id {pid!r} is also the process of {seen[pid]}"))
            continue
        seen[pid] = rel
        result.processes[rel] = pid
    for pid, owners in _process_owners(session, set(seen)).items():
        others = sorted(o or "(none)" for o in owners if o != module_id)
        if others:
            result.errors.append(AssetError(seen[pid], 1, pid,
                                            f"process id {pid!r} belongs to module {others[0]!r}; a process id "
                                            "belongs to one module (rename the process)"))


# --------------------------------------------------------------------------- storing


@dataclass
class PackageResult:
    errors: list[AssetError] = field(default_factory=list)
    warnings: list[AssetError] = field(default_factory=list)
    package: ModulePackage | None = None
    created: bool = False
    processes: list = field(default_factory=list)  # ProcessVersion rows deployed


def upload_package(session: Session, files: dict[str, bytes], *, actor: str,
                   installation: Path | None = None, display_prefix: str = "",
                   revision_of_shipped: bool = False) -> PackageResult:
    """Validate and store a package: all or nothing, in a savepoint of the caller's transaction.

    The same module id and version again: identical content is a no-op, other content is refused.
    ``revision_of_shipped``: a new version of a shipped module made by a single process upload
    (:func:`app.platform.authoring.upload_process`), which only that path may store.
    """
    check = check_package(files, session=session, installation=installation, display_prefix=display_prefix,
                          revision_of_shipped=revision_of_shipped)
    if check.errors:
        return PackageResult(errors=check.errors, warnings=check.warnings)
    module = check.module
    menu_path = f"menus/{module.id}.yaml"
    existing = session.scalar(select(ModulePackage).where(ModulePackage.module_id == module.id,
                                                          ModulePackage.version == module.version))
    if existing is not None:
        if existing.content_hash == check.content_hash:
            return PackageResult(package=existing, created=False, warnings=check.warnings)
        line = _version_line(files[menu_path], menu_path)
        shown = f"{display_prefix.rstrip('/')}/{menu_path}" if display_prefix else menu_path
        return PackageResult(errors=[AssetError(
            shown, line, "version",
            f"version {module.version} of module {module.id!r} was already uploaded with other content; "
            "an uploaded version never changes: raise the version (e.g. "
            f"\"{_next_patch(module.version)}\") and upload again")])

    from app.assets.errors import AssetInvalid
    from app.engine.errors import EngineError
    from app.forms.versions import deploy_with_forms
    from app.platform.audit import record

    nested = session.begin_nested()
    try:
        row = ModulePackage(module_id=module.id, version=module.version, content_hash=check.content_hash,
                            files={p: d.decode("utf-8") for p, d in sorted(files.items())},
                            uploaded_by=actor)
        session.add(row)
        session.flush()
        known = set(check.forms) | _installation_form_ids(installation) | _stored_form_ids(session)
        versions = []
        forms_root = Path(installation or _installation_root()) / "forms"
        for rel in module.processes:
            version = deploy_with_forms(session, rel, files[rel], module.id, actor, known, forms_root,
                                        texts=check.forms)
            versions.append(version)
        row.processes = {v.process_id: v.version for v in versions}
        session.flush()
        record(session, actor=actor,
               action="module.revision.upload" if revision_of_shipped else "module.package.upload",
               target_type="module",
               target_id=module.id, after={"version": module.version, "hash": check.content_hash,
                                           "files": sorted(files),
                                           "processes": {v.process_id: v.version for v in versions}})
        nested.commit()
    except (AssetInvalid, EngineError) as exc:
        nested.rollback()
        errs = exc.errors if isinstance(exc, AssetInvalid) else [AssetError(menu_path, 1, "package", str(exc))]
        return PackageResult(errors=errs)
    except Exception:
        nested.rollback()
        raise
    forget_package_profiles()
    return PackageResult(package=row, created=True, processes=versions, warnings=check.warnings)


def _installation_form_ids(installation: Path | None) -> set[str]:
    from app.forms.definitions import FormRegistry

    return set(FormRegistry(Path(installation or _installation_root()) / "forms").ids())


def _stored_form_ids(session: Session) -> set[str]:
    from app.forms.models import FormVersion

    return set(session.scalars(select(FormVersion.form_id).distinct()))


def _key_line(data: bytes, key: str) -> int:
    """The line of a top-level key of a YAML file (1 if it is not there)."""
    for i, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return i
    return 1


def _version_line(data: bytes, path: str) -> int:
    return _key_line(data, "version")


def _next_patch(version: str) -> str:
    parts = list(_semver(version)) + [0, 0, 0]
    return f"{parts[0]}.{parts[1]}.{parts[2] + 1}"


# --------------------------------------------------------------------------- catalogue


#: keyed by content and row id, not the id alone: a process may see several databases (the tests'
#: SQLite and PostgreSQL, a restored backup) where the same id is another package
_defs: dict[tuple[str, int], tuple[ModuleDef | None, list[AssetError]]] = {}


def package_module(row: ModulePackage) -> tuple[ModuleDef | None, list[AssetError]]:
    """The ``ModuleDef`` of a stored package (parsed once: stored versions never change)."""
    key = (row.content_hash, row.id)
    cached = _defs.get(key) if row.id is not None else None
    if cached is not None and cached[0] is not None:
        return cached
    scratch = Path(tempfile.mkdtemp(prefix="ef-package-menu-"))
    try:
        _write_tree(scratch, {p: t.encode("utf-8") for p, t in row.files.items()})
        module, errors = _parse_menu(scratch / "menus" / f"{row.module_id}.yaml", scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if module is not None:
        from dataclasses import replace

        module = replace(module, source=f"package:{row.module_id}@{row.version}", assets_root=None,
                         package_id=row.id)
    if row.id is not None:
        _defs[key] = (module, errors)
    return module, errors


def with_packages(session: Session, base: Catalog) -> Catalog:
    """The installation's catalogue plus the newest version of every uploaded module."""
    rows = stored_packages(session)
    if not rows:
        return base
    catalog = Catalog(assets_root=base.assets_root, modules=dict(base.modules), errors=list(base.errors))
    for row in rows:
        shipped = base.modules.get(row.module_id)
        if shipped is not None and _semver(row.version) <= _semver(shipped.version):
            continue  # the installation ships this version or a newer one
        module, errors = package_module(row)
        if module is None:
            catalog.errors.extend(errors)
        elif all(d in catalog.modules or d in {r.module_id for r in rows} for d in module.depends_on):
            catalog.modules[module.id] = module
    catalog.modules = dict(sorted(catalog.modules.items()))
    return catalog


def package_version(session: Session, module_id: str, version: str | None) -> ModulePackage | None:
    if version is None:
        return None
    return session.scalar(select(ModulePackage).where(ModulePackage.module_id == module_id,
                                                      ModulePackage.version == version))


def _form_fields(text: str) -> list[str]:
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
        return [f.get("name") for f in doc.get("fields") or [] if isinstance(f, dict)]
    except Exception:  # noqa: BLE001 - a stored package was valid when stored
        return []


def package_changes(old: ModulePackage, new: ModulePackage) -> list[dict[str, str]]:
    """What a newer package version changes, for the administrator who upgrades a community:
    processes added/changed/removed, forms (fields added/removed), settings added/removed."""
    changes: list[dict[str, str]] = []

    def add(zh: str, en: str) -> None:
        changes.append({"zh": zh, "en": en})

    for pid in sorted(set(old.processes) | set(new.processes)):
        if pid not in old.processes:
            add(f"新增流程 {pid}", f"process {pid} added")
        elif pid not in new.processes:
            add(f"移除流程 {pid}", f"process {pid} removed")
        elif old.processes[pid] != new.processes[pid]:
            add(f"流程 {pid} 已修改", f"process {pid} changed")
    old_forms = {p: t for p, t in old.files.items() if p.startswith("forms/")}
    new_forms = {p: t for p, t in new.files.items() if p.startswith("forms/")}
    for path in sorted(set(old_forms) | set(new_forms)):
        form_id = path[len("forms/"):-len(".yaml")]
        if path not in old_forms:
            add(f"新增表单 {form_id}", f"form {form_id} added")
        elif path not in new_forms:
            add(f"移除表单 {form_id}", f"form {form_id} removed")
        elif old_forms[path] != new_forms[path]:
            before, after = _form_fields(old_forms[path]), _form_fields(new_forms[path])
            plus = [f for f in after if f not in before]
            minus = [f for f in before if f not in after]
            parts_zh = ([f"新增字段 {', '.join(plus)}"] if plus else []) + \
                       ([f"移除字段 {', '.join(minus)}"] if minus else [])
            parts_en = ([f"fields added: {', '.join(plus)}"] if plus else []) + \
                       ([f"fields removed: {', '.join(minus)}"] if minus else [])
            add(f"表单 {form_id} 已修改" + (f"（{'；'.join(parts_zh)}）" if parts_zh else ""),
                f"form {form_id} changed" + (f" ({'; '.join(parts_en)})" if parts_en else ""))
    old_module, new_module = package_module(old)[0], package_module(new)[0]
    if old_module and new_module:
        before = {x.name: x for x in old_module.settings}
        after = {x.name: x for x in new_module.settings}
        for name in sorted(set(before) | set(after)):
            if name not in before:
                add(f"新增设置 {name}", f"setting {name} added")
            elif name not in after:
                add(f"移除设置 {name}", f"setting {name} removed")
            elif before[name] != after[name]:
                add(f"设置 {name} 已修改", f"setting {name} changed")
    return changes


# --------------------------------------------------------------------------- shipped modules


def shipped_files(module: ModuleDef, installation: Path | None = None) -> dict[str, bytes]:
    """A shipped module as a package's files: menu entry, processes, forms (its notification
    templates stay the installation's: shipped template files mix several modules' keys)."""
    root = Path(module.assets_root or installation or _installation_root())
    paths = [f"menus/{module.id}.yaml", *module.processes, *module.forms]
    return {rel: (root / rel).read_bytes() for rel in paths if (root / rel).is_file()}


def process_id_of(data: bytes, name: str) -> str | None:
    """The main process id of a BPMN file (None if the file cannot be read)."""
    from app.engine.definitions import main_process_id
    from app.engine.xmlsafe import parse_xml

    try:
        tree, _ = parse_xml(data, name)
    except Exception:  # noqa: BLE001 - validation reports the file's problems
        return None
    return main_process_id(tree.getroot()) if tree is not None else None


def shipped_package(session: Session, module: ModuleDef, installation: Path | None = None) -> ModulePackage:
    """A shipped module's version as an unsaved ``ModulePackage`` (to compare it with a revision):
    its files, and per process the version deployed from the installation's file."""
    files = shipped_files(module, installation)
    processes: dict[str, int] = {}
    for rel in module.processes:
        if rel in files:
            pid = process_id_of(files[rel], rel)
            number = shipped_process_number(session, pid, files[rel]) if pid else None
            if number is not None:
                processes[pid] = number
    return ModulePackage(module_id=module.id, version=module.version, content_hash=content_hash(files),
                         files={p: d.decode("utf-8") for p, d in files.items()}, processes=processes)


def shipped_process_number(session: Session, process_id: str, data: bytes) -> int | None:
    """The newest version of ``process_id`` deployed with exactly these bytes."""
    from app.engine.definitions import content_hash as bpmn_hash
    from app.engine.models import ProcessVersion

    return session.scalar(select(ProcessVersion.version).where(
        ProcessVersion.process_id == process_id, ProcessVersion.content_hash == bpmn_hash(data))
        .order_by(ProcessVersion.version.desc()).limit(1))


def next_free_version(session: Session, module_id: str, after: str, taken: set[str] = frozenset()) -> str:
    """The next patch version after ``after`` that no stored version of the module (nor ``taken``) uses."""
    used = set(taken) | set(session.scalars(select(ModulePackage.version).where(ModulePackage.module_id == module_id)))
    version = _next_patch(after)
    while version in used:
        version = _next_patch(version)
    return version


def set_menu_version(text: str, version: str) -> str:
    return re.sub(r'(?m)^version:.*$', f'version: "{version}"', text, count=1)


def add_to_menu_list(text: str, key: str, item: str) -> str:
    """``item`` appended to the top-level list ``key:`` of a menu entry (block or flow style)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not re.match(rf"^{key}:", line):
            continue
        rest = line[len(key) + 1:].split("#", 1)[0].strip()
        if rest.startswith("["):
            inner = rest[1:rest.rindex("]")].strip() if "]" in rest else ""
            items = f"{inner}, {item}" if inner else item
            lines[i] = f"{key}: [{items}]\n"
            return "".join(lines)
        j = i + 1
        while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
            j += 1
        last = max((k for k in range(i + 1, j) if lines[k].lstrip().startswith("-")), default=None)
        indent = re.match(r"^\s*", lines[last]).group(0) if last is not None else "  "
        lines.insert((last if last is not None else i) + 1, f"{indent}- {item}\n")
        return "".join(lines)
    return text.rstrip("\n") + f"\n{key}:\n  - {item}\n"


# --------------------------------------------------------------------------- runtime use


def package_for_process(session: Session, community_id: int | None, version) -> ModulePackage | None:
    """The stored module version a process version was deployed with: the community's enabled
    version when it carries this process version, else the newest that does."""
    if version is None or not version.module_id:
        return None
    rows = [r for r in session.scalars(select(ModulePackage).where(ModulePackage.module_id == version.module_id))
            if (r.processes or {}).get(version.process_id) == version.version]
    if not rows:
        return None
    if community_id is not None:
        from app.modules.models import ModuleActivation

        enabled = session.scalar(select(ModuleActivation.version).where(
            ModuleActivation.community_id == community_id, ModuleActivation.module_id == version.module_id))
        for row in rows:
            if row.version == enabled:
                return row
    return max(rows, key=lambda r: _semver(r.version))


_templates: dict[tuple[int, str], dict] = {}


def package_templates(row: ModulePackage | None) -> dict[str, dict]:
    """The notification templates a stored module version carries (``menus/notifications/<id>.yaml``)."""
    if row is None:
        return {}
    key = (row.id, row.content_hash)  # stored versions never change; the hash guards reused ids
    if key not in _templates:
        import yaml

        text = (row.files or {}).get(f"menus/notifications/{row.module_id}.yaml")
        doc = yaml.safe_load(text) if text else None
        _templates[key] = doc if isinstance(doc, dict) else {}
    return _templates[key]


#: per database URL: the packages' (id, hash) last seen, their profiles, when checked; "last": the
#: profiles this process read last (for callers without a session)
_profiles_cache: dict = {}
#: how long (seconds) a process trusts its list of package device profiles before asking again
PROFILE_RECHECK_SECONDS = 5.0


def package_profiles(session: Session | None) -> dict:
    """Device profiles carried by uploaded module packages (``connectors/profiles/*.yaml``), by
    name; every stored version counts (a device added with an older version's profile keeps it),
    newer versions win. Without a session: what this process read last."""
    import time

    if session is None:
        return _profiles_cache.get("last", {})
    database = str(session.get_bind().url)
    cache = _profiles_cache.setdefault(database, {"key": None, "profiles": {}, "checked": 0.0})
    if time.monotonic() - cache["checked"] < PROFILE_RECHECK_SECONDS:
        _profiles_cache["last"] = cache["profiles"]
        return cache["profiles"]
    key = tuple(session.execute(select(ModulePackage.id, ModulePackage.content_hash)
                                .order_by(ModulePackage.id)).all())
    cache["checked"] = time.monotonic()
    if key == cache["key"]:
        _profiles_cache["last"] = cache["profiles"]
        return cache["profiles"]
    from connectors.profiles import parse_profile_file

    profiles: dict = {}
    rows = sorted(session.scalars(select(ModulePackage)), key=lambda r: (r.module_id, _semver(r.version)))
    scratch = Path(tempfile.mkdtemp(prefix="ef-package-profiles-"))
    try:
        for row in rows:
            for rel, text in sorted((row.files or {}).items()):
                if _kind(rel) != "profile":
                    continue
                path = scratch / str(row.id) / PurePosixPath(rel).name  # a profile's name is its file's
                path.parent.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")
                profile, errors = parse_profile_file(path)
                if profile is not None and not errors:
                    profiles[profile.name] = profile
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    cache.update(key=key, profiles=profiles)
    _profiles_cache["last"] = profiles
    return profiles


def forget_package_profiles() -> None:
    """The next ``package_profiles(session)`` reads the database again (after an upload)."""
    for key, cache in _profiles_cache.items():
        if key != "last":
            cache["checked"] = 0.0
