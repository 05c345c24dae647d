"""User accounts a server starts with: Rocket.Chat's test-mode administrator and declared accounts.

Source: ``apps/meteor/server/startup/initialData.ts`` (read in several versions through the index,
e.g. ids 12016627408, 9906497, 61825290584): when the server runs with ``TEST_MODE=true`` (as
Rocket.Chat's own CI and API tests run it) it removes and re-inserts the user
``rocketchat.internal.admin.test`` (``_id``, ``username`` and password all that string, name
``RocketChat Internal Admin Test``, e-mail ``rocketchat.internal.admin.test@rocket.chat``, verified in
the later versions) and gives it the ``admin`` role. Its upstream tests log in with it
(``tests/data/user.ts``). See docs/source-notes/identity-model.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from spec.model import User, password_digest
from spec.permissions import ADMIN_ROLE

TEST_ADMIN_ID = "rocketchat.internal.admin.test"
TEST_ADMIN_USERNAME = TEST_ADMIN_ID
TEST_ADMIN_PASSWORD = TEST_ADMIN_ID
TEST_ADMIN_NAME = "RocketChat Internal Admin Test"
TEST_ADMIN_EMAIL = "rocketchat.internal.admin.test@rocket.chat"

_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
"""Meteor's ``Random.id()`` alphabet (17 characters from it make a user id)."""


def test_mode_admin(token: str, *, password: str = TEST_ADMIN_PASSWORD) -> User:
    """The test-mode administrator, with ``token`` as its start-up login token."""
    return User(
        user_id=TEST_ADMIN_ID,
        token=token,
        username=TEST_ADMIN_USERNAME,
        password_sha256=password_digest(password),
        roles=(ADMIN_ROLE,),
        emails=(TEST_ADMIN_EMAIL,),
        name=TEST_ADMIN_NAME,
    )


def account_id(username: str) -> str:
    """A stable id in the shape of Meteor's ``Random.id()`` for an account declared without one (the
    same username gets the same id at every start, so a kept store does not collect copies)."""
    digest = int.from_bytes(hashlib.sha256(username.encode("utf-8", "surrogatepass")).digest(), "big")
    characters = []
    for _ in range(17):
        digest, index = divmod(digest, len(_ID_ALPHABET))
        characters.append(_ID_ALPHABET[index])
    return "".join(characters)


def account(
    username: str, password: str, roles: Sequence[str], *, user_id: str | None = None, token: str = ""
) -> User:
    """A user that logs in with ``username`` and ``password`` and holds what ``roles`` hold."""
    return User(
        user_id=user_id or account_id(username),
        token=token,
        username=username,
        password_sha256=password_digest(password),
        roles=tuple(roles),
    )
