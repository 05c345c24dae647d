"""The server's exact answer to any request: a pure function of the request, the stored state, the
version profile and the environment (clock and the id a new trigger would get).

The mock serves these answers, the payload generators label requests with them, and the conformance
run compares a live server against them. Nothing else in the project decides what the server answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from spec.contract import list_query_validator, post_body_validator
from spec.headers import (
    ALLOW,
    AUTH_TOKEN_HEADER,
    HTML_ERROR_HEADERS,
    HTML_PAGE_HEADERS,
    JSON_HEADERS,
    MIDDLEWARE_JSON_HEADERS,
    RATE_LIMIT_LIMIT,
    RATE_LIMIT_REMAINING,
    RATE_LIMIT_RESET,
    TEXT_PLAIN_HEADERS,
    USER_ID_HEADER,
)
from spec.jsvalues import (
    JsonSyntaxError,
    JsonText,
    js_number_to_string,
    js_parse_int,
    parse_json,
    stringify,
)
from spec.model import (
    Answer,
    Change,
    CountCall,
    DeleteTrigger,
    Headers,
    InsertTrigger,
    JsonValue,
    Request,
    StateView,
    Trigger,
    UpdateTrigger,
    User,
    hash_login_token,
    is_identity_view,
)
from spec.outbound import ExternalCall
from spec.parsing import ParsedBody, parse_body, parse_query
from spec.permissions import MANAGE_TRIGGERS, holds
from spec.profiles import Profile, RateLimit, Step
from spec.records import quick_init
from spec.routes import (
    EXTERNAL_SERVICE_OPERATIONS,
    IDENTITY_OPERATIONS,
    WIDGET_OPERATIONS,
    Route,
    match_route,
    routed_methods,
)
from spec.triggers import new_trigger, saved_fields

FORBIDDEN_MESSAGE = "User does not have the permissions required for this action [error-unauthorized]"
DEFAULT_COUNT = 50
UPPER_COUNT_LIMIT = 100
DEFAULT_SORT: dict[str, JsonValue] = {"name": 1.0}


@quick_init
@dataclass(frozen=True)
class Environment:
    """What the server would pick by itself: the time, the id of the next inserted trigger and the
    token the next log-in issues."""

    now_ms: int
    new_trigger_id: str
    new_login_token: str = ""
    """Empty: ``issue_login_token`` draws one, or ``spec.identity`` derives one from the other two."""
    issue_login_token: Callable[[], str] | None = None
    """Draws a fresh token, called only when a log-in issues one: a server's CSPRNG costs a system
    call, which no other request needs to pay."""


@quick_init
@dataclass(frozen=True)
class Outcome:
    answer: Answer
    changes: tuple[Change, ...] = ()
    operation: str = ""
    """``save_trigger``, ``list_triggers``, ``get_trigger``, ``delete_trigger``, one of
    ``spec.routes.WIDGET_OPERATIONS`` (``public_config``, ``agent_next``, ``agent_info``), of
    ``spec.routes.IDENTITY_OPERATIONS`` or ``EXTERNAL_SERVICE_OPERATIONS``, or ``unknown_route``."""
    external: ExternalCall | None = None
    """The outbound call the server makes before it answers (the external-service routes). Then
    ``answer`` is the answer when the webhook cannot be reached; an adapter that performs the call
    renders the real one with ``spec.outbound.render(external, result)``."""


Predictor = Callable[[Request, StateView, Profile, Environment], Outcome]


def json_answer(
    status: int, body: Any, *, inferred: Sequence[str] = (), extra_headers: Headers = ()
) -> Answer:
    return Answer(
        status=status,
        body=stringify(body).encode("utf-8"),
        headers=JSON_HEADERS + tuple(extra_headers),
        inferred=tuple(inferred),
    )


def middleware_answer(answer: Answer) -> Answer:
    """``answer`` sent by a middleware itself: the router's ``cache-control``/``pragma`` are not added."""
    extra = tuple(header for header in answer.headers if header not in JSON_HEADERS)
    return replace(answer, headers=MIDDLEWARE_JSON_HEADERS + extra)


def success(fields: dict[str, JsonValue] | None = None, *, inferred: Sequence[str] = ()) -> Answer:
    # ``success`` is always the last key of a success body.
    if not fields and not inferred:
        return _BARE_SUCCESS  # every save and delete: an Answer is immutable, so one serves all
    return json_answer(200, {**(fields or {}), "success": True}, inferred=inferred)


