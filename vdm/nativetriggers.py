"""Native versioning as PL/pgSQL: what the triggers of a versioned table do.

Native versioning lets the database write the version rows: triggers on
each versioned table write its ``<table>_revision`` rows in the statement
that changed it, with the same schema and guarantees as the Python mode.
This module writes that SQL, from names alone (a :class:`vdm.tables.TableRecord`
per versioned table), and checks what a database has installed; a backend
decides *when* it is installed (:mod:`vdm.sqlalchemy.native`).  Every
function is generated per table (static SQL, no ``EXECUTE`` on the write
path), so PostgreSQL plans each statement once per connection.

The database keeps the transaction's revision in transaction-local
settings (``set_config(..., true)``):

``vdm.revision_id``
    the *provisional* id of the revision this transaction writes: the next
    value of the sequence ``vdm_revision_candidate``, taken without a lock;
``vdm.source`` / ``vdm.author`` / ``vdm.message``
    set by :func:`vdm_begin_revision` when vdm's ORM path writes, so that a
    revision allocated later in the transaction keeps its metadata;
``vdm.touched``
    the finishing functions of the tables written, run at commit;
``vdm.bypass``
    ``1`` while vdm itself rewrites rows (the final step, maintenance):
    the triggers then leave the rows alone.

At commit a deferred constraint trigger on ``revision`` runs the final
step: it locks the ``revision_sequence`` row and compares the provisional
id with the last committed one.  Larger (no later-started writer committed
first: the usual case) it becomes final as it is; otherwise the revision
takes a new id, written over the provisional one in the revision, version
and live rows.  Either way the ids follow commit order, and the timestamp,
stamped then, never decreases along them.

Each installed function carries a hash of its source in its comment
(``vdm native <hash>``): :func:`trigger_problems` compares those with the
SQL this vdm would install.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from vdm import naming
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE, fit_name
from vdm.operations import Operation
from vdm.sql import Sql
from vdm.states import State
from vdm.tables import TableRecord
from vdm.violations import Violation, violation

#: Marks the comment of every function vdm installs: ``vdm native <hash>``.
COMMENT_PREFIX = "vdm native "
#: Name of the constraint trigger that runs the final step at commit.
FINALIZE_TRIGGER = "vdm_finalize_revision"
#: The function whose comment holds the hash of :func:`common_sql`.
FINALIZE_FUNCTION = "vdm_finalize_revision"
#: The sequence provisional revision ids are taken from.
CANDIDATE_SEQUENCE = "vdm_revision_candidate"
#: Trigger names on each versioned table.
TRIGGERS = ("vdm_stamp", "vdm_stamp_update", "vdm_insert", "vdm_update", "vdm_delete",
            "vdm_truncate")
#: The triggers only a table whose rows carry ``revision_id`` has.
STAMP_TRIGGERS = ("vdm_stamp", "vdm_stamp_update")
#: What a write from outside vdm gets.
OUTSIDE_WRITES = ("automatic", "refuse")

_INS, _UPD, _DEL = (int(Operation.INSERT), int(Operation.UPDATE), int(Operation.DELETE))
_ACTIVE = State.ACTIVE.value

#: PostgreSQL's reserved words, as SQLAlchemy's PostgreSQL dialect lists
#: them: a name among them is quoted (so the generated text, and the hashes
#: of installed functions, stay what they were when SQLAlchemy quoted).
PG_RESERVED_WORDS = frozenset("""
all analyse analyze and any array as asc asymmetric authorization between binary both
case cast check collate column constraint create cross current_catalog current_date
current_role current_schema current_time current_timestamp current_user default
deferrable desc distinct do else end except false fetch for foreign freeze from full
grant group having ilike in initially inner intersect into is isnull join leading left
like limit localtime localtimestamp natural new not notnull null of off offset old on
only or order outer over overlaps placing primary references returning right select
session_user similar some symmetric table then to trailing true union unique user using
variadic verbose when where window with
""".split())
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


@dataclass(frozen=True)
class NativeMode:
    """How a native database treats writes from outside vdm."""

    #: ``"automatic"``: an automatic revision; ``"refuse"``: an error.
    outside_writes: str = "automatic"
    #: Author of automatic revisions (None: the database user).
    outside_author: str | None = None


def pg_quote(name: str) -> str:
    """``name`` as a PostgreSQL identifier: double-quoted when it must be.

    A name is left bare when PostgreSQL reads it back as it is: lower case
    letters, digits, ``_`` and ``$``, not starting with a digit or ``$``,
    and not a reserved word (``order`` is quoted, so is ``Book``).
    """
    if _PLAIN_NAME.fullmatch(name) and name not in PG_RESERVED_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def digest(sql: str) -> str:
    """The version hash stored in a function's comment."""
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _qualified(schema: str | None, name: str) -> str:
    return pg_quote(name) if schema is None else f"{pg_quote(schema)}.{pg_quote(name)}"


