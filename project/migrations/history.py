"""Where a database stands in its revision history, and what a target would run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from project.migrations.errors import MigrationError
from project.migrations.targets import MigrationTarget

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import Connection

MERGE_HINT = "Run: python manage.py makemigrations --merge"


def describe(script: Script) -> str:
    """``abc123 (add colour)``: a revision as commands print it."""
    message = (script.doc or "").strip().splitlines()
    return f"{script.revision} ({message[0]})" if message and message[0] else script.revision


def in_order(scripts: ScriptDirectory) -> list[Script]:
    """Every revision, oldest first."""
    return list(reversed(list(scripts.walk_revisions())))


def ancestors(scripts: ScriptDirectory, heads: tuple[str, ...]) -> set[str]:
    """The revisions up to and including ``heads``: what a database at ``heads`` has applied."""
    if not heads:
        return set()
    return {script.revision for script in scripts.iterate_revisions(heads, "base")}


def current_heads(target: MigrationTarget, connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(
        connection, opts={"version_table": target.version_table}
    )
    return tuple(context.get_current_heads())


@dataclass
class Status:
    """The database's current revisions against the scripts' heads."""

    target: MigrationTarget
    scripts: ScriptDirectory
    current: tuple[str, ...]
    applied: set[str] = field(default_factory=set)

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.scripts.get_heads())

    @property
    def pending(self) -> list[Script]:
        return [s for s in in_order(self.scripts) if s.revision not in self.applied]

    @property
    def at_head(self) -> bool:
        return not self.pending


def read_status(target: MigrationTarget, connection: Connection) -> Status:
    """The status of ``target``; a database ahead of the files is one paragraph."""
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    scripts = target.scripts()
    current = current_heads(target, connection)
    try:
        applied = ancestors(scripts, current)
    except (CommandError, RevisionError):
        known = {script.revision for script in scripts.walk_revisions()}
        unknown = ", ".join(rev for rev in current if rev not in known)
        raise MigrationError(
            f"{target.label} is at revision {unknown}, which no file in {target.folder} "
            "defines: newer code migrated it, or a revision file was deleted. Deploy the code "
            "that has that revision (or restore the file) before migrating."
        ) from None
    return Status(target, scripts, current, applied)


@dataclass(frozen=True)
class Plan:
    """What ``migrate TARGET`` would run: the steps in order and Alembic's target."""

    direction: Literal["up", "down"]
    revision: str
    steps: list[Script]


def refuse_branches(target: MigrationTarget, heads: Sequence[str]) -> None:
    """Several heads (migrations made in parallel) must be merged before anything else."""
    if len(heads) > 1:
        raise MigrationError(
            f"Database alias {target.alias!r} has several heads ({', '.join(heads)}) in "
            f"{target.folder}: two branches of migrations were made in parallel. {MERGE_HINT}"
        )


def make_plan(status: Status, wanted: str | None) -> Plan:
    """Upgrade to head, or to/back to ``wanted`` (a revision, ``head`` or ``zero``)."""
    from alembic.util import CommandError

    order = in_order(status.scripts)
    if wanted in (None, "head", "heads"):
        refuse_branches(status.target, status.heads)
        return Plan("up", "heads", [s for s in order if s.revision not in status.applied])
    if wanted in ("zero", "base"):
        return Plan("down", "base", [s for s in reversed(order) if s.revision in status.applied])
    assert wanted is not None
    try:
        script = status.scripts.get_revision(wanted)
    except CommandError as exc:
        known = ", ".join(describe(s) for s in order) or "none"
        raise MigrationError(
            f"Unknown migration {wanted!r} for database alias {status.target.alias!r} "
            f"({exc}). Known revisions, oldest first: {known}. Use 'zero' to unapply all."
        ) from None
    if script is None:
        return Plan("down", "base", [s for s in reversed(order) if s.revision in status.applied])
    wanted_set = ancestors(status.scripts, (script.revision,))
    if script.revision in status.applied:
        undo = status.applied - wanted_set
        return Plan("down", script.revision, [s for s in reversed(order) if s.revision in undo])
    todo = wanted_set - status.applied
    return Plan("up", script.revision, [s for s in order if s.revision in todo])
