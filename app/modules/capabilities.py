"""Which device capabilities a community has, from its devices' profiles.

Device profiles live in ``connectors/profiles/*.yaml`` (written by the connectors work);
each lists ``capabilities: [...]``. A module needs capabilities, never protocols, so the
menu only has to ask: does this community have a device whose profile provides it?
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assets.errors import AssetInvalid
from app.assets.yaml_lines import load_yaml_file
from app.domains.devices.models import Device


def _profile_key(name: str) -> str:
    return Path(name).stem if name.endswith((".yaml", ".yml")) else name


def profile_capabilities(assets_root: Path) -> dict[str, set[str]]:
    """Profile name (file stem, and its ``id`` if it declares one) → capabilities.

    A missing folder means no profiles yet; an unreadable profile counts as providing
    nothing (the connectors validation reports it, not the menu).
    """
    folder = Path(assets_root) / "connectors" / "profiles"
    result: dict[str, set[str]] = {}
    if not folder.is_dir():
        return result
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            data = load_yaml_file(path)
        except AssetInvalid:
            continue
        if not isinstance(data, dict):
            continue
        caps = data.get("capabilities") or []
        caps = {c for c in caps if isinstance(c, str)} if isinstance(caps, list) else set()
        result[path.stem] = caps
        profile_id = data.get("id")
        if isinstance(profile_id, str) and profile_id and profile_id != path.stem:
            result.setdefault(profile_id, set()).update(caps)
    return result


def community_capabilities(
    session: Session, community_id: int, profiles: dict[str, set[str]]
) -> set[str]:
    """Every capability provided by at least one device of the community."""
    names = session.scalars(
        select(Device.profile).where(Device.community_id == community_id).distinct()
    ).all()
    provided: set[str] = set()
    for name in names:
        provided |= profiles.get(_profile_key(name), set())
    return provided
