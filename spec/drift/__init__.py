"""Documentation drift: where the published Livechat Triggers page disagrees with the server contract.

``find_drift`` walks the published OpenAPI document (``spec/documents/published.openapi.json``, taken
verbatim from the documentation page) side by side with the contract
(``spec/documents/contract.openapi.json``, what the server really does) and reports every difference it
can see: operations and response codes, schemas keyword by keyword, and every example value checked
against both documents' schemas. Nothing here is a hand-written list of findings, so a corrected page
(or the contract compared with itself) yields no drift.

The package, by concern:

- ``documents``: reading a document, following its ``$ref`` (through ``spec.pointers``), its operations,
  parameters and examples;
- ``schemas``: what a schema admits (types, ``oneOf`` alternatives merged into one comparable shape);
- ``examples``: example values checked strictly (``jsonschema``) and as the server checks them
  (``spec.ajv``);
- ``findings``: a finding, and the table that words every kind of finding;
- ``walker``: the side-by-side walk that decides which findings there are;
- ``render``: the Markdown and JSON reports;
- ``cli``: ``rc-triggers-drift`` / ``python -m spec.drift``.

Run ``rc-triggers-drift --output docs/doc-drift.md`` (or ``python -m spec.drift``) to regenerate the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spec.lazy import lazy_attributes

if TYPE_CHECKING:
    from spec.drift.cli import main
    from spec.drift.documents import DocumentError, load_document
    from spec.drift.findings import Drift
    from spec.drift.render import render_json, render_markdown
    from spec.drift.walker import find_drift

__all__ = ["DocumentError", "Drift", "find_drift", "load_document", "main", "render_json", "render_markdown"]

# Imported on first use, so that the console script (spec.drift.cli:main) starts, and names a missing
# [drift] extra, even where the validators that spec.drift.walker needs are not installed.
_HOMES = {
    "main": "spec.drift.cli",
    "DocumentError": "spec.drift.documents",
    "load_document": "spec.drift.documents",
    "Drift": "spec.drift.findings",
    "render_json": "spec.drift.render",
    "render_markdown": "spec.drift.render",
    "find_drift": "spec.drift.walker",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
