"""Commands of the web app: serve, user accounts and API tokens."""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors, open_project
from assay.cli.render import console, print_json
from assay.errors import InvalidParameter

user_app = typer.Typer(help="User accounts: add, list, change.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts: create, list, revoke.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

DEMO_USER = "demo"
DEMO_LOGIN_FILE = Path(".assay") / "demo-login.txt"
FIRST_ADMIN = "admin"


def serve_project(project: Any, host: str, port: int, *, workers: int = 1, **settings: Any) -> None:
    """Run the web app for ``project`` with uvicorn until interrupted (``workers`` processes;
    more than one use :mod:`assay.web.factory`)."""
    import uvicorn

    from assay.web import create_app

    shown = f"[{host}]" if ":" in host else host
    console.print(f"Assay is at http://{shown}:{port}/  (Ctrl+C stops it)")
    if not _is_loopback(host):
        console.print(
            "[yellow]Listening beyond this machine without TLS: put Assay behind an HTTPS "
            "proxy (and start it with --proxy-headers).[/yellow]"
        )
    settings = {"freeze_gc": True, **settings}
    if workers > 1:
        from assay.web import factory

        os.environ.update(factory.environment(str(project.root), project.store.url, settings))
        project.close()
        uvicorn.run(
            "assay.web.factory:app_from_env", factory=True, workers=workers, host=host,
            port=port, log_level="warning", proxy_headers=True,
        )  # fmt: skip
        return
    web = create_app(project, **settings)
    uvicorn.run(web, host=host, port=port, log_level="warning", proxy_headers=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _generated_password() -> str:
    return secrets.token_urlsafe(12)


def ensure_first_admin(project: Any) -> None:
    """With no accounts yet, create ``admin`` with a random password and print it once."""
    from assay import users

    if users.count_users(project.store):
        return
    password = _generated_password()
    users.create_user(project.store, FIRST_ADMIN, password, role="admin")
    console.print(
        f"Created the first account: user [bold]{FIRST_ADMIN}[/bold], password "
        f"[bold]{password}[/bold] (shown only now; change it in `assay user set`)."
    )


def ensure_demo_login(project: Any) -> tuple[str, str]:
    """The demo's login (user ``demo``, an admin): made once, kept in .assay/demo-login.txt.

    The password is random per demo project, never a built-in default.
    """
    from assay import users
    from assay.users import UserNotFound

    path = project.root / DEMO_LOGIN_FILE
    try:
        users.get_user(project.store, DEMO_USER)
        exists = True
    except UserNotFound:
        exists = False
    if exists and path.is_file():
        password = path.read_text(encoding="utf-8").splitlines()[1].split(":", 1)[1].strip()
        return DEMO_USER, password
    password = _generated_password()
    if exists:
        users.update_user(project.store, DEMO_USER, password=password)
    else:
        users.create_user(project.store, DEMO_USER, password, role="admin")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"username: {DEMO_USER}\npassword: {password}\n")
    return DEMO_USER, password


@app.command()
@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    blind: Annotated[
        bool, typer.Option(help="Annotators see only their own layers' labels.")
    ] = False,
    media_root: Annotated[
        list[Path] | None,
        typer.Option(help="Serve image files only from inside this folder (repeatable)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Server processes (each uses one core; sessions are shared)."
        ),
    ] = 1,
) -> None:
    """Start the web app on the project (http://127.0.0.1:8000 by default).

    The first time, with no accounts yet, it creates the user 'admin' and prints its password.

    Example: assay serve --port 8080
    """
    project = open_project()
    ensure_first_admin(project)
    serve_project(
        project, host, port, workers=workers, blind=blind,
        media_roots=[str(p) for p in media_root or []],
    )  # fmt: skip


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("add")
@handle_errors
def user_add(
    name: Annotated[str, typer.Argument(help="The username (letters, digits, . _ - @).")],
    role: Annotated[str, typer.Option(help="admin, reviewer or annotator.")] = "annotator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account (asks for the password unless --password-stdin).

    Example: assay user add alice --role admin
    """
    from assay import users

    users.check_role(role)
    user = users.create_user(open_project().store, name, _read_password(password_stdin), role=role)
    console.print(f"Created {user.role} {user.username!r}.")


@user_app.command("list")
@handle_errors
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the accounts with their roles.

    Example: assay user list
    """
    from assay import users

    found = users.list_users(open_project().store)
    if as_json:
        print_json([u.to_dict() for u in found])
        return
    if not found:
        console.print("No users yet. Add one with `assay user add NAME --role admin`.")
        return
    table = Table(show_edge=False)
    for col in ("username", "role", "status", "created"):
        table.add_column(col)
    for u in found:
        status = "disabled" if u.disabled else "active"
        table.add_row(u.username, u.role, status, u.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@user_app.command("set")
@handle_errors
def user_set(
    name: Annotated[str, typer.Argument(help="The username.")],
    role: Annotated[str | None, typer.Option(help="New role.")] = None,
    disabled: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Disable or enable the account.")
    ] = None,
    password: Annotated[bool, typer.Option("--password", help="Set a new password.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
) -> None:
    """Change an account's role, password or status (disabling ends its sessions; a new
    password ends them and revokes the account's API tokens).

    Example: assay user set bob --role reviewer
    """
    from assay import users

    new_password = _read_password(password_stdin) if password or password_stdin else None
    if role is None and disabled is None and new_password is None:
        raise InvalidParameter("Nothing to change: give --role, --disable/--enable or --password.")
    user = users.update_user(
        open_project().store, name, role=role, disabled=disabled, password=new_password
    )
    status = "disabled" if user.disabled else "active"
    console.print(f"{user.username}: {user.role}, {status}.")


@token_app.command("create")
@handle_errors
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'nightly export'.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Whose token it is.")],
) -> None:
    """Create an API token and print it (once: only its hash is kept).

    Scripts send it as the header 'Authorization: Bearer TOKEN'.

    Example: assay token create nightly-export --user alice
    """
    from assay import users

    token, record = users.create_token(open_project().store, user, name)
    console.print(f"Token {record.id} for {record.username} ({record.name}); keep it now:")
    typer.echo(token)


@token_app.command("list")
@handle_errors
def token_list(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List API tokens (never the tokens themselves).

    Example: assay token list --user alice
    """
    from assay import users

    found = users.list_tokens(open_project().store, user)
    if as_json:
        print_json([tok.to_dict() for tok in found])
        return
    table = Table(show_edge=False)
    for col in ("id", "user", "name", "created", "last used", "status"):
        table.add_column(col)
    for tok in found:
        table.add_row(
            str(tok.id),
            tok.username,
            tok.name,
            tok.created_at.strftime("%Y-%m-%d %H:%M"),
            tok.last_used_at.strftime("%Y-%m-%d %H:%M") if tok.last_used_at else "",
            "revoked" if tok.revoked_at else "active",
        )
    console.print(table)


@token_app.command("revoke")
@handle_errors
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke an API token: it is refused from now on.

    Example: assay token revoke 3
    """
    from assay import users

    record = users.revoke_token(open_project().store, token_id)
    console.print(f"Token {record.id} ({record.username}, {record.name}) is revoked.")