def _comment(function: str, sql: str) -> str:
    return f"COMMENT ON FUNCTION {function}() IS {_literal(COMMENT_PREFIX + digest(sql))};"


# -- the functions every native database has once ------------------------------

def settings_function(outside_writes: str, outside_author: str | None) -> str:
    """``vdm_native_settings()``: how writes from outside vdm are treated."""
    author = "NULL" if outside_author is None else _literal(outside_author)
    return (
        "CREATE OR REPLACE FUNCTION vdm_native_settings("
        "OUT outside_writes text, OUT outside_author text) "
        "LANGUAGE sql IMMUTABLE AS "
        f"$$ SELECT {_literal(outside_writes)}::text, {author}::text $$;"
    )


def common_sql() -> str:
    """The shared functions and the commit-time constraint trigger."""
    rev, seq = pg_quote(naming.REVISION_TABLE), pg_quote(naming.REVISION_SEQUENCE_TABLE)
    return f"""
CREATE SEQUENCE IF NOT EXISTS {CANDIDATE_SEQUENCE};
-- Candidates start above every id there is (never moving back).
SELECT setval('{CANDIDATE_SEQUENCE}', x.m)
  FROM (SELECT greatest((SELECT coalesce(max(id), 0) FROM {rev}),
                        (SELECT coalesce(max(last_id), 0) FROM {seq})) AS m) x,
       {CANDIDATE_SEQUENCE} c
 WHERE x.m > 0 AND x.m > CASE WHEN c.is_called THEN c.last_value ELSE c.last_value - 1 END;

CREATE OR REPLACE FUNCTION vdm_new_revision(p_author text, p_message text, p_state text,
                                            p_extra text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  rid integer := nextval('{CANDIDATE_SEQUENCE}');
BEGIN
  -- A provisional id, taken without a lock: final at commit unless a
  -- writer that took a later one committed first.
  PERFORM set_config('vdm.revision_id', rid::text, true);
  INSERT INTO {rev} (id, timestamp, author, message, state, extra)
  VALUES (rid, timezone('UTC', clock_timestamp()), p_author, p_message,
          coalesce(p_state, '{_ACTIVE}'), p_extra);
  RETURN rid;
END $$;

CREATE OR REPLACE FUNCTION vdm_begin_revision(p_author text, p_message text, p_state text,
                                              p_extra text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  current text := current_setting('vdm.revision_id', true);
BEGIN
  PERFORM set_config('vdm.source', 'vdm', true);
  PERFORM set_config('vdm.author', coalesce(p_author, ''), true);
  PERFORM set_config('vdm.message', coalesce(p_message, ''), true);
  IF current IS NOT NULL AND current <> '' THEN
    UPDATE {rev} SET author = p_author, message = p_message,
                     state = coalesce(p_state, '{_ACTIVE}'), extra = p_extra
     WHERE id = current::integer;
    RETURN current::integer;
  END IF;
  RETURN vdm_new_revision(p_author, p_message, p_state, p_extra);
END $$;

CREATE OR REPLACE FUNCTION vdm_commit_revision(p_changed boolean, p_author text,
                                               p_message text, p_state text, p_extra text)
RETURNS TABLE (final_id integer, final_timestamp timestamp)
LANGUAGE plpgsql AS $$
DECLARE
  current text := current_setting('vdm.revision_id', true);
BEGIN
  -- The session's last word: what is on the revision now is stored, then
  -- the final step runs (it would at COMMIT) so the session learns the id.
  IF p_changed AND current IS NOT NULL AND current <> '' THEN
    UPDATE {rev} SET author = p_author, message = p_message,
                     state = coalesce(p_state, '{_ACTIVE}'), extra = p_extra
     WHERE id = current::integer;
  END IF;
  SET CONSTRAINTS {FINALIZE_TRIGGER} IMMEDIATE;
  RETURN QUERY SELECT r.id, r.timestamp FROM {rev} r
   WHERE r.id = nullif(current_setting('vdm.final_id', true), '')::integer;
END $$;

CREATE OR REPLACE FUNCTION vdm_revision_id() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  current text := current_setting('vdm.revision_id', true);
  mode text;
  who text;
BEGIN
  IF current IS NOT NULL AND current <> '' THEN
    RETURN current::integer;
  END IF;
  IF current_setting('vdm.source', true) = 'vdm' THEN
    RETURN vdm_new_revision(nullif(current_setting('vdm.author', true), ''),
                            nullif(current_setting('vdm.message', true), ''), NULL, NULL);
  END IF;
  SELECT s.outside_writes, s.outside_author INTO mode, who FROM vdm_native_settings() s;
  IF mode = 'refuse' THEN
    RAISE EXCEPTION 'vdm: a write from outside vdm to a versioned table (database user %, '
                    'application %) is refused; write through vdm or call '
                    'vdm_begin_revision(author, message, NULL, NULL) first',
                    session_user, coalesce(nullif(current_setting('application_name', true), ''),
                                           'unnamed')
          USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN vdm_new_revision(
    coalesce(who, session_user::text),
    'automatic revision: written from outside vdm by database user ' || session_user
      || ' (application ' || coalesce(nullif(current_setting('application_name', true), ''),
                                      'unnamed') || ')',
    NULL, NULL);
END $$;

CREATE OR REPLACE FUNCTION vdm_finalize_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  prov integer := NEW.id;
  last integer;
  final integer;
  fn text;
  fns text[] := string_to_array(coalesce(current_setting('vdm.touched', true), ''), ';');
  written integer := 0;
  n integer;
BEGIN
  IF current_setting('vdm.revision_id', true) IS DISTINCT FROM prov::text THEN
    RETURN NULL;  -- finished already (SET CONSTRAINTS ... IMMEDIATE)
  END IF;
  PERFORM set_config('vdm.bypass', '1', true);
  FOREACH fn IN ARRAY fns LOOP
    CONTINUE WHEN fn = '';
    EXECUTE 'SELECT ' || fn || '($1, $1)' INTO n USING prov;
    written := written + n;
  END LOOP;
  IF written = 0 THEN
    -- The revision changed nothing in the end: it leaves no row.
    DELETE FROM {rev} WHERE id = prov;
  ELSE
    -- The short final step: from here to commit, writers serialise.
    SELECT last_id INTO last FROM {seq} WHERE id = 1 FOR UPDATE;
    IF last IS NULL THEN
      INSERT INTO {seq} (id, last_id)
      SELECT 1, coalesce(max(id), 0) FROM {rev} WHERE id <> prov
      RETURNING last_id INTO last;
    END IF;
    IF prov > last THEN
      final := prov;
    ELSE
      -- A writer that started later committed first: take a new id.
      final := greatest(nextval('{CANDIDATE_SEQUENCE}'), last + 1);
      PERFORM setval('{CANDIDATE_SEQUENCE}', final);
      INSERT INTO {rev} (id, timestamp, author, message, state, extra)
      SELECT final, timestamp, author, message, state, extra FROM {rev} WHERE id = prov;
      FOREACH fn IN ARRAY fns LOOP
        CONTINUE WHEN fn = '';
        EXECUTE 'SELECT ' || fn || '($1, $2)' INTO n USING prov, final;
      END LOOP;
      DELETE FROM {rev} WHERE id = prov;
    END IF;
    UPDATE {seq} SET last_id = final WHERE id = 1;
    UPDATE {rev} SET timestamp = greatest(
        timezone('UTC', clock_timestamp()),
        (SELECT r.timestamp FROM {rev} r WHERE r.id = last))
     WHERE id = final;
  END IF;
  PERFORM set_config('vdm.final_id', coalesce(final::text, ''), true);
  PERFORM set_config('vdm.revision_id', '', true);
  PERFORM set_config('vdm.touched', '', true);
  PERFORM set_config('vdm.bypass', '', true);
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS {FINALIZE_TRIGGER} ON {rev};
CREATE CONSTRAINT TRIGGER {FINALIZE_TRIGGER} AFTER INSERT ON {rev}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.id::text = current_setting('vdm.revision_id', true))
  EXECUTE FUNCTION vdm_finalize_revision();
"""


