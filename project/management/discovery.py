"""Find manage.py commands by convention, without importing them (Django's ``get_commands``).

A command is a module in a command package, or a ``project.commands`` entry
point. Listing reads the file system and entry-point metadata only, and is
cached per set of packages; a command's one-line help is read from its source
with ``ast``. Only the command that runs is imported.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

ENTRY_POINT_GROUP = "project.commands"
DEFAULT_ATTRIBUTE = "command"


@functools.cache
def find_commands(packages: tuple[str, ...]) -> dict[str, str]:
    """Command name -> "module" or "module:attribute"; earlier packages win, then entry points."""
    found: dict[str, str] = {}
    for package in reversed(packages):
        for name in _modules_in(package):
            found[name] = f"{package}.{name}"
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    return found


def _modules_in(package: str) -> list[str]:
    """The public module names in ``package``; importing none of them (only its parents)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [
        module.name
        for module in pkgutil.iter_modules(list(spec.submodule_search_locations))
        if not module.name.startswith("_")
    ]


@functools.cache
def help_text(target: str) -> str:
    """The help click would show for ``target``, read from its source; "" when unknown.

    The decorator's ``help=``/``short_help=`` if written out, else the function's
    docstring, else the module's. Cut at ``\\f`` as click does.
    """
    module_name, _, attribute = target.partition(":")
    source = _source_of(module_name)
    if source is None:
        return ""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    text = _function_help(tree, attribute or DEFAULT_ATTRIBUTE) or ast.get_docstring(tree) or ""
    return inspect.cleandoc(text).split("\f", 1)[0]


def _source_of(module_name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        return Path(spec.origin).read_text(encoding="utf-8")
    except OSError:
        return None


def _function_help(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            for decorator in node.decorator_list:
                if _is_command_decorator(decorator):
                    written = _keyword_text(decorator, "short_help") or _keyword_text(
                        decorator, "help"
                    )
                    if written:
                        return written
            return ast.get_docstring(node)
    return None


def _is_command_decorator(decorator: ast.expr) -> bool:
    """``@click.command(...)``, ``@command(...)``, ``@click.group(...)``: not ``@click.option``."""
    function = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name in ("command", "group")


def _keyword_text(decorator: ast.expr, keyword: str) -> str | None:
    if not isinstance(decorator, ast.Call):
        return None
    for argument in decorator.keywords:
        value = argument.value
        if argument.arg == keyword and isinstance(value, ast.Constant):
            return value.value if isinstance(value.value, str) else None
    return None
