"""Hypothesis strategies for Rocket.Chat Livechat Triggers requests, labelled with the exact answer.

    from hypothesis import given
    from fuzz import bodies, requests

    posts = requests.post_requests(bodies.invalid_bodies(), creds)

    @given(requests.labelled_requests(posts, state, profile, env))
    def test_my_server(labelled): ...

``fuzz.bodies`` draws JSON values of POST bodies (valid after coercion, or invalid by kind),
``fuzz.requests`` whole HTTP requests (encodings, list queries, ids, credentials) and
``LabelledRequest`` values whose expected answer comes from ``spec.predict``; ``fuzz.corpus`` and
``python -m fuzz`` write a deterministic JSON Lines corpus for other languages.
"""

from fuzz import bodies, requests
from fuzz.requests import LabelledRequest, label, labelled_requests

__all__ = ["LabelledRequest", "bodies", "label", "labelled_requests", "requests"]
