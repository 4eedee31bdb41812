"""The JSON Schemas of our events: the CloudEvents envelope, and one schema per versioned type for its data.

The schemas live in ``planning_sync/schemas/`` (``<type>.json``, plus ``cloudevent.json``
and ``common.json`` for shared shapes) and are the contract docs/events.md describes.
Tests validate every event the services record against them.
"""

import datetime as dt
import functools
import json
import re
from collections import deque
from pathlib import Path
from typing import Any

# jsonschema ships no type information and types-jsonschema is not a dependency.
import jsonschema  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
ENVELOPE = "cloudevent"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class UnknownEventType(LookupError):
    """An event type with no schema: every type needs one before it is recorded."""


def validate_event(envelope: dict[str, Any]) -> None:
    """Check a CloudEvents structured-JSON event: the envelope, then its data against its type's schema.

    Raises ``jsonschema.ValidationError`` whose message names the failing path
    (``$.data.lines[0].before``), or ``UnknownEventType`` for a type with no schema.
    """
    _check(ENVELOPE, envelope, prefix=())
    event_type: str = envelope["type"]
    if event_type not in known_types():
        raise UnknownEventType(f"no schema for {event_type}: add planning_sync/schemas/{event_type}.json")
    _check(event_type, envelope["data"], prefix=("data",))


def known_types() -> set[str]:
    """The event types that have a schema."""
    return {name for name in _schemas() if name.startswith("supplyline.")}


def _check(name: str, instance: Any, *, prefix: tuple[str, ...]) -> None:
    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(instance))
    if error is None:
        return
    path = deque([*prefix, *error.absolute_path])
    raise jsonschema.ValidationError(
        f"{name}: {_json_path(path)}: {error.message}",
        validator=error.validator,
        path=path,
        schema_path=error.absolute_schema_path,
        instance=error.instance,
        schema=error.schema,
        validator_value=error.validator_value,
    )


def _json_path(path: deque[str | int]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


@functools.cache
def _validator(name: str) -> Any:
    return jsonschema.Draft202012Validator(_schemas()[name], registry=_registry(), format_checker=_format_checker())


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Every schema file by name without ``.json``; each is checked against the metaschema on load."""
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        schemas[path.name.removesuffix(".json")] = schema
    return schemas


@functools.cache
def _registry() -> Registry[Any]:
    # Every file is registered under its $id, so "common.json#/$defs/terms" resolves
    # locally; a reference to anything else fails instead of being fetched.
    resources: list[tuple[str, Resource[Any]]] = [
        (schema["$id"], DRAFT202012.create_resource(schema)) for schema in _schemas().values()
    ]
    return Registry().with_resources(resources)


@functools.cache
def _format_checker() -> Any:
    """jsonschema checks ``date``, ``uuid`` and the like itself; ``date-time`` needs a package we do without."""
    checker = jsonschema.FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_rfc3339_datetime)
    return checker


def _is_rfc3339_datetime(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    return bool(_RFC3339.fullmatch(instance)) and dt.datetime.fromisoformat(instance).tzinfo is not None
