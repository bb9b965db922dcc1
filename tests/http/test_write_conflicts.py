"""A request whose transaction another writer rolled back (a deadlock, a serialisation failure, SQLite's busy
database) answers 503 with ``Retry-After`` in the documented error shape: the client sent nothing wrong and a
retry succeeds. Any other database failure stays a 500."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from alephee.http import errors


def app_raising(orig: BaseException) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.post("/write")
    def write() -> None:
        raise OperationalError("UPDATE listings ...", {}, orig)

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "orig",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        sqlite3.OperationalError("database is locked"),
    ],
    ids=["deadlock", "serialization", "lock-not-available", "sqlite-busy"],
)
def test_a_write_conflict_is_a_503_to_retry(orig: BaseException) -> None:
    answer = app_raising(orig).post("/write")

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json() == {"Status": 503, "Message": errors.BUSY}


def test_another_database_failure_is_not_dressed_as_a_conflict() -> None:
    answer = app_raising(psycopg.errors.UndefinedTable("relation does not exist")).post("/write")

    assert answer.status_code == 500
