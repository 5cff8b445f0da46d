"""Built-in manage.py commands: one module per command, each defining ``command``."""
