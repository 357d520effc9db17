"""``estateflow validate``: check module assets of every kind, one error per line.

Dispatch is by location and suffix: ``menus/*.yaml`` menu entries, ``forms/**/*.yaml``
forms, ``*.bpmn`` processes, ``connectors/profiles/*.yaml`` device profiles. BPMN is
checked against the forms, operations and roles that exist, so a process naming a
form that is missing or broken is refused here, before upload.
"""
from __future__ import annotations

from pathlib import Path

from app.assets.errors import AssetError
from app.settings import get_settings


def _kind(path: Path, root: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(root)
        parts = rel.parts
    except ValueError:
        parts = path.parts
    if path.suffix == ".bpmn":
        return "bpmn"
    if path.suffix not in {".yaml", ".yml"}:
        return None
    if "menus" in parts and "notifications" in parts:
        return "notifications"
    if "menus" in parts:
        below = parts[parts.index("menus") + 1:]
        return "menu" if len(below) == 1 else "module_data"
    if "profiles" in parts:
        return "profile"
    if "forms" in parts:
        from app.forms.definitions import DATA_FOLDERS

        return "module_data" if path.parent.name in DATA_FOLDERS else "form"
    return None


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in {".bpmn", ".yaml", ".yml"}))
        else:
            files.append(path)
    return files


def _forms_root_for(path: Path, default: Path) -> Path:
    for parent in path.resolve().parents:
        if parent.name == "forms":
            return parent
    return default


def validate_paths(paths: list[Path] | None = None, assets_root: Path | None = None,
                   with_warnings: bool = False) -> list[AssetError]:
    """Every error in the given files or folders (default: every shipped asset); with
    ``with_warnings`` also the warnings (``AssetError.is_warning``), as the CLI shows them."""
    from app.engine.operations import known_operations
    from app.engine.validation import check_bpmn
    from app.forms.definitions import FormRegistry, validate_form_file
    from app.modules.catalog import load_catalog, validate_menu_file
    from app.roles import KNOWN_ROLES
    from connectors.profiles import validate_profile_file

    from app.platform.discovery import load_operations
    load_operations()  # registers every operation before validation

    root = (assets_root or get_settings().assets_dir).resolve()
    if not paths:
        paths = [root / "menus", root / "forms", root / "bpmn", root / "connectors" / "profiles"]
    own = [root / "menus", root / "bpmn", root / "forms", root / "connectors"]
    outside = [p for p in paths if p.exists() and p.resolve() != root
               and not any(p.resolve().is_relative_to(d) for d in own) and _in_layout(p)]
    paths = [p for p in paths if p not in outside]
    package_errors: list[AssetError] = []
    for folder in dict.fromkeys(_package_root(p) for p in outside):
        package_errors.extend(validate_package_folder(folder, root))
    files = _expand([p for p in paths if p.exists()])
    errors: list[AssetError] = [
        AssetError(str(p), 0, "file", "no such file or folder") for p in paths if not p.exists()
    ]
    registry = FormRegistry(root / "forms")
    known_forms = _form_fields(registry)
    seen_menu = False
    for path in files:
        kind = _kind(path, root)
        if kind == "menu":
            seen_menu = True
            errors.extend(validate_menu_file(path, root))
        elif kind == "form":
            errors.extend(validate_form_file(path, _forms_root_for(path, root / "forms")))
        elif kind == "notifications":
            from app.domains.notifications.delivery import validate_template_file

            errors.extend(validate_template_file(path))
        elif kind == "module_data":
            errors.extend(_validate_module_data(path, root))
        elif kind == "profile":
            errors.extend(validate_profile_file(path))
        elif kind == "bpmn":
            local_forms = {**known_forms,
                           **_form_fields(FormRegistry(_forms_root_for(path, root / "forms")))}
            errors.extend(check_bpmn(path.read_bytes(), _display(path, root), local_forms,
                                     known_operations(), set(KNOWN_ROLES)))
        elif path.suffix in {".yaml", ".yml"}:
            errors.append(AssetError(_display(path, root), 0, "file",
                                     "not a module asset (expected under menus/, forms/ or connectors/profiles/)"))
    if seen_menu:
        # cross-file problems: unknown dependencies, cycles
        catalog_errors = [e for e in load_catalog(root).errors]
        known = {str(e) for e in errors}
        errors.extend(e for e in catalog_errors if str(e) not in known)
    found = _dedupe(errors + package_errors)
    return found if with_warnings else [e for e in found if not e.is_warning]


def _in_layout(path: Path) -> bool:
    """A folder, or a file under menus/, bpmn/, forms/ or connectors/ of a module folder."""
    if path.is_dir():
        return True
    rel = path.resolve().relative_to(_package_root(path))
    return rel.parts[0] in ("menus", "bpmn", "forms", "connectors") if len(rel.parts) > 1 else False


def _package_root(path: Path) -> Path:
    """The consultant's module folder holding ``path`` (the folder with menus/, bpmn/, forms/)."""
    path = path.resolve()
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if folder.name not in ("menus", "bpmn", "forms", "connectors", "profiles", "notifications") and \
                any((folder / sub).is_dir() for sub in ("menus", "bpmn", "forms")):
            return folder
    return start


def validate_package_folder(folder: Path, installation: Path | None = None) -> list[AssetError]:
    """A module folder outside the installation, as one package: checked against the shipped
    forms, operations and roles plus the folder's own files (no ``ESTATEFLOW_ASSETS_DIR``).
    Without a menu entry, its processes and forms are still checked together."""
    from app.modules.packages import check_package, read_folder

    files = read_folder(folder)
    try:
        prefix = folder.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        prefix = str(folder)
    has_menu = any(p.startswith("menus/") and p.count("/") == 1 for p in files)
    check = check_package(files, installation=installation, display_prefix=prefix, require_menu=has_menu)
    return check.errors + check.warnings


#: module data files (``menus/<module>/*.yaml``, ``forms/<module>/<data folder>/*.yaml``) with a validator of their own:
#: (module folder name) -> callable(path) -> list[AssetError]; others get a YAML syntax check.
DATA_VALIDATORS: dict[str, object] = {}


def _validate_module_data(path: Path, root: Path) -> list[AssetError]:
    from app.assets.errors import AssetInvalid
    from app.assets.yaml_lines import load_yaml_file

    validator = DATA_VALIDATORS.get(path.parent.name)
    if validator is not None:
        return list(validator(path))
    try:
        load_yaml_file(path, _display(path, root))
    except AssetInvalid as exc:
        return exc.errors
    return []


def _form_fields(registry) -> dict[str, set[str]]:
    """form id -> the names its fields put into the process data."""
    return {form_id: {f.name for f in registry.get(form_id).fields} for form_id in registry.ids()}


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _dedupe(errors: list[AssetError]) -> list[AssetError]:
    seen: set[str] = set()
    out = []
    for e in errors:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out