def failure(status: int, error: str, error_type: str | None = None, details: JsonValue = None) -> Answer:
    body: dict[str, JsonValue] = {"success": False, "error": error}
    if error_type is not None:
        body["errorType"] = error_type
    if details is not None:
        body["details"] = details
    return json_answer(status, body)


def validation_failure(message: str) -> Answer:
    answer = _validation_failures.get(message)
    if answer is None:
        answer = failure(400, f"{message} [invalid-params]", "invalid-params")
        if len(_validation_failures) >= _VALIDATION_FAILURES_KEPT:
            _validation_failures.clear()
        _validation_failures[message] = answer
    return answer


_BARE_SUCCESS = json_answer(200, {"success": True})
_VALIDATION_FAILURES_KEPT = 512
_validation_failures: dict[str, Answer] = {}
"""ajv's messages repeat (a client sends the same bad body again and again); messages quote parts
of the body, so the cache is bounded."""


def html_error(status: int, reason: str) -> Answer:
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
        f"</head>\n<body>\n<pre>{reason}</pre>\n</body>\n</html>\n"
    )
    return Answer(
        status=status, body=page.encode(), headers=HTML_ERROR_HEADERS, inferred=("strict-body-parser",)
    )


# -- the checks before a handler, in the order the profile gives --------------------------------


@dataclass(slots=True)
class _Checks:
    request: Request
    state: StateView
    profile: Profile
    env: Environment
    route: Route
    body: JsonValue = None
    """The parsed body (POST only): the body parser runs once, before any check."""
    user: User | None = None
    validated: JsonValue = None
    changes: tuple[Change, ...] = ()

    def run(self, step: Step) -> Answer | None:
        refusal = _STEP_CHECKS[step](self)
        if refusal is None or self.profile.refusal_passes_router(step):
            return refusal
        return middleware_answer(refusal)

    def delayed(self, answer: Answer) -> Answer:
        delay = self.profile.auth_failure_delay
        if delay is None:
            return answer
        return Answer(answer.status, answer.body, answer.headers, delay, answer.inferred)

    def authenticate(self) -> Answer | None:
        user_id = self.request.header(USER_ID_HEADER)
        token = self.request.header(AUTH_TOKEN_HEADER)
        user = self.state.find_user(user_id) if user_id and token else None
        if user is None or (user.token != token and not self._issued(user.user_id, token)):
            return self.delayed(json_answer(401, self.profile.unauthorized_body))
        self.user = user
        return None

    def _issued(self, user_id: str, token: str | None) -> bool:
        # Tokens from POST /api/v1/login; only an IdentityView keeps them.
        return (
            bool(token)
            and is_identity_view(self.state)
            and self.state.has_login_token(user_id, hash_login_token(token or ""))
        )

    def authorize(self, permission: str = MANAGE_TRIGGERS) -> Answer | None:
        assert self.user is not None
        if not holds(self.user, permission, self.state):
            return self.delayed(failure(403, FORBIDDEN_MESSAGE))
        return None

    def rate_limit(self, route_limit: RateLimit | None = None) -> Answer | None:
        """The REST limiter (``route_limit``: the route's own ``rateLimiterOptions``); without a user
        (``/login``, the external-service call) nobody bypasses it."""
        limit = self.profile.rate_limit
        if limit is not None and route_limit is not None:
            limit = route_limit  # development mode turns the route's own limit off as well
        if limit is None or (self.user is not None and holds(self.user, limit.bypass_permission, self.state)):
            return None
        key = f"{self.request.client_address} {self.request.method} {self.route.route_key}"
        window = self.state.rate_window(key)
        now = self.env.now_ms
        if window is not None and now < window.started_ms + limit.window_ms and window.calls >= limit.calls:
            reset_ms = window.started_ms + limit.window_ms
            seconds = math.ceil((reset_ms - now) / 1000)
            answer = failure(
                429,
                "Error, too many requests. Please slow down. You must wait "
                f"{seconds} seconds before trying this endpoint again. [error-too-many-requests]",
            )
            headers = (
                (RATE_LIMIT_LIMIT, str(limit.calls)),
                (RATE_LIMIT_REMAINING, "0"),
                (RATE_LIMIT_RESET, str(reset_ms)),
            )
            return Answer(answer.status, answer.body, answer.headers + headers, None, ("rate-limit",))
        self.changes = (*self.changes, CountCall(key=key, at_ms=now, window_ms=limit.window_ms))
        return None

    def validate(self) -> Answer | None:
        operation = self.route.operation
        if operation == "save_trigger":
            outcome = post_body_validator().validate(self.body, in_place=True)
        elif operation == "list_triggers":
            outcome = list_query_validator().validate(parse_query(self.request.query), in_place=True)
        else:
            return None
        if not outcome.valid:
            return validation_failure(outcome.message)
        self.validated = outcome.data
        return None


