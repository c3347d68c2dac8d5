"""Core statements compiled once per database and run on the driver's cursor.

Every sign-in runs the same handful of statements (store the pending flow, consume it, find
the identity, lock the user, store the session and the event). Through SQLAlchemy's
``Connection.execute`` each cost about 0.25M instructions, most of it SQLAlchemy's own work
around the driver's (the compiled-statement cache, parameter and result set-up); on the
driver's cursor, a tenth of that.

A :class:`PreparedStatement` keeps what SQLAlchemy would do and skips the rest: the SQL is
compiled from the same Core statement (so it follows the table definitions), once per
dialect; each parameter goes through its column type's bind processor and each result
column through its result processor (aware UTC datetimes, JSON, booleans on SQLite), as
``execute`` would; driver errors are raised as SQLAlchemy's (``IntegrityError`` for a
duplicate key). It runs on the driver's connection inside the caller's transaction; what it
does not do: engine events and ``echo`` logging, ``IN`` lists (expanding parameters) and
column defaults (every parameter must be given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import BindParameter, Connection, Dialect, Insert, Table, bindparam, insert
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None
_REQUIRED = object()
M = TypeVar("M")


class PreparedStatement:
    """One Core statement, run with :meth:`rows` or :meth:`run` on a SQLAlchemy connection."""

    def __init__(
        self, statement: ClauseElement, *, variants: Mapping[str, ClauseElement] | None = None
    ) -> None:
        """``variants``: by dialect name, a statement to run there instead (a dialect's own
        ``INSERT ... ON CONFLICT``); it must take the same parameters and return the same
        columns."""
        self.statement = statement
        self.variants = dict(variants or {})
        #: The result's column names, in order (empty for a statement returning nothing).
        self.keys: tuple[str, ...] = tuple(
            column.key for column in getattr(statement, "exported_columns", ())
        )
        self._compiled: dict[str, _Compiled] = {}  # by dialect name

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row the statement returns, as tuples in :attr:`keys` order."""
        compiled = self._compiled_for(connection.dialect)
        cursor = _driver_connection(connection).cursor()
        try:
            compiled.execute(cursor, params)
            return compiled.processed(cursor, cursor.fetchall())
        except compiled.dbapi_error as exc:
            raise compiled.wrapped(exc, params) from exc
        finally:
            cursor.close()

    def run(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        compiled = self._compiled_for(connection.dialect)
        cursor = _driver_connection(connection).cursor()
        try:
            compiled.execute(cursor, params)
            return int(cursor.rowcount)
        except compiled.dbapi_error as exc:
            raise compiled.wrapped(exc, params) from exc
        finally:
            cursor.close()

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            # Two threads may both compile at first use: the same result, one kept.
            statement = self.variants.get(dialect.name, self.statement)
            compiled = self._compiled[dialect.name] = _Compiled(statement, dialect)
        return compiled


class _Compiled:
    """The statement's SQL for one dialect, its parameters in order and their processors."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared statement cannot have IN lists or literal parameters")
        self.sql = compiled.string
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        assert names is not None
        escaped = compiled.escaped_bind_names
        self.positional = bool(compiled.positional)
        #: (parameter name, name in the SQL, bind processor, value when not given): a value
        #: written into the statement (``.values(disabled=True)``) is a parameter too.
        self.params: list[tuple[str, str, _Processor, Any]] = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            default = _REQUIRED if bind.required else bind.effective_value
            self.params.append((name, escaped.get(name, name), processor, default))
        self.result_types = [
            column.type.dialect_impl(dialect)
            for column in getattr(statement, "exported_columns", ())
        ]
        self.dialect = dialect
        self.dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        self._result_processors: list[tuple[int, Callable[[Any], Any]]] | None = None

    def execute(self, cursor: Any, params: Mapping[str, Any]) -> None:
        positional: list[Any] = []
        named: dict[str, Any] = {}
        for name, sql_name, processor, default in self.params:
            value = params[name] if default is _REQUIRED else params.get(name, default)
            if processor is not None:
                value = processor(value)
            if self.positional:
                positional.append(value)
            else:
                named[sql_name] = value
        cursor.execute(self.sql, positional if self.positional else named)

    def processed(self, cursor: Any, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        processors = self._result_processors
        if processors is None:
            # The driver's type codes are known once a result came back (psycopg's differ by
            # column type; some processors depend on them).
            codes = [column[1] for column in cursor.description or ()]
            found = []
            for index, type_ in enumerate(self.result_types):
                code = codes[index] if index < len(codes) else None
                processor = type_.result_processor(self.dialect, code)
                if processor is not None:
                    found.append((index, processor))
            processors = self._result_processors = found
        if not processors:
            return [tuple(row) for row in rows]
        processed = []
        for row in rows:
            values = list(row)
            for index, processor in processors:
                values[index] = processor(values[index])
            processed.append(tuple(values))
        return processed

    def wrapped(self, exc: Exception, params: Mapping[str, Any]) -> StatementError:
        # As SQLAlchemy's execute raises it (IntegrityError, OperationalError, ...), without
        # the parameters in the message: some are a flow's secrets (nonce, code verifier).
        return DBAPIError.instance(
            self.sql,
            dict(params),
            exc,
            self.dbapi_error,
            hide_parameters=True,
            dialect=self.dialect,
        )


def _driver_connection(connection: Connection) -> Any:
    """The driver's connection under ``connection``, in a transaction begun as ``execute``
    would begin it (and ends it with ``connection.commit()`` or the caller's block)."""
    if not connection.in_transaction():
        connection.begin()
    # The DB-API connection is the driver's own for synchronous drivers (SQLAlchemy adapts
    # only asyncio ones), and a detached connection (store.database.own_connection) has it
    # where its pool record is gone.
    return connection.connection.dbapi_connection


def insert_row(table: Table) -> Insert:
    """An ``INSERT`` of one row of ``table``: every column but a generated ``id`` is a
    parameter named after it (a :class:`PreparedStatement` fills in no defaults)."""
    return insert(table).values(row_parameters(table))


def row_parameters(table: Table) -> dict[str, BindParameter[Any]]:
    """:func:`insert_row`'s values, for a dialect's own ``insert`` (``ON CONFLICT``)."""
    columns = [column for column in table.c if not (column.primary_key and column.key == "id")]
    return {column.key: bindparam(column.key) for column in columns}


def loaded(model: type[M], values: Mapping[str, Any]) -> M:
    """A ``model`` object of a row read by a prepared statement, as the ORM would have loaded
    it and then closed its session: every column set, unchanged, detached.

    SQLModel's constructor cost 0.25-0.5M instructions per object (validation-free, but
    through each field's default and SQLAlchemy's attribute events); this is what the ORM's
    own loading does, a tenth of that. ``values`` must name every column.
    """
    manager = _managers.get(model)
    if manager is None:
        configure_mappers()  # an object made before any query: the ORM is set up first
        manager = _managers[model] = sqlalchemy.inspect(model).class_manager
    instance: M = manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance


_managers: dict[type[Any], Any] = {}
