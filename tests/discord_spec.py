"""What Discord accepts: request bodies checked against Discord's own OpenAPI specification.

The specification (API v10, ``openapi.json``) is Discord's, read from the shared folder beside
the checkout (``shared/discord-api/``; ``NEWSBOT_DISCORD_SPEC`` names another file). Every REST
request body is validated against the request schema of its route and method with ``jsonschema``
over a ``referencing`` registry holding the whole file, so the spec's ``$ref``s resolve. The
schema does not hold every documented limit (names, option order, total embed size, unique
custom ids, ...): ``limit_problems`` checks those, from Discord's developer documentation.

A problem is reported the way Discord reports it: a path into the body and an error code, which
``form_errors`` nests into the ``errors`` object of a 400 "Invalid Form Body" (code 50035).

The spec, the registry, the route table and each route's validator are built once per process.
"""

from __future__ import annotations

import functools
import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

JSON = dict[str, Any]

SPEC_PATH = Path(
    os.environ.get(
        "NEWSBOT_DISCORD_SPEC",
        Path(__file__).resolve().parents[2] / "shared" / "discord-api" / "openapi.json",
    )
)
SPEC_URI = "urn:discord-openapi-v10"

# Documented limits the schema does not hold (or holds more loosely).
CONTENT = 2000
EMBEDS, EMBED_TOTAL, TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE = 10, 6000, 256, 4096, 25, 256, 1024
FOOTER, AUTHOR = 2048, 256
ROWS, CUSTOM_ID, BUTTON_LABEL, SELECT_OPTIONS, SELECT_TEXT = 5, 100, 80, 25, 100
COMMANDS, OPTIONS, CHOICES, NAME, COMMAND_DESCRIPTION, CHOICE_TEXT = 100, 25, 25, 32, 100, 100
CHAT_INPUT, SUBCOMMAND, SUBCOMMAND_GROUP = 1, 1, 2
ACTION_ROW, BUTTON, SELECTS = 1, 2, (3, 5, 6, 7, 8)
NAME_CHARACTERS = "-_'"  # besides letters and digits (the documented pattern is ^[-_'\p{L}\p{N}...]{1,32}$)
URL_SCHEMES = ("http", "https", "attachment")

# discord.py 2.7 sends a few fields Discord accepts that the spec does not list (tts on message
# edits, flags inside embeds, nsfw on application commands): the schemas do not forbid unknown
# fields, so these pass as they are.


@dataclass(frozen=True)
class Problem:
    """One field Discord would refuse: where it is in the body, Discord's error code and message."""

    path: tuple[str | int, ...]
    code: str
    message: str

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.path) or "(body)"
        return f"{where}: {self.code} {self.message}"


@functools.cache
def _registry() -> referencing.Registry:
    if not SPEC_PATH.exists():
        raise FileNotFoundError(
            f"Discord's OpenAPI specification is missing: {SPEC_PATH} (the shared folder beside the checkout "
            "holds it in discord-api/openapi.json; set NEWSBOT_DISCORD_SPEC to use another copy)"
        )
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    # Discord reads a snowflake from a string or an integer; discord.py sends an upload's attachment id as 0, 1, ...
    schemas = spec["components"]["schemas"]
    schemas["SnowflakeType"] = {"anyOf": [schemas["SnowflakeType"], {"type": "integer", "minimum": 0}]}
    resource = referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012)
    return referencing.Registry().with_resource(SPEC_URI, resource)