_STEP_CHECKS: dict[Step, Callable[[_Checks], Answer | None]] = {
    "authentication": _Checks.authenticate,
    "permission": _Checks.authorize,
    "rate-limit": _Checks.rate_limit,
    "validation": _Checks.validate,
}
"""The check each step of ``Profile.check_order`` runs (one lookup per step, no chain of tests)."""


def predict(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """The exact answer of a server running ``profile`` to ``request``, and what it changes."""
    path = request.path
    method = request.method.upper()
    parsed = parse_body(request.header("content-type"), request.body, profile)
    rejected = _rejected_body(parsed)
    if rejected is not None:  # the strict body parser of 6.13-7.4 is middleware in front of every route
        return Outcome(rejected, operation=_operation_name(match_route(method, path), state))
    if method == "HEAD":
        # Express answers HEAD with the GET handler and no body.
        outcome = predict(replace(request, method="GET"), state, profile, env)
        answer = replace(outcome.answer, body=b"", inferred=(*outcome.answer.inferred, "head-requests"))
        return replace(outcome, answer=answer)
    route = match_route(method, path)
    if route is None:
        return Outcome(unknown_route(request, path, profile), operation="unknown_route")
    if route.operation in WIDGET_OPERATIONS:
        from spec.widget import predict_widget  # spec.widget builds on this module

        return predict_widget(_Checks(request, state, profile, env, route, body=parsed.value), state)
    if route.operation in IDENTITY_OPERATIONS or route.operation in EXTERNAL_SERVICE_OPERATIONS:
        if not is_identity_view(state):
            # A view without users, tokens, roles and settings: these routes do not exist for it.
            return Outcome(unknown_route(request, path, profile), operation="unknown_route")
        checks = _Checks(request, state, profile, env, route, body=parsed.value)
        if route.operation in EXTERNAL_SERVICE_OPERATIONS:
            from spec.external_service import predict_external_service  # builds on this module

            return predict_external_service(checks, state)
        from spec.identity import predict_identity  # spec.identity builds on this module

        return predict_identity(checks, state)
    checks = _Checks(request, state, profile, env, route, body=parsed.value)
    for step in profile.check_order:
        refusal = checks.run(step)
        if refusal is not None:
            return Outcome(refusal, checks.changes, route.operation)
    answer, changes = _handle(checks)
    return Outcome(answer, (*checks.changes, *changes), route.operation)


WEBAPP_PAGE = (
    b'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>Rocket.Chat</title>\n</head>\n'
    b"<body>\n</body>\n</html>\n"
)
"""Stands for Meteor's app page; the real one is the built client's boilerplate (not reproduced)."""
WEBAPP_ALLOW = "OPTIONS, GET, HEAD"


def unknown_route(request: Request, path: str, profile: Profile) -> Answer:
    """A path or method the API does not route, answered by whatever sits behind it in the era
    (``Profile.unknown_routes``); no authentication runs first in any era."""
    method = request.method.upper()
    inferred = ("unknown-route",)
    if profile.unknown_routes == "hono":
        if method == "OPTIONS":  # Router.ts registers options('*') on the API
            return Answer(200, b"OK", TEXT_PLAIN_HEADERS, inferred=inferred)
        return Answer(404, b"404 Not Found", TEXT_PLAIN_HEADERS, inferred=inferred)
    defined = routed_methods(path) if profile.restivus_405 else ()
    if defined:
        allow = ((ALLOW, ", ".join(defined)),)
        body = {"status": "error", "message": "API endpoint does not exist"}
        return json_answer(405, body, inferred=inferred, extra_headers=allow)
    if method == "GET":
        return Answer(200, WEBAPP_PAGE, HTML_PAGE_HEADERS, inferred=(*inferred, "webapp-page"))
    if method == "OPTIONS":
        return Answer(200, b"", (), inferred=inferred)
    return Answer(405, b"", ((ALLOW, WEBAPP_ALLOW),), inferred=inferred)


def _operation_name(route: Route | None, state: StateView) -> str:
    if route is None:
        return "unknown_route"
    needs_identity = route.operation in IDENTITY_OPERATIONS or route.operation in EXTERNAL_SERVICE_OPERATIONS
    if needs_identity and not is_identity_view(state):
        return "unknown_route"
    return route.operation


def _rejected_body(parsed: ParsedBody) -> Answer | None:
    # The strict body parser of 6.13-7.4 runs as middleware, before authentication.
    if parsed.rejected_status == 413:
        return html_error(413, "Payload Too Large")
    if parsed.rejected_status is not None:
        return html_error(parsed.rejected_status, "Bad Request")
    return None


def _handle(checks: _Checks) -> tuple[Answer, tuple[Change, ...]]:
    route, state, env = checks.route, checks.state, checks.env
    if route.operation == "save_trigger":
        body = checks.validated
        assert isinstance(body, dict)
        trigger_id = body.get("_id")
        if trigger_id:  # a truthy id updates; an unknown one is a silent no-op
            assert isinstance(trigger_id, str)
            if state.find_trigger(trigger_id) is None:
                return success(), ()
            return success(), (UpdateTrigger(trigger_id, saved_fields(body, env.now_ms)),)
        return success(), (InsertTrigger(new_trigger(body, env.new_trigger_id, env.now_ms)),)
    if route.operation == "list_triggers":
        query = checks.validated
        assert isinstance(query, dict)
        return list_triggers(query, state.all_triggers()), ()
    assert route.trigger_id is not None
    if route.operation == "get_trigger":
        return success({"trigger": state.find_trigger(route.trigger_id)}), ()
    existing = state.find_trigger(route.trigger_id)
    return success(), ((DeleteTrigger(route.trigger_id),) if existing is not None else ())


def is_public(trigger: Trigger) -> bool:
    """Whether the public config shows ``trigger`` (stores that index this subset ask here)."""
    return trigger.get("enabled") is True


def public_triggers(state: StateView) -> Sequence[Trigger]:
    """The enabled triggers in natural order (``spec.widget`` builds the public config from them)."""
    # Optional StateView hook: a store that keeps this subset, in natural order, offers it directly.
    kept = getattr(state, "public_triggers", None)
    return kept() if kept is not None else [t for t in state.all_triggers() if is_public(t)]


# -- listing ------------------------------------------------------------------------------------


def pagination(query: dict[str, JsonValue]) -> tuple[float, float, list[str]]:
    """Rocket.Chat's getPaginationItems: ``(offset, count, inferred)``; a count of 0 means no limit."""
    inferred: list[str] = []
    raw_offset = query.get("offset")
    offset = js_parse_int(_js_string(raw_offset)) if raw_offset else 0.0
    raw_count = query.get("count")
    count = float(DEFAULT_COUNT) if raw_count is None else js_parse_int(_js_string(raw_count or 0.0))
    count = min(count, UPPER_COUNT_LIMIT) if not math.isnan(count) else count
    if math.isnan(offset) or math.isnan(count) or offset < 0 or count < 0:
        inferred.append("odd-pagination")
    return offset, count, inferred


def _js_string(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number_to_string(float(value))
    return str(value)


class InvalidSort(ValueError):
    pass


def parse_sort(raw: JsonValue) -> tuple[dict[str, JsonValue] | None, list[str]]:
    """parseJsonQuery's sort: the JSON object of field to 1 or -1; ``None`` means the default."""
    if not raw:
        return None, []
    assert isinstance(raw, str)
    try:
        parsed = parse_json(raw)
    except JsonSyntaxError:
        raise InvalidSort(raw) from None
    if parsed is None:
        raise InvalidSort(raw)  # Object.entries(null) throws
    entries: list[tuple[str, JsonValue]]
    if isinstance(parsed, dict):
        entries = list(parsed.items())
    elif isinstance(parsed, str):
        entries = [(str(index), char) for index, char in enumerate(parsed)]
    elif isinstance(parsed, list):
        entries = [(str(index), item) for index, item in enumerate(parsed)]
    else:
        entries = []
    for _, direction in entries:
        if isinstance(direction, bool) or direction not in (1, -1):
            raise InvalidSort(raw)
    if not isinstance(parsed, dict):
        # A number, boolean or array passes the check and reaches MongoDB as it is.
        return dict(entries) or None, ["sort-order"]
    return parsed, []


def list_triggers(query: dict[str, JsonValue], stored: Sequence[Trigger]) -> Answer:
    try:
        sort, sort_inferred = parse_sort(query.get("sort"))
    except InvalidSort as error:
        return failure(
            400,
            f'Invalid sort parameter provided: "{error.args[0]}" [error-invalid-sort]',
            "error-invalid-sort",
            {"helperMethod": "parseJsonQuery"},
        )
    offset, count, inferred = pagination(query)
    ordered, tied = sort_triggers(stored, sort if sort is not None else DEFAULT_SORT)
    start = 0 if math.isnan(offset) or offset < 0 else int(offset)
    page = ordered[start:]
    if not math.isnan(count) and count != 0:
        page = page[: int(abs(count))]
    inferred += sort_inferred
    if tied:  # MongoDB does not promise an order among equal sort keys
        inferred.append("sort-order")
    return success(
        {
            "triggers": _listed(page),
            "count": float(len(page)),
            "offset": offset,
            "total": float(len(stored)),
        },
        inferred=sorted(set(inferred)),
    )


def _listed(page: Sequence[Trigger]) -> list[Any]:
    """The page's triggers for the answer body. Optional hook: a store's page may hand them over as
    the text ``stringify`` writes for each (``spec.jsvalues.JsonText``, copied into the body), instead
    of as values that would be written again on every list."""
    texts = getattr(page, "as_json_texts", None)
    listed: list[JsonText] | None = texts() if texts is not None else None
    return list(page) if listed is None else listed


# -- MongoDB sort order -------------------------------------------------------------------------

_BSON_RANK = {type(None): 1, float: 2, int: 2, str: 3, dict: 4, list: 5, bool: 8}
_STRING_RANK = _BSON_RANK[str]


def _sort_key(value: Any, descending: bool) -> tuple[Any, ...]:
    if type(value) is str:  # the common case (names): first
        return (_STRING_RANK, value)
    if isinstance(value, list):
        # An array sorts by its smallest element ascending, its largest descending.
        if not value:
            return (0,)
        keys = [_sort_key(item, descending) for item in value]
        return max(keys) if descending else min(keys)
    rank = _BSON_RANK.get(type(value), 9)
    if isinstance(value, dict):
        return (rank, tuple((k, _sort_key(v, descending)) for k, v in value.items()))
    if value is None:
        return (rank,)
    return (rank, value)


def _field(trigger: Trigger, dotted: str) -> Any:
    if "." not in dotted and type(trigger) is dict:
        return trigger.get(dotted)
    value: Any = trigger
    for part in dotted.split("."):
        if isinstance(value, list):
            value = [item.get(part) for item in value if isinstance(item, dict)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def sort_key(trigger: Trigger, sort: dict[str, JsonValue]) -> tuple[Any, ...]:
    """``trigger``'s key under ``sort``: one entry per field. Under a sort whose fields all ascend,
    ordering by (key, natural position) is exactly the order ``sort_triggers`` gives."""
    return tuple([_sort_key(_field(trigger, field), direction == -1) for field, direction in sort.items()])


((_DEFAULT_FIELD, _DEFAULT_DIRECTION),) = DEFAULT_SORT.items()
_DEFAULT_PLAIN = "." not in _DEFAULT_FIELD


def default_sort_key(trigger: Trigger) -> tuple[Any, ...]:
    """``sort_key(trigger, DEFAULT_SORT)`` by the shortest path: stores index every trigger by it."""
    value = trigger.get(_DEFAULT_FIELD) if _DEFAULT_PLAIN and type(trigger) is dict else None
    if type(value) is str:  # every stored trigger: a validated name (_field and _sort_key inlined)
        return ((_STRING_RANK, value),)
    return (_sort_key(_field(trigger, _DEFAULT_FIELD), _DEFAULT_DIRECTION == -1),)


def sort_triggers(stored: Sequence[Trigger], sort: dict[str, JsonValue]) -> tuple[Sequence[Trigger], bool]:
    """The triggers in MongoDB's order for ``sort``, and whether two of them have equal sort keys."""
    # Optional hook: a store's sequence may keep an index in exactly this order (ties by position).
    presorted = getattr(stored, "sorted_by", None)
    found = presorted(sort) if presorted is not None else None
    if found is not None:
        ordered: tuple[Sequence[Trigger], bool] = found
        return ordered
    fields = [(field, direction == -1) for field, direction in sort.items()]
    keys = [sort_key(trigger, sort) for trigger in stored]
    order = list(range(len(stored)))
    # Python's sort is stable: sorting by the last key first gives the lexicographic order.
    for position in reversed(range(len(fields))):
        order.sort(key=lambda index: keys[index][position], reverse=fields[position][1])
    return [stored[index] for index in order], len(set(keys)) != len(keys)
