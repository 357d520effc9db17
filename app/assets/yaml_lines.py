"""YAML loading that remembers where every mapping key came from.

Validation messages must name file and line; PyYAML's node marks carry the line,
so this loader keeps them on the dicts it builds (``LineDict.line_of(key)``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app.assets.errors import AssetError, AssetInvalid


class LineDict(dict):
    """A dict that knows the 1-based line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A list that knows the 1-based line of itself and of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_text(text: str, filename: str) -> Any:
    """Parse YAML text; a syntax error becomes an ``AssetInvalid`` naming file and line."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        reason = " ".join(filter(None, [exc.context, exc.problem])) or str(exc)
        raise AssetInvalid([AssetError(filename, line, "yaml", reason)]) from exc
    except yaml.YAMLError as exc:
        raise AssetInvalid([AssetError(filename, 0, "yaml", str(exc))]) from exc


def load_yaml_file(path: Path, display_name: str | None = None) -> Any:
    """Read and parse one YAML asset file."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AssetInvalid([AssetError(name, 0, "file", f"cannot read: {exc}")]) from exc
    return load_yaml_text(text, name)
