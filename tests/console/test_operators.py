"""Operators: Argon2id password hashes, account grants, the admin and disabled flags, and the ``alephee
operator`` commands (JSON on stdout, never the password)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from alephee.cli import app as cli_app
from alephee.console import operators, passwords
from alephee.console.models import Operator
from alephee.errors import DomainError
from alephee.http.context import AppContext
from tests.fixtures.tenants import Tenant


def test_a_password_is_stored_as_an_argon2id_hash() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batterY")
    assert not passwords.verify(None, "correct horse battery")  # unknown e-mail: refused after the same work
    assert not passwords.verify("not a hash", "x")
    assert not passwords.needs_rehash(stored)


@pytest.mark.parametrize("password", ["", "short", "x" * 9, "x" * 201])
def test_a_password_outside_the_allowed_length_is_refused(password: str) -> None:
    with pytest.raises(passwords.WeakPassword):
        passwords.hash_password(password)


def test_grants_decide_which_accounts_an_operator_sees(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    first, second, third = make_tenant(), make_tenant(), make_tenant()
    with ctx.db.writing() as session:
        admin = operators.create_operator(session, "Boss@Example.com", "long enough pw", admin=True)
        ops = operators.create_operator(
            session, "ops@example.com", "long enough pw", account_ids=[second.account_id, first.account_id]
        )
        assert admin.email == "boss@example.com"  # stored lower-case
        assert operators.visible_account_ids(session, admin) == sorted(
            [first.account_id, second.account_id, third.account_id]
        )
        assert operators.visible_account_ids(session, ops) == sorted([first.account_id, second.account_id])


@pytest.mark.parametrize(
    ("email", "admin", "accounts", "error"),
    [
        ("not-an-email", True, [], operators.BadOperatorEmail),
        ("a@example.com", True, [1], operators.AdminWithAccounts),
        ("a@example.com", False, [], operators.OperatorWithoutAccounts),
        ("a@example.com", False, [999_999], DomainError),
        ("TAKEN@example.com", True, [], operators.OperatorExists),
    ],
)
def test_create_refusals(
    ctx: AppContext, email: str, admin: bool, accounts: list[int], error: type[DomainError]
) -> None:
    with ctx.db.writing() as session:
        operators.create_operator(session, "taken@example.com", "long enough pw", admin=True)
    with ctx.db.writing() as session, pytest.raises(error):
        operators.create_operator(session, email, "long enough pw", admin=admin, account_ids=accounts)


def test_sign_in_checks_password_and_disabled_flag(ctx: AppContext) -> None:
    with ctx.db.writing() as session:
        operators.create_operator(session, "ops@example.com", "long enough pw", admin=True)
    with ctx.db.writing() as session:
        assert operators.check_credentials(session, "ops@example.com", "wrong password!") is None
        assert operators.check_credentials(session, "nobody@example.com", "long enough pw") is None
        found = operators.check_credentials(session, " OPS@example.com ", "long enough pw")
        assert found is not None and found.last_login_at is not None
    with ctx.db.writing() as session:
        operators.set_password(session, "ops@example.com", "a brand new one")
    with ctx.db.writing() as session:
        assert operators.check_credentials(session, "ops@example.com", "long enough pw") is None
        assert operators.check_credentials(session, "ops@example.com", "a brand new one") is not None
        operators.disable_operator(session, "ops@example.com")
    with ctx.db.writing() as session:
        assert operators.check_credentials(session, "ops@example.com", "a brand new one") is None


def _run(ctx: AppContext, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app, list(args), env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
    return result.exit_code, result.stdout, result.stderr


def test_the_operator_commands(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant()
    secret = "a secret password"
    code, out, _ = _run(
        ctx,
        "operator",
        "create",
        "--email",
        "ops@example.com",
        "--password",
        secret,
        "--account",
        str(tenant.account_id),
    )
    assert code == 0, out
    created = json.loads(out)
    assert set(created) == {"OperatorId"}
    code, out, _ = _run(ctx, "operator", "create", "--email", "root@example.com", "--password", secret, "--admin")
    assert code == 0 and json.loads(out)["OperatorId"] == created["OperatorId"] + 1
    code, out, _ = _run(ctx, "operator", "list")
    listed = json.loads(out)
    assert [(row["Email"], row["Admin"], row["AccountIds"]) for row in listed] == [
        ("ops@example.com", False, [tenant.account_id]),
        ("root@example.com", True, []),
    ]
    assert secret not in out
    code, out, _ = _run(ctx, "operator", "password", "ops@example.com", "--password", "another password")
    assert code == 0 and json.loads(out) == {"OperatorId": created["OperatorId"], "PasswordChanged": True}
    assert "another password" not in out
    code, out, _ = _run(ctx, "operator", "disable", str(created["OperatorId"]))
    assert code == 0 and json.loads(out) == {"OperatorId": created["OperatorId"], "Disabled": True}
    code, _, err = _run(ctx, "operator", "create", "--email", "x@example.com", "--password", "short", "--admin")
    assert code == 1 and json.loads(err)["Status"] == 400 and "short" not in err
    code, _, err = _run(ctx, "operator", "disable", "nobody@example.com")
    assert code == 1 and json.loads(err) == {"Status": 404, "Message": "Operator not found"}
    with ctx.db.reading() as session:
        stored = session.scalars(select(Operator.password_hash)).all()
    assert all(value.startswith("$argon2id$") for value in stored)
