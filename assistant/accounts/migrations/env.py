"""Alembic's environment for the accounts database.

At run time `assistant.accounts.database.upgrade` hands over an open connection (already inside
the transaction that serialises concurrent upgrades) in `config.attributes["connection"]`. For a
developer's `alembic` command line, pass the database with `-x url=sqlite:///PATH`.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from assistant.accounts.models import Base

config = context.config
options = {"target_metadata": Base.metadata, "render_as_batch": True, "compare_type": True}


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the accounts database: alembic -x url=sqlite:///PATH ...")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    context.configure(connection=config.attributes["connection"], **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(_url())
    with engine.begin() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
