"""A stand-in for Rocket.Chat's Livechat Triggers REST API that serves ``spec.predict``'s answers.

Start it with ``python -m mock_server`` (see ``docs/mock-server.md``); embed it with
``mock_server.app.create_app``.
"""

import warnings

# Connexion imports starlette.testclient at start-up, which warns about httpx on every launch. The mock
# never uses the test client, and the warning would only clutter the start-up banner.
warnings.filterwarnings("ignore", message=r".*starlette\.testclient.*")