def _spec() -> JSON:
    return _registry()[SPEC_URI].contents


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@functools.cache
def _routes() -> list[tuple[str, re.Pattern[str], str, str]]:
    """(method, path regex, spec path, pointer to the JSON request schema), most specific first."""
    routes = []
    for template, operations in _spec()["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            content = (operation.get("requestBody") or {}).get("content") or {}
            if "application/json" not in content:
                continue
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            pointer = _pointer("paths", template, method, "requestBody", "content", "application/json", "schema")
            literal = sum(1 for part in template.split("/") if part and not part.startswith("{"))
            routes.append((literal, method.upper(), pattern, template, pointer))
    routes.sort(key=lambda route: -route[0])
    return [route[1:] for route in routes]


def spec_route(method: str, path: str) -> tuple[str, str] | None:
    """The spec's path template and request schema pointer for a request (path without /api/v10)."""
    for route_method, pattern, template, pointer in _routes():
        if route_method == method and pattern.match(path):
            return template, pointer
    return None


@functools.cache
def _validator(pointer: str) -> jsonschema.protocols.Validator:
    schema = {"$ref": f"{SPEC_URI}#/{pointer}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def schema_problems(pointer: str, body: Any) -> list[Problem]:
    """Where ``body`` breaks the request schema at ``pointer`` (a oneOf is judged by its matching branch)."""
    return [_problem(leaf) for error in _validator(pointer).iter_errors(body) for leaf in _leaves(error)]


def _wrong_kind(errors: list[jsonschema.ValidationError]) -> bool:
    """A branch of a oneOf/anyOf meant for another kind of value: its type or its discriminator differs."""
    for error in errors:
        path = list(error.relative_path)
        if error.validator == "type" and not path:
            return True
        if error.validator in ("enum", "const") and path == ["type"]:
            return True
    return False


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        yield error
        return
    branches: dict[int, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    candidates = [errors for errors in branches.values() if not _wrong_kind(errors)]
    if not candidates:
        yield error
        return
    best = min(candidates, key=lambda errors: sum(1 for sub in errors for _ in _leaves(sub)))
    for sub in best:
        yield from _leaves(sub)


_CODES = {
    "maxLength": ("BASE_TYPE_MAX_LENGTH", "Must be {} or fewer in length."),
    "maxItems": ("BASE_TYPE_MAX_LENGTH", "Must be {} or fewer in length."),
    "minLength": ("BASE_TYPE_MIN_LENGTH", "Must be {} or more in length."),
    "minItems": ("BASE_TYPE_MIN_LENGTH", "Must be {} or more in length."),
    "required": ("BASE_TYPE_REQUIRED", "This field is required"),
    "enum": ("BASE_TYPE_CHOICES", "Value must be one of {}."),
    "maximum": ("NUMBER_TYPE_MAX", "int value should be less than or equal to {}."),
    "minimum": ("NUMBER_TYPE_MIN", "int value should be greater than or equal to {}."),
}


def _problem(error: jsonschema.ValidationError) -> Problem:
    path = tuple(error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'([^']+)'", error.message)
        path = (*path, missing[1]) if missing else path
    code, message = _CODES.get(str(error.validator), ("BASE_TYPE_INVALID", "{}"))
    detail = error.validator_value if error.validator in _CODES else error.message
    return Problem(path, code, message.format(detail))


# -- documented limits beyond the schema --------------------------------------------------------


def limit_problems(template: str, method: str, body: Any) -> list[Problem]:
    """The documented limits for a request body, by the spec's route template."""
    if not isinstance(body, dict | list):
        return []
    if template.endswith("/commands") and method == "PUT" and isinstance(body, list):
        return list(commands_problems(body))
    if template.endswith("/commands") and method == "POST" and isinstance(body, dict):
        return list(command_problems(body, ()))
    if not isinstance(body, dict):
        return []
    if template.endswith("/callback"):
        return list(callback_problems(body))
    if template.startswith("/channels/{channel_id}/messages") or template.startswith("/webhooks/"):
        return list(message_problems(body, ()))
    return []


def callback_problems(body: JSON) -> Iterator[Problem]:
    data = body.get("data")
    if not isinstance(data, dict):
        return
    if body.get("type") in (4, 7):
        yield from message_problems(data, ("data",))
    elif body.get("type") == 8:
        yield from choices_problems(data.get("choices") or [], ("data", "choices"), CHOICE_TEXT)


def is_empty_message(body: JSON, files: int) -> bool:
    """Discord's 50006 "Cannot send an empty message": nothing to show."""
    keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    return not files and not any(body.get(key) for key in keys)


def _length(problem_path: tuple[str | int, ...], text: Any, low: int, high: int) -> Iterator[Problem]:
    if not isinstance(text, str):
        return
    if not low <= len(text) <= high:
        if low:
            yield Problem(problem_path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
        else:
            yield Problem(problem_path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")


def message_problems(message: JSON, at: tuple[str | int, ...]) -> Iterator[Problem]:
    yield from _length((*at, "content"), message.get("content"), 0, CONTENT)
    embeds = message.get("embeds") or []
    if len(embeds) > EMBEDS:
        yield Problem((*at, "embeds"), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS} or fewer in length.")
    total = 0
    for n, embed in enumerate(embeds):
        if isinstance(embed, dict):
            total += embed_length(embed)
            yield from embed_problems(embed, (*at, "embeds", n))
    if total > EMBED_TOTAL:
        yield Problem((*at, "embeds"), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL}")
    yield from components_problems(message.get("components") or [], (*at, "components"))


def embed_length(embed: JSON) -> int:
    """The characters Discord counts towards the 6,000 of a message's embeds."""
    fields = [f for f in embed.get("fields") or [] if isinstance(f, dict)]
    return sum(
        len(text) if isinstance(text, str) else 0
        for text in [
            embed.get("title"),
            embed.get("description"),
            (embed.get("footer") or {}).get("text"),
            (embed.get("author") or {}).get("name"),
            *(f.get("name") for f in fields),
            *(f.get("value") for f in fields),
        ]
    )


def embed_problems(embed: JSON, at: tuple[str | int, ...]) -> Iterator[Problem]:
    yield from _length((*at, "title"), embed.get("title"), 0, TITLE)
    yield from _length((*at, "description"), embed.get("description"), 0, DESCRIPTION)
    fields = embed.get("fields") or []
    if len(fields) > FIELDS:
        yield Problem((*at, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS} or fewer in length.")
    for n, field in enumerate(fields):
        if isinstance(field, dict):
            yield from _length((*at, "fields", n, "name"), field.get("name"), 1, FIELD_NAME)
            yield from _length((*at, "fields", n, "value"), field.get("value"), 1, FIELD_VALUE)
    footer, author = embed.get("footer") or {}, embed.get("author") or {}
    yield from _length((*at, "footer", "text"), footer.get("text"), 0, FOOTER)
    yield from _length((*at, "author", "name"), author.get("name"), 0, AUTHOR)
    urls = [
        ((*at, "url"), embed.get("url")),
        ((*at, "author", "url"), author.get("url")),
        ((*at, "author", "icon_url"), author.get("icon_url")),
        ((*at, "footer", "icon_url"), footer.get("icon_url")),
        ((*at, "image", "url"), (embed.get("image") or {}).get("url")),
        ((*at, "thumbnail", "url"), (embed.get("thumbnail") or {}).get("url")),
    ]
    for path, url in urls:
        if isinstance(url, str) and not is_url(url):
            yield Problem(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def is_url(text: str) -> bool:
    """A URL Discord takes in an embed: http(s) (or attachment://) with a host, and no spaces."""
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in URL_SCHEMES and bool(parts.netloc) and not re.search(r"\s", text)


def _walk(components: Iterable[Any], at: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], JSON]]:
    for n, component in enumerate(components):
        if isinstance(component, dict):
            yield (*at, n), component
            yield from _walk(component.get("components") or [], (*at, n, "components"))


def components_problems(components: list[Any], at: tuple[str | int, ...]) -> Iterator[Problem]:
    rows = [c for c in components if isinstance(c, dict) and c.get("type") == ACTION_ROW]
    if len(rows) > ROWS:
        yield Problem(at, "BASE_TYPE_MAX_LENGTH", f"Must be {ROWS} or fewer in length.")
    seen: set[str] = set()
    for path, component in _walk(components, at):
        custom_id = component.get("custom_id")
        if isinstance(custom_id, str):
            yield from _length((*path, "custom_id"), custom_id, 1, CUSTOM_ID)
            if custom_id in seen:
                yield Problem(
                    (*path, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            seen.add(custom_id)
        if component.get("type") == BUTTON:
            yield from _length((*path, "label"), component.get("label"), 0, BUTTON_LABEL)
        if component.get("type") == 3:
            options = component.get("options") or []
            if not 1 <= len(options) <= SELECT_OPTIONS:
                yield Problem(
                    (*path, "options"), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {SELECT_OPTIONS} in length."
                )
            for n, option in enumerate(options):
                if isinstance(option, dict):
                    yield from _length((*path, "options", n, "label"), option.get("label"), 1, SELECT_TEXT)
                    yield from _length((*path, "options", n, "value"), option.get("value"), 1, SELECT_TEXT)
                    yield from _length((*path, "options", n, "description"), option.get("description"), 0, SELECT_TEXT)


def choices_problems(choices: list[Any], at: tuple[str | int, ...], longest: int) -> Iterator[Problem]:
    if len(choices) > CHOICES:
        yield Problem(at, "BASE_TYPE_MAX_LENGTH", f"Must be {CHOICES} or fewer in length.")
    for n, choice in enumerate(choices):
        if isinstance(choice, dict):
            yield from _length((*at, n, "name"), choice.get("name"), 1, longest)
            if isinstance(choice.get("value"), str):
                yield from _length((*at, n, "value"), choice["value"], 1, longest)


def commands_problems(commands: list[Any]) -> Iterator[Problem]:
    chat_input = [c for c in commands if isinstance(c, dict) and c.get("type", CHAT_INPUT) == CHAT_INPUT]
    if len(chat_input) > COMMANDS:
        yield Problem((), "APPLICATION_COMMANDS_TOO_MANY", f"Maximum number of application commands ({COMMANDS})")
    for n, command in enumerate(commands):
        if isinstance(command, dict):
            yield from command_problems(command, (n,))


def _name_problems(name: Any, at: tuple[str | int, ...]) -> Iterator[Problem]:
    if not isinstance(name, str):
        return
    valid = 1 <= len(name) <= NAME and all(ch.isalnum() or ch in NAME_CHARACTERS for ch in name)
    if not valid or name != name.lower():
        yield Problem(at, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def command_problems(command: JSON, at: tuple[str | int, ...]) -> Iterator[Problem]:
    """A slash command's name, description and options (user and message commands have only names)."""
    if command.get("type", CHAT_INPUT) != CHAT_INPUT:
        return
    yield from _name_problems(command.get("name"), (*at, "name"))
    yield from _length((*at, "description"), command.get("description"), 1, COMMAND_DESCRIPTION)
    yield from options_problems(command.get("options") or [], (*at, "options"))


def options_problems(options: list[Any], at: tuple[str | int, ...]) -> Iterator[Problem]:
    if len(options) > OPTIONS:
        yield Problem(at, "BASE_TYPE_MAX_LENGTH", f"Must be {OPTIONS} or fewer in length.")
    optional_seen = False
    for n, option in enumerate(options):
        if not isinstance(option, dict):
            continue
        path = (*at, n)
        yield from _name_problems(option.get("name"), (*path, "name"))
        yield from _length((*path, "description"), option.get("description"), 1, COMMAND_DESCRIPTION)
        yield from choices_problems(option.get("choices") or [], (*path, "choices"), CHOICE_TEXT)
        if option.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
            yield from options_problems(option.get("options") or [], (*path, "options"))
            continue
        if option.get("required"):
            if optional_seen:
                yield Problem(
                    (*path, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True


def form_errors(problems: Iterable[Problem]) -> JSON:
    """Problems nested the way Discord's 50035 body holds them: {"embeds": {"0": {"title": {"_errors": [...]}}}}."""
    errors: JSON = {}
    for problem in problems:
        node = errors
        for part in problem.path:
            node = node.setdefault(str(part), {})
        entry = {"code": problem.code, "message": problem.message}
        if entry not in node.setdefault("_errors", []):
            node["_errors"].append(entry)
    return errors


def problems_for(method: str, path: str, body: Any) -> list[Problem]:
    """Everything Discord would refuse in a request's JSON body: its schema, then the documented limits."""
    route = spec_route(method, path)
    if route is None:
        return []
    return list(_problems(method, *route, json.dumps(body, sort_keys=True)))


@functools.lru_cache(maxsize=4096)
def _problems(method: str, template: str, pointer: str, body_json: str) -> tuple[Problem, ...]:
    """Cached by body: every bot a test starts syncs the same command tree (about 25 ms to validate)."""
    body = json.loads(body_json)
    problems = schema_problems(pointer, body)
    seen = {problem.path for problem in problems}  # the schema's word on a field comes first
    return tuple(problems + [p for p in limit_problems(template, method, body) if p.path not in seen])
