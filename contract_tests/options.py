"""The conformance run's options, stated once: the CLI (argparse) and the pytest plugin are both built
from ``OPTIONS``, and both turn the values into ``runner.Options`` with ``options_from_values`` (the same
defaults and the same validation).

In pytest every option is spelled ``--rc-NAME`` for the CLI's ``--NAME`` (plain names such as
``--timeout`` or ``--seed`` belong to other plugins); ``--base-url`` is pytest-base-url's when that
plugin is installed (``--rc-base-url`` always works), and the four credential options keep their plain
names too.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.permissions import BYPASS_RATE_LIMIT, MANAGE_TRIGGERS
from spec.profiles import PROFILES

if TYPE_CHECKING:
    from contract_tests.runner import Options

# This module must stay light: the pytest plugin builds its options from it in every pytest run, also
# where the run itself (the [conformance] extra: Hypothesis, Schemathesis, httpx) is not installed.

__all__ = ["OPTIONS", "Option", "add_to_argparse", "names_in_pytest", "options_from_values"]


@dataclass(frozen=True)
class Option:
    name: str
    """The CLI spelling, e.g. ``--base-url``."""
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    flag: bool = False
    choices: tuple[str, ...] | None = None
    env: str | None = None
    """An environment variable that gives the default."""
    plain_in_pytest: bool = False
    """Also spelled as in the CLI in pytest (the credentials, which no other plugin uses)."""

    @property
    def dest(self) -> str:
        return self.name.removeprefix("--").replace("-", "_")

    def resolved_default(self) -> Any:
        if self.env is not None and os.environ.get(self.env):
            return os.environ[self.env]
        return self.default

    def help_text(self) -> str:
        if self.flag or self.default is None:
            return self.help + (f" (or {self.env})" if self.env else "")
        return f"{self.help} (default: {self.default})"


OPTIONS: tuple[Option, ...] = (
    Option("--base-url", "server root, e.g. http://localhost:3000 (required)"),
    Option(
        "--user-id",
        f"{USER_ID_HEADER} of a user with {MANAGE_TRIGGERS}",
        env="RC_USER_ID",
        plain_in_pytest=True,
    ),
    Option("--auth-token", f"that user's {AUTH_TOKEN_HEADER}", env="RC_AUTH_TOKEN", plain_in_pytest=True),
    Option(
        "--limited-user-id",
        f"a user WITHOUT {MANAGE_TRIGGERS} (enables permission and check-order checks)",
        env="RC_LIMITED_USER_ID",
        plain_in_pytest=True,
    ),
    Option("--limited-auth-token", "that user's token", env="RC_LIMITED_AUTH_TOKEN", plain_in_pytest=True),
    Option(
        "--profile",
        "version profile to check against; auto detects it and says what it cannot tell apart",
        default="auto",
        choices=("auto", *PROFILES),
    ),
    Option("--seed", "Hypothesis seed (default: random, printed)", type=int),
    Option("--max-examples", "generated requests per check family", default=100, type=int),
    Option("--workers", "threads for the families that do not change state", default=1, type=int),
    Option("--junit-xml", "write JUnit XML here (on every exit)", type=Path),
    Option("--report", "write a Markdown report here (on every exit)", type=Path),
    Option(
        "--allow-enabled",
        "let created triggers be enabled (they could fire for real visitors meanwhile)",
        flag=True,
    ),
    Option("--no-schemathesis", "skip the Schemathesis families", flag=True),
    Option("--timeout", "seconds per request", default=30.0, type=float),
    Option(
        "--max-time",
        "most seconds for the whole run, cleanup included (default: no limit)",
        type=float,
    ),
    Option(
        "--rate-limit-budget",
        f"most seconds spent waiting out 429s before giving up (an account with {BYPASS_RATE_LIMIT} "
        "never waits)",
        default=180.0,
        type=float,
    ),
    Option("--insecure", "do not verify the TLS certificate (a staging server's own CA)", flag=True),
    Option(
        "--login-user",
        "username (or e-mail) of an account to log in and out with, for the log-in flow checks",
        env="RC_LOGIN_USER",
    ),
    Option("--login-password", "that account's password (given for the purpose)", env="RC_LOGIN_PASSWORD"),
    Option(
        "--webhook-host",
        "address the run's webhook receiver listens on (the external-service checks)",
        default="127.0.0.1",
    ),
    Option(
        "--webhook-url",
        "base URL at which the target reaches that receiver (default: http://WEBHOOK-HOST:PORT; checked "
        "only when the target is on this machine or this is given)",
    ),
    Option(
        "--allow-shared-changes",
        "take a permission away (permissions.update) and change Livechat_secret_token for a moment, "
        "each restored at once; this changes a shared server for everyone while it runs",
        flag=True,
    ),
    Option(
        "--keep",
        "leave the triggers this run creates in place (to run a printed state reproducer); the run "
        "prints the --cleanup command that removes them",
        flag=True,
    ),
)


def add_to_argparse(parser: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        if option.flag:
            parser.add_argument(option.name, action="store_true", help=option.help_text())
        else:
            parser.add_argument(
                option.name,
                default=option.resolved_default(),
                type=option.type or str,
                choices=option.choices,
                help=option.help_text(),
            )


def names_in_pytest(option: Option) -> list[str]:
    names = ["--rc-" + option.name.removeprefix("--")]
    if option.plain_in_pytest:
        names.append(option.name)
    return names


def options_from_values(values: Mapping[str, Any]) -> Options:
    """Validate option values (by ``Option.dest``) and make the run's ``Options``; ``UsageError`` if wrong."""
    from contract_tests.runner import Options, UsageError

    base_url = values.get("base_url")
    if not base_url:
        raise UsageError("--base-url is required")
    if not str(base_url).startswith(("http://", "https://")):
        raise UsageError(f"--base-url {base_url!r}: expected http://HOST[:PORT][/PATH]")
    if not values.get("user_id") or not values.get("auth_token"):
        raise UsageError("--user-id and --auth-token are required (or RC_USER_ID and RC_AUTH_TOKEN)")
    if bool(values.get("limited_user_id")) != bool(values.get("limited_auth_token")):
        raise UsageError("--limited-user-id and --limited-auth-token go together")
    if values["max_examples"] < 1 or values["workers"] < 1:
        raise UsageError("--max-examples and --workers must be at least 1")
    if values["timeout"] <= 0 or (values.get("max_time") is not None and values["max_time"] <= 0):
        raise UsageError("--timeout and --max-time must be positive")
    if values["profile"] not in ("auto", *PROFILES):
        raise UsageError(f"--profile {values['profile']!r}: one of auto, {', '.join(PROFILES)}")
    if bool(values.get("login_user")) != bool(values.get("login_password")):
        raise UsageError("--login-user and --login-password go together")
    seed = values.get("seed")
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    return Options(
        base_url=str(base_url).rstrip("/"),
        user_id=values["user_id"],
        auth_token=values["auth_token"],
        limited_user_id=values.get("limited_user_id"),
        limited_auth_token=values.get("limited_auth_token"),
        profile=values["profile"],
        seed=seed,
        max_examples=values["max_examples"],
        workers=values["workers"],
        junit_xml=values.get("junit_xml"),
        report=values.get("report"),
        allow_enabled=bool(values.get("allow_enabled")),
        schemathesis=not values.get("no_schemathesis"),
        timeout_seconds=values["timeout"],
        verify_tls=not values.get("insecure"),
        rate_limit_budget_seconds=values["rate_limit_budget"],
        max_time_seconds=values.get("max_time"),
        keep=bool(values.get("keep")),
        login_user=values.get("login_user") or None,
        login_password=values.get("login_password") or None,
        webhook_host=values.get("webhook_host") or "127.0.0.1",
        webhook_url=values.get("webhook_url") or None,
        allow_shared_changes=bool(values.get("allow_shared_changes")),
    )