def common_hash() -> str:
    """The version hash of :func:`common_sql` (stored on :data:`FINALIZE_FUNCTION`)."""
    return digest(common_sql())


def common_comment() -> str:
    """The statement that stores :func:`common_hash`."""
    return _comment(FINALIZE_FUNCTION, common_sql())


def remove_common_sql() -> str:
    """Drop what :func:`common_sql` and :func:`settings_function` created."""
    return "\n".join([
        f"DROP TRIGGER IF EXISTS {FINALIZE_TRIGGER} ON {pg_quote(naming.REVISION_TABLE)};",
        "DROP FUNCTION IF EXISTS vdm_finalize_revision();",
        "DROP FUNCTION IF EXISTS vdm_revision_id();",
        "DROP FUNCTION IF EXISTS vdm_commit_revision(boolean, text, text, text, text);",
        "DROP FUNCTION IF EXISTS vdm_begin_revision(text, text, text, text);",
        "DROP FUNCTION IF EXISTS vdm_new_revision(text, text, text, text);",
        "DROP FUNCTION IF EXISTS vdm_native_settings();",
        f"DROP SEQUENCE IF EXISTS {CANDIDATE_SEQUENCE};",
    ])


# -- per versioned table ---------------------------------------------------------

def trigger_record(table: str, version_table: str, schema: str | None,
                   columns: Mapping[str, str], version_key: Sequence[str],
                   text_compared: Iterable[str] = ()) -> TableRecord:
    """The :class:`TableRecord` :class:`TableTriggers` reads, for one versioned table.

    ``columns`` maps attribute names to the names of *all* the live table's
    columns, in table order; ``version_key`` is the version table's primary
    key.  ``revision_id`` and ``state`` among them make the table stamped
    and stateful.
    """
    names = set(columns.values())
    return TableRecord(
        name=table, table=table, version_table=version_table,
        key_columns=tuple(k for k in version_key if k != REVISION_ID),
        columns={a: n for a, n in columns.items() if n != REVISION_ID},
        stateful=STATE in names, schema=schema, stamped=REVISION_ID in names,
        text_compared=frozenset(text_compared))


