"""One-line messages for schema violations: ``config key 'a.b.c': <what is wrong>``."""

from __future__ import annotations

from typing import Any

import jsonschema


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def describe_validation_error(error: jsonschema.ValidationError) -> str:
    """One line: ``config key 'a.b.c': <what is wrong>``."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        # the alternative that got deepest into the value, a type mismatch last
        best = min(error.context, key=lambda e: (-len(e.path), e.validator == "type"))
        return describe_validation_error(best)
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = (
            sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        )
        if allowed:
            where = f"'{key}'" if error.absolute_path else "the top level"
            return (
                f"config key '{_join(key, extra[0]) if extra else key}': unknown key in {where} "
                f"(allowed: {', '.join(allowed)})"
            )
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    if error.validator == "propertyNames":
        return f"config key '{key}': invalid name {error.instance!r} ({error.message})"
    return f"config key '{key}': {error.message}"


def _join(parent: str, child: str) -> str:
    return child if parent == "<top level>" else f"{parent}.{child}"


def config_error_message(err: BaseException) -> str:
    """The message of a Snakemake/jsonschema validation failure, reduced to one line."""
    seen: BaseException | None = err
    while seen is not None:  # Snakemake raises its WorkflowError inside `except ValidationError`
        if isinstance(seen, jsonschema.ValidationError):
            return "invalid config: " + describe_validation_error(seen)
        seen = seen.__cause__ or seen.__context__
    return f"invalid config: {str(err).splitlines()[0]}"
