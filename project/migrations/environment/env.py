"""The built-in Alembic environment, run by Alembic for every command.

Everything it needs comes from ``config.attributes`` (set by
``project.migrations.targets``): the connection (online), the dialect name
(offline) and the options for ``context.configure``. The URL never passes
through Alembic's configparser, so a ``%`` in a password is harmless.
A project's own environment (``MIGRATIONS_ENVIRONMENT``) follows the same contract.
"""

from alembic import context

attributes = context.config.attributes
options = attributes["context_options"]

if context.is_offline_mode():
    context.configure(dialect_name=attributes["dialect_name"], literal_binds=True, **options)
else:
    context.configure(connection=attributes["connection"], **options)

with context.begin_transaction():
    context.run_migrations()