@dataclass(frozen=True)
class TableTriggers:
    """The generated SQL of one versioned table, from its :class:`TableRecord`.

    The record names the live table (``table``, ``schema``), its version
    table, the key columns, every live column but ``revision_id``
    (``columns``, in table order: the version rows copy them), whether the
    live table has ``state`` (``stateful``) and ``revision_id``
    (``stamped``), and which columns compare as text (``text_compared``).
    """

    record: TableRecord

    @property
    def key(self) -> list[str]:
        """Column names identifying a row (the version key minus ``revision_id``)."""
        return list(self.record.key_columns)

    @property
    def stamped(self) -> bool:
        """The live rows carry ``revision_id`` (an association table does not)."""
        return self.record.stamped

    @property
    def columns(self) -> list[str]:
        """Live columns copied into versions (``revision_id`` aside)."""
        return list(self.record.columns.values())

    def function(self, part: str) -> str:
        """The qualified name of one of the table's functions."""
        return _qualified(self.record.schema, self.function_name(part))

    def function_name(self, part: str) -> str:
        """The unqualified, unquoted name of one of the table's functions."""
        return fit_name(f"{self.record.table}_vdm_{part}")

    def _differ_sql(self, a: str, b: str, names: list[str]) -> str:
        parts = []
        for name in names:
            cast = "::text" if name in self.record.text_compared else ""
            parts.append(f"{a}.{pg_quote(name)}{cast} IS DISTINCT FROM {b}.{pg_quote(name)}{cast}")
        return " OR ".join(parts) or "false"

    def _key_is(self, alias: str, record: str) -> str:
        return " AND ".join(f"{alias}.{pg_quote(k)} = {record}.{pg_quote(k)}" for k in self.key)

    def _version_columns(self) -> tuple[str, str]:
        """Target columns and the extra values for a version row."""
        names = [*self.columns, REVISION_ID, OPERATION_TYPE]
        state = "" if self.record.stateful else f", '{_ACTIVE}'"
        if state:
            names.append(STATE)
        return ", ".join(pg_quote(n) for n in names), state

    def _values(self, record: str, op: int) -> str:
        _, state = self._version_columns()
        cols = ", ".join(f"{record}.{pg_quote(n)}" for n in self.columns)
        return f"{cols}, rid, {op}{state}"

    def _upsert_tail(self, keep_insert: bool) -> str:
        conflict = ", ".join(pg_quote(n) for n in [*self.key, REVISION_ID])
        sets = [f"{pg_quote(n)} = EXCLUDED.{pg_quote(n)}"
                for n in self.columns if n not in self.key]
        op = (f"CASE WHEN t.{OPERATION_TYPE} = {_INS} THEN {_INS} ELSE {_UPD} END"
              if keep_insert else str(_UPD))
        sets.append(f"{OPERATION_TYPE} = {op}")
        return f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(sets)}"

    def _vt(self) -> str:
        return _qualified(self.record.schema, self.record.version_table)

    def _lt(self) -> str:
        return _qualified(self.record.schema, self.record.table)

    def _touch(self) -> str:
        fin = _literal(self.function("finish"))
        return (f"  touched := coalesce(current_setting('vdm.touched', true), '');\n"
                f"  IF strpos(touched, ';' || {fin} || ';') = 0 THEN\n"
                f"    PERFORM set_config('vdm.touched', touched || ';' || {fin} || ';', true);\n"
                f"  END IF;\n")

    #: The transaction's revision; the function only when it has none yet.
    _RID = ("coalesce(nullif(current_setting('vdm.revision_id', true), '')::integer, "
            "vdm_revision_id())")

    _BYPASS = "  IF current_setting('vdm.bypass', true) = '1' THEN RETURN {ret}; END IF;\n"

    def _trigger_function(self, part: str, variables: tuple[str, ...], body: str,
                          ret: str) -> str:
        """A trigger function of the table: declarations, the bypass check, ``body``."""
        declare = "".join(f"  {v};\n" for v in variables)
        return (f"\nCREATE OR REPLACE FUNCTION {self.function(part)}() RETURNS trigger\n"
                f"LANGUAGE plpgsql AS $$\n"
                f"{'DECLARE' + chr(10) + declare if declare else ''}BEGIN\n"
                f"{self._BYPASS.format(ret=ret)}{body}\nEND $$;\n")

    def _delete_block(self, record: str) -> str:
        vt, cols = self._vt(), self._version_columns()[0]
        return f"""
  SELECT v.{OPERATION_TYPE} INTO own FROM {vt} v
   WHERE {self._key_is('v', record)} AND v.{REVISION_ID} = rid;
  IF own = {_INS} THEN
    DELETE FROM {vt} v WHERE {self._key_is('v', record)} AND v.{REVISION_ID} = rid;
    UPDATE {vt} v SET {EXPIRED_ID} = NULL
     WHERE {self._key_is('v', record)} AND v.{EXPIRED_ID} = rid;
  ELSIF own IS NOT NULL THEN
    UPDATE {vt} v SET {OPERATION_TYPE} = {_DEL}
     WHERE {self._key_is('v', record)} AND v.{REVISION_ID} = rid;
  ELSE
    UPDATE {vt} v SET {EXPIRED_ID} = rid
     WHERE {self._key_is('v', record)} AND v.{EXPIRED_ID} IS NULL;
    INSERT INTO {vt} ({cols}) VALUES ({self._values(record, _DEL)});
  END IF;
"""

    def _write_block(self, record: str, op: int) -> str:
        vt, cols = self._vt(), self._version_columns()[0]
        return f"""
  WITH expired AS (
    UPDATE {vt} v SET {EXPIRED_ID} = rid
     WHERE {self._key_is('v', record)} AND v.{EXPIRED_ID} IS NULL AND v.{REVISION_ID} <> rid)
  INSERT INTO {vt} AS t ({cols}) VALUES ({self._values(record, op)})
  {self._upsert_tail(keep_insert=True)};
"""

    def stamp_sql(self) -> str:
        """BEFORE row trigger: stamp ``revision_id``; keep it on a no-op update."""
        vt = self._vt()
        rev = pg_quote(REVISION_ID)
        same_as_prev = " AND ".join(
            f"v.{pg_quote(n)} IS NOT DISTINCT FROM NEW.{pg_quote(n)}" for n in self.columns)
        changed = self._differ_sql("NEW", "OLD", self.columns)
        return self._trigger_function(
            'stamp', ('rid integer', 'prev integer'), f"""
  IF TG_OP = 'UPDATE' THEN
    IF NOT ({changed}) THEN
      NEW.{rev} := OLD.{rev};
      RETURN NEW;
    END IF;
    rid := {self._RID};
    IF OLD.{rev} = rid AND NOT ({self._differ_sql('NEW', 'OLD', self.key)}) THEN
      -- Set back to the values of the version this revision expired:
      -- the change is undone and stores nothing.
      SELECT v.{rev} INTO prev FROM {vt} v
       WHERE {self._key_is('v', 'NEW')} AND v.{EXPIRED_ID} = rid
         AND v.{OPERATION_TYPE} <> {_DEL} AND {same_as_prev};
      IF FOUND THEN
        NEW.{rev} := prev;
        RETURN NEW;
      END IF;
    END IF;
    NEW.{rev} := rid;
    RETURN NEW;
  END IF;
  NEW.{rev} := {self._RID};
  RETURN NEW;""", ret='NEW')

    def insert_sql(self) -> str:
        """AFTER INSERT statement trigger: version the new rows set-based."""
        vt, cols = self._vt(), self._version_columns()[0]
        _, state = self._version_columns()
        source = ", ".join(f"n.{pg_quote(n)}" for n in self.columns)
        same = " AND ".join(
            f"p.{pg_quote(n)} IS NOT DISTINCT FROM v.{pg_quote(n)}" for n in self.columns)
        keys = ", ".join(f"v.{pg_quote(k)}" for k in self.key)
        live_fix = "" if not self.stamped else f""",
    unexpired AS (
      UPDATE {vt} p SET {EXPIRED_ID} = NULL FROM back b
       WHERE {self._key_is('p', 'b')} AND p.{EXPIRED_ID} = rid)
    UPDATE {self._lt()} l SET {REVISION_ID} = b.vdm_prev FROM back b
     WHERE {self._key_is('l', 'b')};"""
        unexpire = live_fix or f"""
    UPDATE {vt} p SET {EXPIRED_ID} = NULL FROM back b
     WHERE {self._key_is('p', 'b')} AND p.{EXPIRED_ID} = rid;"""
        return self._trigger_function(
            'insert', ('rid integer', 'touched text', 'again integer'), f"""
  IF NOT EXISTS (SELECT 1 FROM vdm_new) THEN RETURN NULL; END IF;
  rid := {self._RID};
  UPDATE {vt} v SET {EXPIRED_ID} = rid FROM vdm_new n
   WHERE {self._key_is('v', 'n')} AND v.{EXPIRED_ID} IS NULL AND v.{REVISION_ID} <> rid;
  touched := coalesce(current_setting('vdm.touched', true), '');
  IF strpos(touched, ';' || {_literal(self.function('finish'))} || ';') = 0 THEN
    -- The revision's first versions of this table: none to replace.
    INSERT INTO {vt} ({cols})
    SELECT {source}, rid, {_INS}{state} FROM vdm_new n;
    PERFORM set_config('vdm.touched',
                       touched || ';' || {_literal(self.function('finish'))} || ';', true);
    RETURN NULL;
  END IF;
  WITH written AS (
    INSERT INTO {vt} AS t ({cols})
    SELECT {source}, rid, {_INS}{state} FROM vdm_new n
    {self._upsert_tail(keep_insert=False)}
    RETURNING t.xmax::text <> '0' AS again)
  SELECT count(*) FILTER (WHERE written.again) INTO again FROM written;
  IF again > 0 THEN
    -- Rows destroyed and created again in this revision, as they were:
    -- nothing changed, the previous versions are current again.
    PERFORM set_config('vdm.bypass', '1', true);
    WITH back AS (
      DELETE FROM {vt} v USING vdm_new n, {vt} p
       WHERE {self._key_is('v', 'n')} AND v.{REVISION_ID} = rid AND v.{OPERATION_TYPE} = {_UPD}
         AND {self._key_is('p', 'n')} AND p.{EXPIRED_ID} = rid
         AND p.{OPERATION_TYPE} <> {_DEL} AND {same}
      RETURNING {keys}, p.{REVISION_ID} AS vdm_prev){unexpire}
    PERFORM set_config('vdm.bypass', '', true);
  END IF;
{self._touch()}  RETURN NULL;""", ret='NULL')

    def update_sql(self) -> str:
        """AFTER UPDATE row trigger."""
        vt = self._vt()
        rev = pg_quote(REVISION_ID)
        set_back = "" if not self.stamped else f"""
  IF NEW.{rev} <> rid THEN
    -- Set back: drop this revision's version, the previous one is current again.
    DELETE FROM {vt} v WHERE {self._key_is('v', 'NEW')} AND v.{REVISION_ID} = rid;
    UPDATE {vt} v SET {EXPIRED_ID} = NULL
     WHERE {self._key_is('v', 'NEW')} AND v.{EXPIRED_ID} = rid;
{self._touch()}    RETURN NULL;
  END IF;
"""
        return self._trigger_function(
            'update', ('rid integer', 'own integer', 'touched text'), f"""
  IF {self._differ_sql('NEW', 'OLD', self.key)} THEN
    -- A new key is a new object: the old one ends here.
    rid := {self._RID};
{self._delete_block('OLD')}
{self._write_block('NEW', _INS)}
{self._touch()}    RETURN NULL;
  END IF;
  IF NOT ({self._differ_sql('NEW', 'OLD', self.columns)}) THEN RETURN NULL; END IF;
  rid := {self._RID};
{set_back}
{self._write_block('NEW', _UPD)}
{self._touch()}  RETURN NULL;""", ret='NULL')

    def delete_sql(self) -> str:
        """AFTER DELETE row trigger: a hard delete is a delete version."""
        return self._trigger_function(
            'delete', ('rid integer', 'own integer', 'touched text'), f"""
  rid := {self._RID};
{self._delete_block('OLD')}
{self._touch()}  RETURN NULL;""", ret='NULL')

    def truncate_sql(self) -> str:
        """BEFORE TRUNCATE: refused, it would bypass history."""
        return self._trigger_function(
            'truncate', (), """
  RAISE EXCEPTION 'vdm: TRUNCATE of versioned table % '
                  'would bypass its history; use DELETE', TG_TABLE_NAME
        USING ERRCODE = 'feature_not_supported';""", ret='NULL')

    def finish_sql(self) -> str:
        """At commit: count this revision's versions (``prov = final``), or
        rewrite the provisional id to the final one."""
        vt, lt = self._vt(), self._lt()
        live = "" if not self.stamped else (
            f"  UPDATE {lt} SET {REVISION_ID} = final WHERE {REVISION_ID} = prov;\n")
        return f"""
CREATE OR REPLACE FUNCTION {self.function('finish')}(prov integer, final integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  IF prov = final THEN
    RETURN (SELECT count(*) FROM (SELECT 1 FROM {vt} WHERE {REVISION_ID} = prov LIMIT 1) x);
  END IF;
  UPDATE {vt} SET {REVISION_ID} = final WHERE {REVISION_ID} = prov;
  GET DIAGNOSTICS n = ROW_COUNT;
  UPDATE {vt} SET {EXPIRED_ID} = final WHERE {EXPIRED_ID} = prov;
{live}  RETURN n;
END $$;
"""

    def triggers_sql(self) -> str:
        """(Re)create the triggers on the live table.

        The ``WHEN`` conditions keep the functions from running (and AFTER
        events from being queued) when there is nothing for them to do:
        while vdm rewrites rows itself, and for a row the ORM inserts
        already stamped with the transaction's revision.
        """
        lt = self._lt()
        live = "current_setting('vdm.bypass', true) IS DISTINCT FROM '1'"
        rev = pg_quote(REVISION_ID)
        out = [f"DROP TRIGGER IF EXISTS {t} ON {lt};" for t in TRIGGERS]
        if self.stamped:
            out += [
                f"CREATE TRIGGER vdm_stamp BEFORE INSERT ON {lt} FOR EACH ROW "
                f"WHEN (NEW.{rev} IS NULL OR NEW.{rev} IS DISTINCT FROM "
                f"nullif(current_setting('vdm.revision_id', true), '')::integer) "
                f"EXECUTE FUNCTION {self.function('stamp')}();",
                f"CREATE TRIGGER vdm_stamp_update BEFORE UPDATE ON {lt} FOR EACH ROW "
                f"WHEN ({live}) EXECUTE FUNCTION {self.function('stamp')}();",
            ]
        out += [
            f"CREATE TRIGGER vdm_insert AFTER INSERT ON {lt} REFERENCING NEW TABLE AS vdm_new "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {self.function('insert')}();",
            f"CREATE TRIGGER vdm_update AFTER UPDATE ON {lt} FOR EACH ROW "
            f"WHEN ({live}) EXECUTE FUNCTION {self.function('update')}();",
            f"CREATE TRIGGER vdm_delete AFTER DELETE ON {lt} FOR EACH ROW "
            f"WHEN ({live}) EXECUTE FUNCTION {self.function('delete')}();",
            f"CREATE TRIGGER vdm_truncate BEFORE TRUNCATE ON {lt} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {self.function('truncate')}();",
        ]
        return "\n".join(out)

    def functions_sql(self) -> str:
        """Every function of the table."""
        parts = [self.insert_sql(), self.update_sql(), self.delete_sql(),
                 self.truncate_sql(), self.finish_sql()]
        if self.stamped:
            parts.insert(0, self.stamp_sql())
        return "\n".join(parts)

    def hash(self) -> str:
        """The version hash of this table's generated SQL."""
        return digest(self.functions_sql() + self.triggers_sql())

    def install_sql(self) -> str:
        """Functions, triggers and the hash comment."""
        return "\n".join([
            self.functions_sql(), self.triggers_sql(),
            f"COMMENT ON FUNCTION {self.function('delete')}() IS "
            f"{_literal(COMMENT_PREFIX + self.hash())};",
        ])

    def remove_sql(self) -> str:
        """Drop the triggers and functions of the table."""
        lt = self._lt()
        out = [f"DROP TRIGGER IF EXISTS {t} ON {lt};" for t in TRIGGERS]
        for part in ("stamp", "insert", "update", "delete", "truncate"):
            out.append(f"DROP FUNCTION IF EXISTS {self.function(part)}();")
        out.append(f"DROP FUNCTION IF EXISTS {self.function('finish')}(integer, integer);")
        return "\n".join(out)


