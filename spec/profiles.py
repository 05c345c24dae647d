"""Version profiles: how the server's behaviour differs between releases, kept as data.

Each setting the shared reference marks as (inferred) is named in ``Profile.inferred`` so that a
prediction resting on it can say so, and the conformance run can report it apart from hard deviations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from spec.permissions import BYPASS_RATE_LIMIT

AUTH_MESSAGE = "You must be logged in to do this."

Step = Literal["authentication", "permission", "rate-limit", "validation"]
BodyParser = Literal["lenient", "strict"]
"""``lenient`` (7.5+): malformed JSON becomes ``{}``. ``strict`` (6.13-7.4): it is a 400 HTML error page."""
RouteGuard = Literal["action", "route"]
"""``action``: the route's action checks the permission itself, with its own answer (6.13 settings,
6.13-7.4 ``permissions.update``). ``route``: ``permissionsRequired``, checked at the profile's
``permission`` step with the standard 403."""
LoginAnswers = Literal["restivus", "api"]
"""``restivus`` (6.13): log-in bodies without ``success``, failures ``{status, error, details, message}``.
``api`` (7.0+): ``success`` appended on success, failures start with ``{success:false, error}``."""
MeteorLogin = Literal["meteor2", "meteor3"]
"""Meteor 2 names the failure (``User not found``, ``Incorrect password``); Meteor 3 defaults to
ambiguous messages (``Something went wrong. Please check your credentials.``)."""
UnknownRoutes = Literal["webapp", "hono"]
"""Who answers a path or method the API does not route. ``hono`` (7.5+): the Hono app mounted at
``/api`` answers its default ``404 Not Found`` (text) to any method, logged in or not (authentication
is per route, so 404 comes before 401). ``webapp`` (6.13-7.4): the request falls through Restivus or
the express router to Meteor's webapp: GET the app page (200), OPTIONS 200, other methods 405 with
``Allow: OPTIONS, GET, HEAD`` (docs/source-notes/identity.md section 6, headers.md)."""
JsonErrorStyle = Literal["node14", "node22"]
"""How ``JSON.parse`` words a syntax error (``method.call``'s message): Node 14 (6.13) or Node 22."""


@dataclass(frozen=True)
class RateLimit:
    calls: int = 10
    window_ms: int = 60_000
    bypass_permission: str = BYPASS_RATE_LIMIT


INVALID_EXTERNAL_SERVICE_RESPONSE = "error-invalid-external-service-response"
"""The error name of a webhook answer the server cannot use, in every released era (6.13.0 ships it)."""
INVALID_WEBHOOK_RESPONSE = "error-invalid-webhook-response"
"""The same error as an unreleased community-edition variant spelled it (index commit ``0b8be333``:
the route allowed 5 tests and 1 call per 60 s). The issue and the newest upstream e2e test expect it;
no profile uses it (docs/source-notes/external-service.md)."""


@dataclass(frozen=True)
class ExternalServiceEra:
    """The two external-service routes in one era (``ee/app/livechat-enterprise/server/api/triggers.ts``)."""

    test_limit: RateLimit = field(default_factory=lambda: RateLimit(calls=15, window_ms=60_000))
    """``rateLimiterOptions`` of ``livechat/triggers/external-service/test``."""
    call_limit: RateLimit = field(default_factory=lambda: RateLimit(calls=10, window_ms=60_000))
    """``rateLimiterOptions`` of ``livechat/triggers/:_id/external-service/call``."""
    invalid_response_error: str = INVALID_EXTERNAL_SERVICE_RESPONSE
    license_required: bool = True
    """``license: ['livechat-enterprise']`` on both routes. The contract models a licensed enterprise
    server, where the check always passes, so it never refuses; it only names the era."""
    node: Literal["node14", "node22"] = "node22"
    """Which Node.js words the errors the outbound call raises (``new URL``, ``TypeError``s)."""


@dataclass(frozen=True)
class Profile:
    name: str
    releases: str
    check_order: tuple[Step, ...]
    unauthorized_body: Mapping[str, object]
    body_parser: BodyParser
    body_limit_bytes: int | None
    """Bodies above this size answer 413; ``None`` when the release has no limit."""
    auth_failure_delay: tuple[float, float] | None = None
    """A random wait before any 401/403, in seconds."""
    rate_limit: RateLimit | None = field(default_factory=RateLimit)
    login_answers: LoginAnswers = "api"
    meteor_login: MeteorLogin = "meteor3"
    json_errors: JsonErrorStyle = "node22"
    settings_guard: RouteGuard = "route"
    permissions_update: Literal["action", "typed"] = "typed"
    """``action`` (6.13-7.4): the action validates the body (``Invalid body params``) and checks
    ``access-permissions`` (400). ``typed``: the router validates (``invalid-params``) and the route
    requires the permission (403)."""
    config_route: Literal["action", "typed"] = "typed"
    """How ``GET livechat/config`` validates its query: ``action`` (6.13: ``addRoute`` with
    ``validateParams``, 400 ``… [invalid-params]``) or ``typed`` (``API.v1.get`` with a ``query``
    validator: the router's 400 ``error-invalid-params``, before the rate limiter)."""
    unknown_routes: UnknownRoutes = "hono"
    restivus_405: bool = False
    """6.13: a known path with a method it does not define is Restivus' 405 JSON answer with an
    ``Allow`` header naming the defined methods (``route.js``), not a fall-through."""
    save_trigger_method: bool = False
    """Whether the Meteor method ``livechat:saveTrigger`` exists (removed in 7.0.0, #33429); without
    it ``method.call/livechat:saveTrigger`` answers the envelope of an unknown method."""
    external_service: ExternalServiceEra = field(default_factory=ExternalServiceEra)
    inferred: frozenset[str] = frozenset()
    """Settings (and behaviours named in ``spec.predict``) that were read from code, not observed."""
    middleware_steps: frozenset[Step] = frozenset()
    """Checks run by router middleware (8.3+: authentication and permission), before a typed route's
    own body/query validator; the rest run inside the action, after that validator. A middleware
    sends its refusal itself (``c.json``), so that answer never comes back through the router's final
    handler, the one place that adds ``cache-control``/``pragma`` (see ``spec.headers.NO_CACHE_HEADERS``);
    refusals of the other checks are results of the route's action and carry both headers."""

    def refusal_passes_router(self, step: Step) -> bool:
        """Whether the refusal of ``step`` is an action result (router headers) or a middleware answer."""
        return step not in self.middleware_steps

    def is_inferred(self, setting: str) -> bool:
        return setting in self.inferred

    def in_development_mode(self) -> Profile:
        """The same release started in development mode, where the API's rate limiter is off."""
        return replace(self, rate_limit=None)


_CURRENT_401 = {"success": False, "error": AUTH_MESSAGE, "status": "error", "message": AUTH_MESSAGE}
_LEGACY_401 = {"status": "error", "message": AUTH_MESSAGE}
_ALWAYS_INFERRED = frozenset(
    {
        "rate-limit",  # inferred on every release: no running server was observed rate limiting
        "query-parser",  # qs-style parsing of repeated and bracketed query keys
        "form-parser",  # flat string fields of x-www-form-urlencoded bodies
        "unknown-route",  # the body of a 404 for a path or method the API does not route
        "odd-pagination",  # negative or non-finite count/offset, which reach MongoDB unchecked
        "sort-order",  # ties and mixed-type values under a sort
        # The release that moved authentication and permission out of the action into Hono middleware
        # (docs/source-notes/headers.md): read in the code of each era, but the era's first release is
        # taken from the reference's boundaries, not from a release tag.
        "middleware-release",
        "login-messages",  # Meteor's own log-in errors (Meteor's source was not read)
        "me-fields",  # which fields a stored user document has, and their order
        "method-errors",  # how EJSON serialises a method's error inside the method.call envelope
        "json-parse-message",  # V8's JSON.parse error text
        # The outbound call of the external-service routes: node-fetch's and Node's error texts, the
        # WHATWG URL parser approximated, the headers node-fetch adds (docs/source-notes/external-service.md).
        "outbound-call",
        "external-service-license",  # which release first has the routes' license option
        # The widget-side routes (spec.widget, docs/source-notes/widget-model.md):
        "root-url",  # resources.sound is built from Site_Url, taken to equal the server's ROOT_URL
        "config-cache",  # the server memoises the settings part for 1 s; the mock answers fresh values
        "online-department",  # the department query parameter does not narrow `online`
        "next-agent-selection",  # which online agent agent.next picks (no livechatCount rotation)
    }
)

# Each older profile is the next newer one with its differences spelled out.
_8_3 = Profile(
    name="8.3",
    releases="8.3-8.8",
    check_order=("authentication", "permission", "rate-limit", "validation"),
    unauthorized_body=_CURRENT_401,
    body_parser="lenient",
    body_limit_bytes=None,
    inferred=_ALWAYS_INFERRED | {"release-boundaries", "body-limit"},
    # middlewares/authenticationHono.ts (401) and middlewares/permissions.ts (403) answer with c.json.
    middleware_steps=frozenset({"authentication", "permission"}),
)
_7_5 = replace(
    _8_3,
    name="7.5",
    releases="7.5-8.2",
    check_order=("authentication", "rate-limit", "validation", "permission"),
    # ApiClass.ts of this era: authentication, rate limit, validation and permission all run inside the
    # action wrapper, so every refusal is an action result (Restivus and the express router of the older
    # eras also add both headers to every answer of a matched route).
    middleware_steps=frozenset(),
    # permissions.* became typed routes around 7.10, inside this range; settings' guard era unread.
    inferred=_8_3.inferred | {"permissions-update", "settings-guard", "config-route"},
)
_7_4 = replace(
    _7_5,
    name="7.4",
    releases="7.4",
    body_parser="strict",
    body_limit_bytes=50 * 1024 * 1024,
    permissions_update="action",
    config_route="action",
    unknown_routes="webapp",
    inferred=(_7_5.inferred - {"permissions-update"}) | {"strict-body-parser", "webapp-page"},
)
_6_13 = replace(
    _7_4,
    name="6.13",
    releases="6.13-7.3",
    unauthorized_body=_LEGACY_401,
    auth_failure_delay=(0.5, 1.0),
    login_answers="restivus",
    meteor_login="meteor2",
    json_errors="node14",
    settings_guard="action",
    save_trigger_method=True,
    # 6.13.0's routes have no license option (the later EE file adds it; the first release is unread).
    external_service=ExternalServiceEra(license_required=False, node="node14"),
    restivus_405=True,
    inferred=_7_4.inferred - {"settings-guard", "config-route"},
)
PROFILES: dict[str, Profile] = {profile.name: profile for profile in (_8_3, _7_5, _7_4, _6_13)}
DEFAULT_PROFILE = "8.3"


class UnknownProfileError(ValueError):
    pass


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise UnknownProfileError(f"unknown version profile {name!r}; known profiles: {known}") from None
