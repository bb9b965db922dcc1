"""Scratch PostgreSQL databases of the benchmarks: drop one (its sessions disconnected) and create it again, empty
or as a copy of a template database.

``server`` is the server's URL without a database (``postgresql+psycopg://postgres@127.0.0.1:5432``); a plain
``postgresql://`` URL is read with psycopg too.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text


def _sqlalchemy_url(server: str) -> str:
    scheme, _, rest = server.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme == "postgresql" else server


def _admin(server: str) -> Engine:
    return create_engine(f"{_sqlalchemy_url(server)}/postgres", isolation_level="AUTOCOMMIT")


def drop_database(server: str, name: str) -> None:
    """Drop the database ``name`` on ``server`` if it exists, disconnecting its sessions."""
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def recreate_database(server: str, name: str, *, template: str | None = None) -> str:
    """Drop ``name`` on ``server`` (as :func:`drop_database`) and create it empty, or as a copy of the database
    ``template``; returns its URL."""
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        admin.dispose()
    return f"{server}/{name}"
