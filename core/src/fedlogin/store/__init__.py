"""Persistence: SQLModel tables, Alembic migrations and the services admins change things with.

=====================  ===================================================================
``database``           :class:`~fedlogin.store.database.Database`: engine, sessions, SQLite
                       pragmas; SQLite file by default, PostgreSQL by URL
``migrate``            ``upgrade(database)`` and schema checks (migrations in ``migrations/``)
``tables``             every table (SQLModel ``table=True``)
``providers``          :class:`~fedlogin.store.providers.IdentityProviders`: the identity
                       provider service (validation in ``provider_input`` and ``fields``,
                       API and audit views in ``provider_views``)
``settings``           Settings → Accounts (federated login switch, providers offered)
``brands``             brands and ``effective_login_config(session, host)``
``admins``             admin users (argon2) and API tokens
``secrets``            client secrets encrypted at rest (Fernet, rotatable keys)
``logos``, ``svg``     logo uploads checked by content, SVG sanitised
``audit``              the audit log; secrets never enter it
``changes``            the configuration version every process checks (X4)
``errors``             the services' conflict errors (version, confirmation)
=====================  ===================================================================

Services take a :class:`sqlmodel.Session` and leave committing to the caller (one
transaction per request: ``with database.transaction() as session: ...``).
"""
