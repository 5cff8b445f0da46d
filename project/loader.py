"""Build the settings from their layers and remember where each value came from.

Layers, lowest first: ``project.global_settings``, the settings module, the
``.env`` file, then real environment variables. Nested dicts merge key by key.
Problems are collected, not raised, so ``manage.py check`` can show them all.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import os
import pkgutil
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from project.driver_options import check_options
from project.errors import SettingsError
from project.redact import redact
from project.schema import DATABASE_FIELDS, KNOWN_SETTINGS, DatabaseSettings, convert
from project.text import did_you_mean, type_name
from project.urls import parse_database_url

ENV_PREFIX = "APP_"
DEFAULTS_MODULE = "project.global_settings"

SettingPath = tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """Which layer set a value, and where exactly."""

    layer: str
    where: str

    def __str__(self) -> str:
        return f"{self.layer} {self.where}"


@dataclass(repr=False)
class LoadedSettings:
    """The validated values of one settings module, with their provenance."""

    module: str
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[SettingPath, Source] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def source_of(self, path: SettingPath) -> Source | None:
        """The layer that set ``path``, or the one that set its nearest parent."""
        for end in range(len(path), 0, -1):
            source = self.sources.get(path[:end])
            if source is not None:
                return source
        return None

    def __repr__(self) -> str:
        return f"<LoadedSettings {self.module!r}: {len(self.values)} settings>"


def show_path(path: SettingPath) -> str:
    """``("DATABASES", "default", "URL")`` reads as ``DATABASES['default']['URL']``."""
    return path[0] + "".join(f"[{part!r}]" for part in path[1:])


def deep_merge(base: Any, update: Any) -> Any:
    """``update`` over ``base``, merging dicts key by key instead of replacing them.

    Dicts are always copied, so later layers never write into a settings module.
    """
    if isinstance(update, Mapping):
        merged = dict(base) if isinstance(base, Mapping) else {}
        for key, value in update.items():
            merged[key] = deep_merge(merged.get(key), value)
        return merged
    return update


def load(module_name: str, environ: Mapping[str, str] | None = None) -> LoadedSettings:
    """Read every layer for ``module_name`` and validate the result."""
    environ = os.environ if environ is None else environ
    loaded = LoadedSettings(module=module_name)
    raw: dict[str, Any] = {}
    defaults = _module_settings(DEFAULTS_MODULE)
    loaded.defaults = defaults
    _apply_module(loaded, raw, DEFAULTS_MODULE, defaults, "default")
    user = _module_settings(module_name)
    _apply_module(loaded, raw, module_name, user, "settings module")
    _check_misspelt(loaded, user, lambda name: _module_source(module_name, name))
    for name, value, source in _environment(environ):
        _apply_environment(loaded, raw, name, value, source)
    loaded.values = validate(raw, loaded)
    return loaded


# --- the module layers -----------------------------------------------------


def _module_settings(module_name: str) -> dict[str, Any]:
    """The UPPERCASE names of a settings module, or one clear paragraph why not."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise SettingsError(_missing_module_message(module_name)) from None
        raise SettingsError(_broken_module_message(module_name, exc)) from None
    except Exception as exc:
        raise SettingsError(_broken_module_message(module_name, exc)) from None
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


def _missing_module_message(module_name: str) -> str:
    package = module_name.rpartition(".")[0] or "settings"
    spec = importlib.util.find_spec(package) if _importable(package) else None
    found = (
        sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(spec.submodule_search_locations))
        if spec and spec.submodule_search_locations
        else []
    )
    hint = f" Available: {', '.join(found)}." if found else ""
    return (
        f"Settings module {module_name!r} could not be found (from SETTINGS_MODULE or "
        f"--settings).{hint} Pass --settings settings.development to manage.py or export "
        "SETTINGS_MODULE=settings.development, and run from the project folder."
    )


