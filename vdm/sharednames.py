"""The public names both backend packages export as one and the same object.

:mod:`vdm.sqlalchemy` and :mod:`vdm.sqlobject` each add what is their
ORM's own (the mixins, ``Revision``, ``Version``, sessions) to these.  A name
listed here means the same thing on both backends because it *is* the same
object: the core's inspection, restore and link functions, which reach the
backend through :mod:`vdm.backends`, and the result and vocabulary types.
"""

from vdm.changes import ModelDiff, ObjectChange, RevisionChanges
from vdm.collections import StatefulDict, StatefulList
from vdm.inspecting import blame, changes_in, diff_model, field_history
from vdm.linking import add_stateful_versioned_dict, add_stateful_versioned_m2m
from vdm.operations import Operation
from vdm.restoring import restore_model, restore_object, undo_revision
from vdm.states import State
from vdm.violations import Violation

__all__ = [
    "ModelDiff",
    "ObjectChange",
    "Operation",
    "RevisionChanges",
    "State",
    "StatefulDict",
    "StatefulList",
    "Violation",
    "add_stateful_versioned_dict",
    "add_stateful_versioned_m2m",
    "blame",
    "changes_in",
    "diff_model",
    "field_history",
    "restore_model",
    "restore_object",
    "undo_revision",
]
