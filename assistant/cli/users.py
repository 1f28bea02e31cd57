"""``assistant users …``: admin accounts and API tokens, and erasing a customer.

Same conventions as :mod:`assistant.cli`: ``--json`` prints one JSON document; bad input
(short password, duplicate or unknown user) exits with code 2 and one line saying what to fix.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from assistant.admin.auth import (
    AccountError,
    check_password,
    create_api_token,
    create_user,
    disable_user,
    get_user,
    list_users,
    user_dict,
)
from assistant.cli.common import JsonOption, fail, load_settings, open_store, out, print_json
from assistant.privacy import ErasureReport, erase_user
from assistant.store.models import ROLES

users_app = typer.Typer(
    help="Admin accounts (roles lead, engineer, admin) and their API tokens; erasing a customer."
)

UsernameArg = Annotated[str, typer.Argument(help="The account's username.")]


def register(app: typer.Typer) -> None:
    """Add the ``users`` command group to the main CLI."""
    app.add_typer(users_app, name="users")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except AccountError as exc:
        fail(str(exc))
    return password


@users_app.command("add")
def users_add(
    username: UsernameArg,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "lead",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add an account; the password is asked twice (or read from stdin), at least 12 characters."""
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}")
    store = open_store(load_settings())
    with store.session() as session:
        if get_user(session, username) is not None:
            fail(f"user {username!r} already exists")
    password = _read_password(password_stdin)
    try:
        with store.session() as session:
            row = user_dict(create_user(session, username, password, role))
    except AccountError as exc:
        fail(str(exc))
    print_json(row) if as_json else out.print(f"user {username} added ({role})", markup=False)


@users_app.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """Every account: username, role, disabled."""
    store = open_store(load_settings())
    with store.session() as session:
        rows = [user_dict(user) for user in list_users(session)]
    if as_json:
        print_json(rows)
        return
    table = Table("username", "role", "disabled", "created")
    for row in rows:
        table.add_row(row["username"], row["role"], "yes" if row["disabled"] else "", row["created_at"])
    out.print(table)


@users_app.command("disable")
def users_disable(username: UsernameArg, as_json: JsonOption = False) -> None:
    """Disable an account: its tokens stop working at once (kept for the audit trail)."""
    store = open_store(load_settings())
    try:
        with store.session() as session:
            row = user_dict(disable_user(session, username))
    except AccountError as exc:
        fail(str(exc))
    print_json(row) if as_json else out.print(f"user {username} disabled", markup=False)


@users_app.command("token")
def users_token(
    username: UsernameArg,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "default",
    as_json: JsonOption = False,
) -> None:
    """Create an API token (printed once; only its hash is kept): `Authorization: Bearer <token>`."""
    store = open_store(load_settings())
    try:
        with store.session() as session:
            user = get_user(session, username)
            if user is None:
                raise AccountError(f"no user {username!r}")
            if user.disabled:
                raise AccountError(f"user {username!r} is disabled")
            token = create_api_token(session, user, name)
    except AccountError as exc:
        fail(str(exc))
    if as_json:
        print_json({"username": username, "name": name, "token": token})
    else:
        typer.echo(token)


def _erasure_lines(report: ErasureReport) -> list[str]:
    if not report.removed:
        left = "already erased, nothing left" if report.already_erased else "nothing stored for this user id"
        return [f"{left}; the tombstone keeps later data under it out of training"]
    lines = [
        f"removed {report.interactions} interactions, {report.conversations} conversations, "
        f"{report.feedback} feedback events, {report.flags} flags ({report.review_actions} review actions)",
    ]
    if report.conversations_detached or report.scrubbed_interactions:
        lines.append(
            f"shared conversations: {report.conversations_detached} detached, "
            f"{report.scrubbed_interactions} other interactions had their turns replaced by [erased]"
        )
    if report.curated_deleted:
        lines.append(f"deleted curated answers: {', '.join(report.curated_deleted)}")
    if report.curated_kept:
        lines.append(
            f"kept curated answers that also settled others' flags (link dropped, lead's answer kept): "
            f"{', '.join(report.curated_kept)}"
        )
    if report.datasets_deleted:
        lines.append(f"deleted dataset builds: {', '.join(report.datasets_deleted)}")
    if report.releases_affected:
        lines.append(
            f"releases trained on those builds (retrain or roll back to forget): "
            f"{', '.join(report.releases_affected)}"
        )
    return lines


@users_app.command("erase")
def users_erase(
    user_id: Annotated[str, typer.Argument(help="The customer's user id (widget session, Slack or API id).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Erase a customer: their conversations, feedback, flags, derived curated answers and datasets.

    Keeps only a tombstone (a SHA-256 of the id). Running it again is safe; an unknown id
    removes nothing and exits 0.
    """
    if not user_id.strip():
        fail("USER_ID must not be empty")
    settings = load_settings()
    store = open_store(settings)
    if not yes and not typer.confirm(
        f"Erase everything stored about customer {user_id!r}? This cannot be undone", err=True
    ):
        typer.echo("aborted; nothing was erased", err=True)
        raise typer.Exit(1)
    try:
        report = erase_user(store, settings, user_id)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.to_dict())
        return
    for line in _erasure_lines(report):
        out.print(line, markup=False)
