"""Litestar plugins, named by dotted path in the ``PLUGINS`` setting."""
