"""The first sign-in of a new install: `hotline up` says, while the console has no admin, the exact
command that makes one (its password is printed once, to whoever runs it, never by `hotline up`),
and the sign-in page of an install without any account says it in Vietnamese.
"""
from __future__ import annotations

import re
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hotline.adapters.db.models import Role
from hotline.cli.system import first_admin
from hotline.context import Context, load_context
from hotline.domain.clock import fake_clock_env
from hotline.services.users import UserService
from operator_console import create_app


@pytest.fixture()
def fresh(tmp_path: Path, database_url: str) -> tuple[Context, dict[str, str]]:
    """A new install (no account), and the environment its commands run with."""
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec"),
           "HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0"}
    if not database_url.startswith("sqlite"):
        env["HOTLINE_DATABASE_URL"] = database_url        # SQLite: the default file in the state directory
    ctx = load_context(env={**env, **fake_clock_env(datetime.fromisoformat("2026-11-25T09:00:00+07:00"))})
    return ctx, env


def _users(ctx: Context) -> UserService:
    return UserService(ctx.sessions(), ctx.clock.now)


def _run_as_typed(command: str, env: dict[str, str]) -> Any:
    """The printed command, run as a shell would: its VAR=value words, then `hotline` and its arguments."""
    from hotline.cli.main import main
    words = shlex.split(command)
    assigned = dict(w.split("=", 1) for w in words if re.match(r"^HOTLINE_\w+=", w))
    program, *args = words[len(assigned):]
    assert Path(program).name == "hotline"
    return CliRunner().invoke(main, args, env={**env, **assigned}, catch_exceptions=False)


def test_up_says_the_command_that_makes_the_first_admin_until_one_exists(fresh: tuple[Context, dict[str, str]]
                                                                        ) -> None:
    ctx, env = fresh
    printed: list[str] = []
    first_admin(ctx.settings, printed.append, env)          # the environment `hotline up` ran with
    assert printed[0].startswith("[up] Bảng điều khiển chưa có tài khoản quản trị nào")
    assert printed[-1] == ("[up] rồi đăng nhập http://127.0.0.1:8090/ với tên admin và mật khẩu đó "
                           "(then sign in as admin).")
    command = printed[1].removeprefix("[up]").strip()
    assert command.startswith(f"HOTLINE_STATE_DIR={env['HOTLINE_STATE_DIR']} ")
    assert command.endswith(" users add admin --name 'Quản trị hệ thống' --role admin")

    another_shell = {k: v for k, v in env.items() if k != "HOTLINE_STATE_DIR"}   # the command says which
    made = _run_as_typed(command, another_shell)
    assert made.exit_code == 0, made.output
    password = re.search(r"password: (\S+)", made.output)
    assert password and made.output.count(password.group(1)) == 1           # shown once, to whoever ran it
    assert not any(password.group(1) in line for line in printed)
    admin = _users(ctx).authenticate("admin", password.group(1))
    assert admin is not None and admin.role == Role.ADMIN

    again: list[str] = []
    first_admin(ctx.settings, again.append, env)
    assert again == []                                                       # an admin exists: nothing to say
    assert _run_as_typed(command, another_shell).exit_code == 2               # and the command makes no second


def test_up_says_which_database_when_the_environment_chose_it(fresh: tuple[Context, dict[str, str]]) -> None:
    ctx, _env = fresh
    printed: list[str] = []
    first_admin(ctx.settings, printed.append, {"HOTLINE_DATABASE_URL": "postgresql://hotline:mật-khẩu@db/hotline"})
    assert "mật-khẩu" not in "\n".join(printed)                                 # the password of the database neither
    assert "với cùng HOTLINE_DATABASE_URL như khi chạy hotline up" in printed[2]


def test_the_sign_in_page_of_an_install_without_accounts_says_what_to_run(fresh: tuple[Context, dict[str, str]]
                                                                         ) -> None:
    ctx, _env = fresh
    app = create_app(ctx, testing=True)
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Cài đặt mới: chưa có tài khoản nào" in page
    assert ("<pre><code>.venv/bin/hotline users add admin --name &#39;Quản trị hệ thống&#39; --role admin"
            "</code></pre>") in page
    assert "mật khẩu được in ra một lần" in page
    app.extensions["hotline"].users.add("lan", "Nguyễn Thị Lan", Role.OPERATOR, "mật-khẩu-đủ-dài")
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "chưa có tài khoản nào" not in page and "users add admin" not in page
