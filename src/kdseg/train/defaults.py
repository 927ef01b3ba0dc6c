"""The training section's defaults, read from the config schema (their only home)."""

from __future__ import annotations

import copy
from typing import Any

from kdseg.config.validation import schema_document


def training_default(*keys: str) -> Any:
    """The schema's default of ``training.<keys...>`` (a fresh copy), e.g.
    ``training_default("sampling", "rule")``."""
    node = schema_document()["$defs"]["training"]
    for key in keys:
        node = node["properties"][key]
    return copy.deepcopy(node["default"])