def _importable(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def _broken_module_message(module_name: str, exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {_short(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" at {_short(exc.filename)}:{exc.lineno}"
    reason = redact(f"{type(exc).__name__}: {exc}")
    return (
        f"Settings module {module_name!r} failed to import{where}: {reason}. "
        "Fix that line; settings modules should only assign UPPERCASE values."
    )


def _short(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _apply_module(
    loaded: LoadedSettings,
    raw: dict[str, Any],
    module_name: str,
    values: dict[str, Any],
    layer: str,
) -> None:
    for name, value in values.items():
        source = Source(layer, _module_source(module_name, name))
        _set(loaded, raw, (name,), value, source)


def _set(
    loaded: LoadedSettings, raw: dict[str, Any], path: SettingPath, value: Any, source: Source
) -> None:
    """Merge ``value`` in at ``path`` and record ``source`` for it and every key below."""
    target = raw
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = deep_merge(target.get(path[-1]), value)
    _record(loaded, path, value, source)


def _record(loaded: LoadedSettings, path: SettingPath, value: Any, source: Source) -> None:
    loaded.sources[path] = source
    if isinstance(value, Mapping):
        for key, item in value.items():
            _record(loaded, (*path, str(key)), item, source)


def _check_misspelt(loaded: LoadedSettings, values: Mapping[str, Any], where: Any) -> None:
    for name in values:
        if name in KNOWN_SETTINGS:
            continue
        guess = did_you_mean(name, KNOWN_SETTINGS)
        if guess:
            loaded.problems.append(
                f"Unknown setting {name} ({where(name)}): did you mean {guess}? "
                f"Rename it, or it will be ignored."
            )


_assignments: dict[str, dict[str, int]] = {}


def _module_source(module_name: str, name: str, _seen: frozenset[str] = frozenset()) -> str:
    """``file:line`` where a module (or one it star-imports) assigns ``name``."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.origin or module_name in _seen:
        return module_name
    lines, star_imports = _scan(spec.origin, spec.parent or "")
    if name in lines:
        return f"{_short(spec.origin)}:{lines[name]}"
    for imported in reversed(star_imports):
        found = _module_source(imported, name, _seen | {module_name})
        if ":" in found:
            return found
    return _short(spec.origin)


def _scan(filename: str, package: str) -> tuple[dict[str, int], list[str]]:
    """The last line assigning each top-level name, and the modules star-imported."""
    tree = ast.parse(Path(filename).read_text(encoding="utf-8"))
    lines: dict[str, int] = {}
    star_imports: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            relative = "." * node.level + (node.module or "")
            star_imports.append(importlib.util.resolve_name(relative, package))
        for target in _targets(node):
            while isinstance(target, ast.Subscript | ast.Attribute):
                target = target.value
            if isinstance(target, ast.Name) and target.id.isupper():
                lines[target.id] = max(lines.get(target.id, 0), node.lineno)
    return lines, star_imports


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, ast.AnnAssign | ast.AugAssign):
        return [node.target]
    return []


# --- the environment layers ------------------------------------------------


def _environment(environ: Mapping[str, str]) -> list[tuple[SettingPath, str, Source]]:
    """Settings from ``.env`` then the real environment, which wins."""
    from dotenv import dotenv_values

    dotenv_path = Path.cwd() / ".env"
    dotenv = dotenv_values(dotenv_path) if dotenv_path.is_file() else {}
    found: dict[str, tuple[str, Source]] = {}
    for key, value in dotenv.items():
        if value is not None and key not in environ:
            found[key] = (value, Source(".env file", f"{_short(str(dotenv_path))}: {key}"))
    for key, value in environ.items():
        found[key] = (value, Source("environment variable", key))
    result: list[tuple[SettingPath, str, Source]] = []
    for key, (value, source) in sorted(found.items()):
        if key == "DATABASE_URL":
            result.append((("DATABASES", "default", "URL"), value, source))
        elif key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            result.append((tuple(key[len(ENV_PREFIX) :].split("__")), value, source))
    return result


def _apply_environment(
    loaded: LoadedSettings, raw: dict[str, Any], path: SettingPath, text: str, source: Source
) -> None:
    """Convert one environment string to the schema's type and set it."""
    name = path[0].upper()
    if name not in KNOWN_SETTINGS:
        _check_misspelt(loaded, {name: None}, lambda _: str(source))
        _set(loaded, raw, (name, *path[1:]), text, source)
        return
    resolved, tp = _resolve(raw, (name, *path[1:]))
    if isinstance(tp, str):
        loaded.problems.append(f"{source.where} does not name a setting: {tp}")
        return
    try:
        value = convert(text, tp, from_text=True)
    except msgspec.ValidationError as exc:
        loaded.problems.append(_type_problem(resolved, tp, text, source, str(exc)))
        return
    _set(loaded, raw, resolved, value, source)


def _resolve(raw: Mapping[str, Any], path: SettingPath) -> tuple[SettingPath, Any]:
    """Spell an environment path the way the settings do, and find its type.

    Returns the type, or a sentence explaining why the path is wrong.
    """
    if path[0] != "DATABASES":
        if len(path) > 1:
            return path, f"{path[0]} has no keys to set with '__'."
        return path, KNOWN_SETTINGS[path[0]]
    if len(path) == 1:
        return path, KNOWN_SETTINGS["DATABASES"]
    aliases = raw.get("DATABASES") or {}
    alias = next((a for a in aliases if a.lower() == path[1].lower()), path[1].lower())
    if len(path) == 2:
        return ("DATABASES", alias), DatabaseSettings
    key = path[2].upper()
    if key not in DATABASE_FIELDS:
        return path, _unknown_key(key, DATABASE_FIELDS)
    if len(path) > 3 and key == "OPTIONS":
        # Every driver's option names are lowercase; environment variable names seldom are.
        return ("DATABASES", alias, key, *(part.lower() for part in path[3:])), Any
    if len(path) > 3:
        return path, f"DATABASES['{alias}']['{key}'] has no keys to set with '__'."
    return ("DATABASES", alias, key), DATABASE_FIELDS[key]


def _unknown_key(key: str, known: Mapping[str, Any]) -> str:
    guess = did_you_mean(key, known)
    hint = f"did you mean {guess}?" if guess else f"known keys are {', '.join(known)}."
    return f"a database entry has no key {key}; {hint}"


def _type_problem(path: SettingPath, tp: Any, value: Any, source: Source | None, why: str) -> str:
    shown = redact(value, path[-1])
    # msgspec's own "Expected `int` >= 0" only repeats what the sentence says.
    said = why.startswith("Expected `") and " - at `$" not in why
    return (
        f"Setting {show_path(path)} must be {type_name(tp)}, but got {shown!r} "
        f"(from {source or 'an unknown layer'}){'' if said else ': ' + why}. "
        "Change the value there."
    )


# --- validation --------------------------------------------------------------


def validate(raw: Mapping[str, Any], loaded: LoadedSettings) -> dict[str, Any]:
    """Typed values for the known settings; user settings pass through unchanged."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "DATABASES":
            values[name] = _validate_databases(value, loaded)
        elif name in KNOWN_SETTINGS:
            values[name] = _checked(loaded, (name,), value, KNOWN_SETTINGS[name])
        else:
            values[name] = value
    _check_environment(values, loaded)
    return values


def _checked(loaded: LoadedSettings, path: SettingPath, value: Any, tp: Any) -> Any:
    try:
        return convert(value, tp)
    except msgspec.ValidationError as exc:
        loaded.problems.append(_type_problem(path, tp, value, loaded.source_of(path), str(exc)))
        return value


def _validate_databases(value: Any, loaded: LoadedSettings) -> dict[str, DatabaseSettings]:
    if not isinstance(value, Mapping):
        _checked(loaded, ("DATABASES",), value, KNOWN_SETTINGS["DATABASES"])
        return {}
    databases: dict[str, DatabaseSettings] = {}
    for alias, entry in value.items():
        path: SettingPath = ("DATABASES", alias)
        if not isinstance(entry, Mapping):
            _checked(loaded, path, entry, DatabaseSettings)
            continue
        checked = {}
        for key, item in entry.items():
            if key not in DATABASE_FIELDS:
                where = loaded.source_of((*path, key))
                loaded.problems.append(
                    f"Setting {show_path(path)} ({where}): {_unknown_key(key, DATABASE_FIELDS)}"
                )
                continue
            checked[key] = _checked(loaded, (*path, key), item, DATABASE_FIELDS[key])
        if "URL" not in checked:
            variable = "DATABASE_URL" if alias == "default" else f"APP_DATABASES__{alias}__URL"
            where = loaded.source_of((*path, *list(entry)[:1]))
            loaded.problems.append(
                f"Setting {show_path(path)} ({where}) has no URL. Add "
                f"'URL': 'postgresql://user:password@host/name' or set {variable.upper()}."
            )
            continue
        if not isinstance(checked["URL"], str):
            continue  # its type is reported above
        try:
            url = parse_database_url(checked["URL"], show_path((*path, "URL")))
        except SettingsError as exc:
            loaded.problems.append(f"{exc} (from {loaded.source_of((*path, 'URL'))})")
        else:
            _check_driver_options(loaded, path, checked.get("OPTIONS"), url.family)
        with contextlib.suppress(msgspec.ValidationError):  # each bad field is reported above
            databases[alias] = msgspec.convert(checked, DatabaseSettings)
    if "default" not in value:
        loaded.problems.append(
            "DATABASES has no 'default' entry. Define DATABASES = {'default': {'URL': ...}} "
            "in your settings module or set DATABASE_URL."
        )
    return databases


def _check_driver_options(
    loaded: LoadedSettings, path: SettingPath, options: Any, family: str
) -> None:
    if not isinstance(options, Mapping) or not options:
        return  # a wrong type is reported above; no options, no driver imported
    for below, why in check_options(options, family):
        where = (*path, "OPTIONS", *below)
        loaded.problems.append(
            f"Setting {show_path(where)} (from {loaded.source_of(where)}): {why}"
        )


def _check_environment(values: Mapping[str, Any], loaded: LoadedSettings) -> None:
    if values.get("ENVIRONMENT") != "production":
        if not values.get("SECRET_KEY"):
            loaded.warnings.append(
                "SECRET_KEY is empty. Fine for development; production refuses to start without it."
            )
        return
    if values.get("DEBUG") is True:
        loaded.problems.append(
            f"DEBUG is on in production (from {loaded.source_of(('DEBUG',))}). "
            "Unset APP_DEBUG or set DEBUG = False."
        )
    if not values.get("SECRET_KEY"):
        loaded.problems.append(
            f"SECRET_KEY is empty in production (from {loaded.source_of(('SECRET_KEY',))}). "
            "Set APP_SECRET_KEY to a long random string."
        )
