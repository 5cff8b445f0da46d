"""Import objects named by dotted paths in the settings, with errors that name the setting."""

from __future__ import annotations

import importlib
from typing import Any

from project.errors import SettingsError


def import_string(dotted: str, setting: str) -> Any:
    """``"package.module.attribute"`` -> the attribute (or the module itself)."""
    module_name, _, attribute = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name) if module_name else None
        if module is not None and hasattr(module, attribute):
            return getattr(module, attribute)
        return importlib.import_module(dotted)
    except ImportError as exc:
        raise SettingsError(
            f"{setting} names {dotted!r}, which could not be imported: {exc}. "
            "Check the dotted path (package.module.attribute) and that the package is installed."
        ) from None
