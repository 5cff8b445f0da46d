<%
    body = (upgrades or "") + (downgrades or "")
    extra = (imports or "").strip()
    parents = down_revision if isinstance(down_revision, (tuple, list)) else [down_revision]
    revises = ", ".join(p for p in parents if p)
    revises_line = "Revises: " + revises if revises else "Revises:"
%>"""${message}

Revision ID: ${up_revision}
${revises_line}
Create Date: ${create_date}
"""

from collections.abc import Sequence
% if "sa." in body or extra or "op." in body:

% endif
% if "sa." in body:
import sqlalchemy as sa
% endif
% if extra:
${extra}
% endif
% if "op." in body:
from alembic import op
% endif

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
