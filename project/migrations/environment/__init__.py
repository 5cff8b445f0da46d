"""The built-in Alembic environment: ``env.py`` and the revision template."""