# -- a database's whole script, and what it has installed --------------------------

def install_script(records: Iterable[TableRecord], mode: NativeMode) -> str:
    """Every function and trigger of native versioning for these tables.

    Idempotent when run: every function is replaced and every trigger
    re-created, so it is also the upgrade.
    """
    sql = [settings_function(mode.outside_writes, mode.outside_author),
           common_sql(), common_comment()]
    sql += [TableTriggers(record).install_sql() for record in records]
    return "\n".join(sql)


def remove_script(records: Iterable[TableRecord]) -> str:
    """Drop what :func:`install_script` created; the tables and history stay."""
    sql = [TableTriggers(record).remove_sql() for record in records]
    sql.append(remove_common_sql())
    return "\n".join(sql)


_HASH_QUERY = (
    "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.proname = :name AND n.nspname = coalesce(:schema, current_schema())"
)
_TRIGGER_QUERY = (
    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relname = :table AND n.nspname = coalesce(:schema, current_schema()) "
    "AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
)


def installed_hash(sql: Sql, name: str, schema: str | None) -> str | None:
    """The hash in the comment of function ``name``: None when there is no
    such function, ``""`` when its comment is not vdm's."""
    rows = sql.rows(_HASH_QUERY, {"name": name, "schema": schema})
    if not rows:
        return None
    comment = rows[0][0] or ""
    return comment[len(COMMENT_PREFIX):] if comment.startswith(COMMENT_PREFIX) else ""


