"""The PL/pgSQL of native versioning: generated text, one set per versioned table.

:mod:`vdm.sqlalchemy.native` decides *when* this SQL is installed; this
module only writes it.  Every function is generated from the tables of the
metadata (static SQL per table, no ``EXECUTE`` on the write path), so
PostgreSQL plans each statement once per connection.

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
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from vdm.naming import (
    EXPIRED_ID,
    OPERATION_TYPE,
    REVISION_ID,
    REVISION_SEQUENCE_TABLE,
    REVISION_TABLE,
    STATE,
    fit_name,
)
from vdm.operations import Operation
from vdm.states import State

#: Marks the comment of every function vdm installs: ``vdm native <hash>``.
COMMENT_PREFIX = "vdm native "
#: Name of the constraint trigger that runs the final step at commit.
FINALIZE_TRIGGER = "vdm_finalize_revision"
#: The sequence provisional revision ids are taken from.
CANDIDATE_SEQUENCE = "vdm_revision_candidate"
#: Trigger names on each versioned table.
TRIGGERS = ("vdm_stamp", "vdm_stamp_update", "vdm_insert", "vdm_update", "vdm_delete",
            "vdm_truncate")

_INS, _UPD, _DEL = (int(Operation.INSERT), int(Operation.UPDATE), int(Operation.DELETE))
_ACTIVE = State.ACTIVE.value
# The dialect class is untyped; only its quoting is used.
_pg = cast(Callable[[], Dialect], postgresql.dialect)()
_quote = _pg.identifier_preparer.quote


def digest(sql: str) -> str:
    """The version hash stored in a function's comment."""
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _qualified(schema: str | None, name: str) -> str:
    return _quote(name) if schema is None else f"{_quote(schema)}.{_quote(name)}"


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
    rev, seq = _quote(REVISION_TABLE), _quote(REVISION_SEQUENCE_TABLE)
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


COMMON_FUNCTIONS = ("vdm_new_revision", "vdm_begin_revision", "vdm_commit_revision",
                    "vdm_revision_id", "vdm_finalize_revision")


def common_hash() -> str:
    """The version hash of :func:`common_sql` (stored on ``vdm_finalize_revision``)."""
    return digest(common_sql())


def common_comment() -> str:
    """The statement that stores :func:`common_hash`."""
    return _comment("vdm_finalize_revision", common_sql())


def remove_common_sql() -> str:
    """Drop what :func:`common_sql` and :func:`settings_function` created."""
    return "\n".join([
        f"DROP TRIGGER IF EXISTS {FINALIZE_TRIGGER} ON {_quote(REVISION_TABLE)};",
        "DROP FUNCTION IF EXISTS vdm_finalize_revision();",
        "DROP FUNCTION IF EXISTS vdm_revision_id();",
        "DROP FUNCTION IF EXISTS vdm_commit_revision(boolean, text, text, text, text);",
        "DROP FUNCTION IF EXISTS vdm_begin_revision(text, text, text, text);",
        "DROP FUNCTION IF EXISTS vdm_new_revision(text, text, text, text);",
        "DROP FUNCTION IF EXISTS vdm_native_settings();",
        f"DROP SEQUENCE IF EXISTS {CANDIDATE_SEQUENCE};",
    ])


# -- per versioned table ---------------------------------------------------------

@dataclass(frozen=True)
class TableTriggers:
    """The generated SQL of one versioned table."""

    live: Table
    version: Table

    @property
    def key(self) -> list[str]:
        """Column names identifying a row (the version key minus ``revision_id``)."""
        return [c.name for c in self.version.primary_key.columns if c.name != REVISION_ID]

    @property
    def stamped(self) -> bool:
        """The live rows carry ``revision_id`` (an association table does not)."""
        return any(c.name == REVISION_ID for c in self.live.c)

    @property
    def columns(self) -> list[str]:
        """Live columns copied into versions (``revision_id`` aside)."""
        return [c.name for c in self.live.c if c.name != REVISION_ID]

    def function(self, part: str) -> str:
        """The qualified name of one of the table's functions."""
        return _qualified(self.live.schema, fit_name(f"{self.live.name}_vdm_{part}"))

    def _differ_sql(self, a: str, b: str, names: list[str]) -> str:
        parts = []
        for name in names:
            col = self.live.c[[c.key for c in self.live.c if c.name == name][0]]
            cast = "::text" if isinstance(col.type, JSON) and not isinstance(
                col.type, postgresql.JSONB) else ""
            parts.append(f"{a}.{_quote(name)}{cast} IS DISTINCT FROM {b}.{_quote(name)}{cast}")
        return " OR ".join(parts) or "false"

    def _key_is(self, alias: str, record: str) -> str:
        return " AND ".join(f"{alias}.{_quote(k)} = {record}.{_quote(k)}" for k in self.key)

    def _version_columns(self) -> tuple[str, str]:
        """Target columns and the extra values for a version row."""
        names = [*self.columns, REVISION_ID, OPERATION_TYPE]
        state = "" if any(c.name == STATE for c in self.live.c) else f", '{_ACTIVE}'"
        if state:
            names.append(STATE)
        return ", ".join(_quote(n) for n in names), state

    def _values(self, record: str, op: int) -> str:
        _, state = self._version_columns()
        cols = ", ".join(f"{record}.{_quote(n)}" for n in self.columns)
        return f"{cols}, rid, {op}{state}"

    def _upsert_tail(self, keep_insert: bool) -> str:
        conflict = ", ".join(_quote(n) for n in [*self.key, REVISION_ID])
        sets = [f"{_quote(n)} = EXCLUDED.{_quote(n)}" for n in self.columns if n not in self.key]
        op = (f"CASE WHEN t.{OPERATION_TYPE} = {_INS} THEN {_INS} ELSE {_UPD} END"
              if keep_insert else str(_UPD))
        sets.append(f"{OPERATION_TYPE} = {op}")
        return f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(sets)}"

    def _vt(self) -> str:
        return _qualified(self.version.schema, self.version.name)

    def _lt(self) -> str:
        return _qualified(self.live.schema, self.live.name)

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
        rev = _quote(REVISION_ID)
        same_as_prev = " AND ".join(
            f"v.{_quote(n)} IS NOT DISTINCT FROM NEW.{_quote(n)}" for n in self.columns)
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
        source = ", ".join(f"n.{_quote(n)}" for n in self.columns)
        same = " AND ".join(
            f"p.{_quote(n)} IS NOT DISTINCT FROM v.{_quote(n)}" for n in self.columns)
        keys = ", ".join(f"v.{_quote(k)}" for k in self.key)
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
        rev = _quote(REVISION_ID)
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
        rev = _quote(REVISION_ID)
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
