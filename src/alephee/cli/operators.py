"""People who use the operator console: ``alephee operator create``, ``list``, ``disable``, ``password``.

Passwords are taken as options (or typed at a prompt when left out) and never printed."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.cli.common import emit, session_scope

operator_app = typer.Typer(help="Operators of the web console (/console).", no_args_is_help=True)


@operator_app.command("create")
def operator_create(
    email: Annotated[str, typer.Option(help="E-mail address (the sign-in name).")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters.")
    ],
    admin: Annotated[bool, typer.Option("--admin", help="Sees and manages every account.")] = False,
    account: Annotated[list[int] | None, typer.Option("--account", help="An account the operator sees.")] = None,
) -> None:
    """Create an operator; prints ``{"OperatorId": n}``."""
    from alephee.console import operators

    with session_scope() as session:
        row = operators.create_operator(session, email, password, admin=admin, account_ids=account or [])
        emit({"OperatorId": row.id})


@operator_app.command("list")
def operator_list() -> None:
    """Every operator with their accounts, admin and disabled flags, creation and last sign-in."""
    from alephee.console import operators

    with session_scope() as session:
        emit([row.as_json() for row in operators.list_operators(session)])


@operator_app.command("disable")
def operator_disable(
    operator: Annotated[str, typer.Argument(help="Operator id or e-mail.")],
) -> None:
    """Disable an operator: their open sessions end at their next page."""
    from alephee.console import operators

    with session_scope() as session:
        row = operators.disable_operator(session, operator)
        emit({"OperatorId": row.id, "Disabled": True})


@operator_app.command("password")
def operator_password(
    operator: Annotated[str, typer.Argument(help="Operator id or e-mail.")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters.")
    ],
) -> None:
    """Set a new password for an operator."""
    from alephee.console import operators

    with session_scope() as session:
        row = operators.set_password(session, operator, password)
        emit({"OperatorId": row.id, "PasswordChanged": True})