def trigger_problems(sql: Sql, records: Iterable[TableRecord]) -> list[Violation]:
    """The versioned tables (and the commit-time function) whose triggers
    are missing or stale on ``sql``'s PostgreSQL database.

    Reported as :class:`vdm.violations.Violation` of kind
    ``missing-trigger`` or ``stale-trigger``.
    """
    found: list[Violation] = []
    common = installed_hash(sql, FINALIZE_FUNCTION, None)
    if common != common_hash():
        kind = "missing-trigger" if common is None else "stale-trigger"
        found.append(violation(kind, naming.REVISION_TABLE, None, None,
                               "the commit-time revision function"))
    for record in records:
        triggers = TableTriggers(record)
        installed = installed_hash(sql, triggers.function_name("delete"), record.schema)
        present = {r[0] for r in sql.rows(
            _TRIGGER_QUERY, {"table": record.table, "schema": record.schema})}
        expected = set(TRIGGERS) - (set() if triggers.stamped else set(STAMP_TRIGGERS))
        if installed is None or not expected <= present:
            found.append(violation("missing-trigger", record.table, None, None,
                                   f"versioned table {record.table!r}"))
        elif installed != triggers.hash():
            found.append(violation("stale-trigger", record.table, None, None,
                                   repr(record.table)))
    return found
