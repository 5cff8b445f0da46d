"""Migrations on Alembic, run from ``manage.py``: no alembic.ini or env.py in the project.

The Alembic environment lives in ``project/migrations/environment``; a
project keeps only its revision files, one versions folder per database
alias (``MIGRATIONS_FOLDERS``, default ``migrations/<alias>``). Everything
runs on the alias's sync engine, so it works inside a running event loop.
Importing this package imports neither Alembic nor the models.
"""
