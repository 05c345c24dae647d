"""The executable contract of Rocket.Chat's Livechat Triggers REST API.

``spec.predict.predict`` answers any request exactly as the server would; ``spec.contract`` validates
bodies and queries as ajv does; ``spec.profiles`` holds the differences between releases.
"""

__version__ = "0.1.0"
"""The project's version, stated only here: the package metadata (hatch) and every ``--version`` read it."""
