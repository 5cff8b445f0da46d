"""``manage.py diffsettings``: what differs from the defaults, and which layer set it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import click
import msgspec

from project.loader import SettingPath, show_path
from project.redact import redact
from project.schema import DatabaseSettings


class SettingLine(msgspec.Struct):
    """One setting (or one key of a nested one), safe to print."""

    name: str
    value: Any
    source: str
    changed: bool


def _leaves(value: Any, path: SettingPath) -> Iterator[tuple[SettingPath, Any]]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, str(key)))
    else:
        yield path, value


def _default_of(path: SettingPath, defaults: Mapping[str, Any]) -> Any:
    if path[0] == "DATABASES" and len(path) >= 3:
        entry = msgspec.to_builtins(DatabaseSettings(URL=""))
        return entry.get(path[2], _MISSING) if len(path) == 3 else _MISSING
    return defaults.get(path[0], _MISSING) if len(path) == 1 else _MISSING


_MISSING = object()


def setting_lines(show_all: bool = False) -> list[SettingLine]:
    """Every setting that differs from its default (or all of them), redacted."""
    from project.conf import settings

    loaded = settings.loaded
    defaults = msgspec.to_builtins(loaded.defaults, enc_hook=str)
    lines = []
    for name, value in sorted(settings.as_dict().items()):
        for path, leaf in _leaves(msgspec.to_builtins(value, enc_hook=str), (name,)):
            changed = leaf != _default_of(path, defaults)
            if changed or show_all:
                source = _source_of(path)
                lines.append(SettingLine(show_path(path), redact(leaf, path[-1]), source, changed))
    return lines


def _source_of(path: SettingPath) -> str:
    """The layer that set ``path``, whatever the value; "default" for a key no layer set.

    A key missing from every layer (``POOL_SIZE`` of a database entry that only
    gives a URL) was filled in by the schema, not by the layer that set its parent.
    """
    from project.conf import settings

    source = settings.source_of(path)
    if source is None or (path not in settings.loaded.sources and source.layer != "override"):
        return "default"
    return str(source)


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Show every setting, not only changed ones.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list for machines.")
def command(show_all: bool, as_json: bool) -> None:
    """Show the settings that differ from the defaults, with the layer each came from."""
    lines = setting_lines(show_all)
    if as_json:
        click.echo(msgspec.json.encode(lines).decode())
        return
    for line in lines:
        marker = "" if line.changed else "  ###"  # equal to the default, as Django marks it
        click.echo(f"{line.name} = {line.value!r}  # {line.source}{marker}")
