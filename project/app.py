"""``create_app()``: the Litestar app, built from the settings.

``ROUTE_HANDLERS`` and ``PLUGINS`` are dotted paths; a plugin path may name a
class (instantiated with no arguments) or an instance. ``/health`` is always
mounted.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from project.health import health_router
from project.imports import import_string


def create_app(**litestar_options: Any) -> Litestar:
    """Build the app; keyword arguments go to ``Litestar()`` and win over the settings."""
    from project.conf import settings

    plugins = []
    for dotted in settings.PLUGINS:
        plugin = import_string(dotted, "PLUGINS")
        plugins.append(plugin() if isinstance(plugin, type) else plugin)
    handlers = [import_string(dotted, "ROUTE_HANDLERS") for dotted in settings.ROUTE_HANDLERS]
    options: dict[str, Any] = {
        "route_handlers": [*handlers, health_router],
        "plugins": plugins,
        "debug": settings.DEBUG,
        **litestar_options,
    }
    return Litestar(**options)
