"""Alembic operations for native versioning (needs the ``alembic`` extra).

Importing this module registers two operations; in a migration::

    from alembic import op
    import vdm.sqlalchemy.native_alembic  # noqa: F401 - registers the operations
    from myapp.model import Base

    def upgrade():
        op.install_vdm_triggers(Base.metadata)

    def downgrade():
        op.remove_vdm_triggers(Base.metadata)

``install_vdm_triggers`` also upgrades triggers installed by an older vdm
or for an older model (run it in the migration that changes a versioned
table).  They are the same as :func:`vdm.sqlalchemy.native.install` and
:func:`~vdm.sqlalchemy.native.remove` on ``op.get_bind()``.  In offline
(``--sql``) mode the SQL is written to the script instead.
"""

from __future__ import annotations

from typing import Any

from alembic.operations import MigrateOperation, Operations
from sqlalchemy import MetaData

from vdm.sqlalchemy import native

__all__ = ["InstallVdmTriggersOp", "RemoveVdmTriggersOp"]


class _TriggersOp(MigrateOperation):
    def __init__(self, metadata: MetaData, outside_writes: str | None = None,
                 outside_author: str | None = None) -> None:
        self.metadata = metadata
        self.outside_writes = outside_writes
        self.outside_author = outside_author

    @classmethod
    def _invoke(cls, operations: Operations, metadata: MetaData, **kw: Any) -> Any:
        return operations.invoke(cls(metadata, **kw))


@Operations.register_operation("install_vdm_triggers", "invoke_for")
class InstallVdmTriggersOp(_TriggersOp):
    """``op.install_vdm_triggers(metadata, outside_writes=None, outside_author=None)``.

    ``outside_writes``/``outside_author`` default to those given to
    :func:`vdm.sqlalchemy.native.enable` for ``metadata``.
    """

    @classmethod
    def invoke_for(cls, operations: Operations, metadata: MetaData,
                   outside_writes: str | None = None,
                   outside_author: str | None = None) -> Any:
        """Install or upgrade the native versioning triggers of ``metadata``."""
        return cls._invoke(operations, metadata, outside_writes=outside_writes,
                           outside_author=outside_author)


@Operations.register_operation("remove_vdm_triggers", "invoke_for")
class RemoveVdmTriggersOp(_TriggersOp):
    """``op.remove_vdm_triggers(metadata)``: the history stays."""

    @classmethod
    def invoke_for(cls, operations: Operations, metadata: MetaData) -> Any:
        """Remove the native versioning triggers of ``metadata``."""
        return cls._invoke(operations, metadata)


def _mode(op: _TriggersOp) -> native.NativeMode:
    base = native.mode_of(op.metadata) or native.NativeMode()
    return native.NativeMode(op.outside_writes or base.outside_writes,
                             op.outside_author if op.outside_author is not None
                             else base.outside_author)


@Operations.implementation_for(InstallVdmTriggersOp)
def _install(operations: Operations, op: InstallVdmTriggersOp) -> None:
    if operations.migration_context.as_sql:
        operations.execute(native.install_sql(op.metadata, _mode(op)))
    else:
        native.install(operations.get_bind(), op.metadata, _mode(op))


@Operations.implementation_for(RemoveVdmTriggersOp)
def _remove(operations: Operations, op: RemoveVdmTriggersOp) -> None:
    if operations.migration_context.as_sql:
        operations.execute(native.remove_sql(op.metadata))
    else:
        native.remove(operations.get_bind(), op.metadata)
