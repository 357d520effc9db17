"""Topic layout: ``estateflow/<community>/<device>/{cmd,ack,event,state}``.

``cmd``: platform -> device, ``{"request_id", "command", "params"}``;
``ack``: device -> platform, ``{"request_id", "ok", "result"?, "error"?}``;
``event``: device -> platform, ``{"type", ...fields of the profile's event schema}``;
``state``: retained, ``{"online": bool}``; the device's last will sets it offline.
"""
from __future__ import annotations

ROOT = "estateflow"
KINDS = ("cmd", "ack", "event", "state")


def topic(community: str, device: str, kind: str, root: str = ROOT) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    for part in (community, device):
        if not part or any(ch in part for ch in "/+#"):
            raise ValueError(f"bad topic segment {part!r}")
    return f"{root}/{community}/{device}/{kind}"


def parse_topic(name: str, root: str = ROOT) -> tuple[str, str, str] | None:
    """(community, device, kind) for a topic in our layout, else None."""
    parts = name.split("/")
    prefix = root.split("/")
    if len(parts) != len(prefix) + 3 or parts[: len(prefix)] != prefix or parts[-1] not in KINDS:
        return None
    return parts[-3], parts[-2], parts[-1]


def subscription(kind: str, root: str = ROOT) -> str:
    return f"{root}/+/+/{kind}"


def extra_levels(root: str = ROOT) -> str:
    """A filter for topics with more levels than the layout (refused, and reported)."""
    return f"{root}/+/+/+/+/#"  # '#' also matches its parent level: 4 levels or more
