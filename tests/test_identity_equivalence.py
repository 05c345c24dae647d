"""The identity work changes nothing for the feature's four trigger routes: over the fuzz corpus's
requests, a ``State`` (an ``IdentityView``) and a view without the identity methods (like the mock's
stores today) give the same outcomes, in every era, for users without roles; and a user holding the
same permissions through roles gets the same answers too."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fuzz.corpus import DEFAULT_ADMIN, DEFAULT_LIMITED, any_requests, draw_requests
from spec.model import IdentityView, RateWindow, Request, State, Trigger, User, apply_changes
from spec.predict import Environment, Outcome, predict
from spec.profiles import get_profile
from tests.identity_helpers import ERAS

T0_MS = 1_764_072_000_000
PAIRS = draw_requests(any_requests(DEFAULT_ADMIN, DEFAULT_LIMITED), seed=1212, count=120)


class PlainView:
    """Only the four ``StateView`` methods, read from a ``State``."""

    def __init__(self, state: State) -> None:
        self.state = state

    def find_user(self, user_id: str) -> User | None:
        return self.state.find_user(user_id)

    def all_triggers(self) -> Sequence[Trigger]:
        return self.state.all_triggers()

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        return self.state.find_trigger(trigger_id)

    def rate_window(self, key: str) -> RateWindow | None:
        return self.state.rate_window(key)


def replay(requests: Sequence[Request], state: State, era: str, *, plain: bool) -> list[Outcome]:
    profile = get_profile(era)
    outcomes = []
    for index, request in enumerate(requests):
        env = Environment(now_ms=T0_MS + index * 1000, new_trigger_id=format(index + 1, "024x"))
        view = PlainView(state) if plain else state
        outcome = predict(request, view, profile, env)
        state = apply_changes(state, outcome.changes)
        outcomes.append(outcome)
    return outcomes


def test_the_plain_view_is_not_an_identity_view() -> None:
    assert not isinstance(PlainView(State()), IdentityView)
    assert isinstance(State(), IdentityView)


@pytest.mark.parametrize("era", ERAS)
def test_state_and_a_plain_view_predict_alike(era: str) -> None:
    requests = [request for _, request in PAIRS]
    users = (DEFAULT_ADMIN, DEFAULT_LIMITED)
    assert replay(requests, State(users=users), era, plain=False) == replay(
        requests, State(users=users), era, plain=True
    )


@pytest.mark.parametrize("era", ERAS)
def test_an_admin_by_role_answers_like_an_admin_by_permissions(era: str) -> None:
    requests = [request for _, request in PAIRS]
    by_role = User(DEFAULT_ADMIN.user_id, DEFAULT_ADMIN.token, roles=("admin",))
    direct = replay(requests, State(users=(DEFAULT_ADMIN, DEFAULT_LIMITED)), era, plain=False)
    roles = replay(requests, State(users=(by_role, DEFAULT_LIMITED)), era, plain=False)
    assert [(o.answer, o.changes) for o in direct] == [(o.answer, o.changes) for o in roles]


def _gets(user: User, count: int, address: str) -> list[Request]:
    headers = (("X-User-Id", user.user_id), ("X-Auth-Token", user.token))
    path = "/api/v1/livechat/triggers"
    return [Request("GET", path, headers=headers, client_address=address) for _ in range(count)]


@pytest.mark.parametrize("era", ERAS)
def test_refusals_and_rate_limits_agree_for_roles_and_direct_permissions(era: str) -> None:
    manager = User("manager-id", "manager-token", frozenset({"view-livechat-manager"}))
    manager_by_role = User("manager-id", "manager-token", roles=("livechat-manager",))
    agent_by_role = User("agent-id", "agent-token", roles=("livechat-agent",))
    # The limiter counts per address and route: the agent calls from another address.
    requests = _gets(manager, 12, "127.0.0.1") + _gets(DEFAULT_LIMITED, 3, "127.0.0.2")
    direct = replay(requests, State(users=(manager, DEFAULT_LIMITED)), era, plain=True)
    roles = replay(requests, State(users=(manager_by_role, agent_by_role)), era, plain=False)
    assert [o.answer for o in direct] == [o.answer for o in roles]
    assert [o.answer.status for o in direct] == [200] * 10 + [429, 429, 403, 403, 403]
