"""A small fake Discord (REST API + gateway) for end-to-end tests of discord.py bots.

The fake listens on 127.0.0.1 only (an ephemeral port) and speaks just enough of
Discord's API v10 for a real ``discord.Client`` / ``commands.Bot`` /
``commands.AutoShardedBot`` to log in, connect, sync application commands, answer
interactions and post messages.  discord.py is pointed at it by patching
``discord.http.Route.BASE`` and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``.

Typical use::

    async with FakeDiscord() as fake:
        async with fake.running(bot):            # patch, login, connect, wait ready
            rec = await fake.slash("ping", user=fake.admin)
            body = await rec.response()          # first POST to /callback
            message = await rec.final()          # message state once the bot is quiet
            click = await fake.click(rec, "ping:again")
            assert fake.unhandled == []

Server life cycle
    ``FakeDiscord(shard_count=1, interaction_deadline=3.0, strict=True, guild_shard=None)``, ``await start()``,
    ``await stop()`` or ``async with FakeDiscord() as fake``; ``rest_url``,
    ``gateway_url``, ``token``.  ``patched()`` is a context manager patching
    discord.py (and restoring it); ``running(bot, reconnect=False)`` is an async
    context manager that patches, logs the bot in, connects it, waits until it is
    ready and closes it on exit.

World
    ``app_id`` (== ``bot_user.id``), ``guild_id``, ``channel_id`` (a text
    channel), users ``owner`` (guild and application owner), ``admin`` (Manage
    Server) and ``member`` (no special permissions), ``add_user()``,
    ``add_channel()``, ``next_id()`` (unique, increasing snowflakes).
    ``add_guild(shard=)`` adds another server (call before the bot connects),
    with its own ``@everyone`` role and ``general`` channel and the same users
    as members; ``guilds`` maps every guild id to its ``FakeGuild`` (the first
    is ``guild_id``). As Discord, each guild's READY entry, GUILD_CREATE and
    events go to the shard ``(guild_id >> 22) % shard_count`` only; ``slash``,
    ``click``, ``autocomplete``, ``dispatch_event`` and ``post_user_message``
    act in the guild of their channel (or ``guild_id=``), the first by default.

Gateway
    ``await wait_ready()``, ``await dispatch_event(name, data)``,
    ``await drop_connections(code=4000, resumable=True)`` (the client
    reconnects and RESUMEs, or IDENTIFYs again if not resumable),
    ``identifies`` / ``resumes`` (payloads received), ``ready_count``,
    ``await wait_for(predicate, timeout)`` for anything else.

Interactions
    ``await slash(name, options, user=, subcommand=, group=, channel_id=)`` and
    ``await click(message, custom_id, user=, values=)`` return an
    ``InteractionRecord`` with ``callbacks``, ``edits``, ``followups``,
    ``await response()``, ``await final()`` and ``await wait_until(predicate)``.
    ``await autocomplete(name, options, focused)`` returns the choices;
    ``await post_user_message(content, user=)`` dispatches MESSAGE_CREATE.

Records
    ``requests`` ((method, path) with the ``/api/v10`` prefix removed),
    ``unhandled`` (routes the fake does not know; always answered 404),
    ``command_syncs``, ``commands``, ``channel_messages`` (channel id -> messages
    as posted), ``messages`` (id -> current state), ``edits``,
    ``deleted_messages``, ``uploads`` (attachment id -> bytes), ``interactions``.

Failures
    ``delete_channel(id)`` (404 Unknown Channel), ``forbid_channel(id)``
    (403 Missing Permissions) and ``fail(method, path_glob, status, ...)`` for
    any route, including 429 rate limits (sent with a ``Via`` header so
    discord.py retries instead of assuming a Cloudflare ban). As Discord, the REST
    API answers 401 Unauthorized unless ``Authorization`` is ``Bot <token>``
    (interaction callbacks and webhooks carry their token in the path).

As strict as Discord (``strict=True``, the default)
    Every POST, PUT and PATCH body is checked against the request schema of its route in
    Discord's own OpenAPI specification and against the documented limits the schema lacks
    (``discord_spec``); a body Discord would refuse gets 400 ``{"code": 50035, "message":
    "Invalid Form Body", "errors": {...}}`` naming the fields (50006 for an empty message), and
    a callback type the interaction does not take is refused on ``type``.  An interaction
    answered twice gets 400 (40060), a first answer later than ``interaction_deadline``
    seconds 404 (10062), and its token edits and follows up for 15 minutes, then 401 (50027).
    After a "thinking..." deferral the first follow-up replaces it and keeps its visibility
    (the follow-up's ephemeral flag is ignored, as an edit's is).  ``now()`` is the fake's
    clock and ``advance(seconds)`` moves it forward.  Every 4xx the fake answered (but the
    injected failures below) is in ``refusals``; ``expect_refusal(status, code)`` marks those a
    test means the bot to get, and ``unexpected_refusals`` holds the rest (the tests' conftest
    fails a test that leaves any).

Not modelled: zlib compression, event replay on RESUME, MESSAGE_CREATE echoes of
the bot's own messages, modals, select menus needing ``resolved`` data.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import fnmatch
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Self, TypeVar

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

try:
    from discord_spec import form_errors, is_empty_message, problems_for, spec_route
except ImportError:  # imported as tests.fake_discord (the benchmarks)
    from tests.discord_spec import form_errors, is_empty_message, problems_for, spec_route

JSON = dict[str, Any]
T = TypeVar("T")

HOST = "127.0.0.1"
API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Interaction types and callback (response) types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
# The callbacks Discord takes for each kind of interaction.
CALLBACKS_ALLOWED = {
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
}
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token can edit and follow up

EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_application_commands=True,
).value
BOT_PERMISSIONS = (discord.Permissions.text() | discord.Permissions(view_channel=True)).value
MANAGE_GUILD = discord.Permissions(manage_guild=True).value


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON response whose Content-Type is exactly ``application/json``.

    discord.py only decodes bodies whose content type is exactly that string;
    ``web.json_response`` appends ``; charset=utf-8``.
    """
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(status: int, code: int, message: str, errors: JSON | None = None) -> web.Response:
    """A Discord-style error body: ``{"code": ..., "message": ...}`` (and ``errors`` for a 50035)."""
    body: JSON = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status=status)


def no_content() -> web.Response:
    """A 204 response, as Discord sends for deletes and the like."""
    return web.Response(status=204)


def snowflake_time(snowflake: int) -> str:
    """ISO 8601 timestamp encoded in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat()


class SnowflakeFactory:
    """Unique, strictly increasing, realistic-looking snowflakes."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        now = (time.time_ns() // 1_000_000 - DISCORD_EPOCH_MS) << 22
        self._last = max(now, self._last + 1)
        return self._last

    def at_least(self, value: int) -> int:
        """`value` as the next snowflake (it must not be below the last one given)."""
        assert value > self._last, "snowflakes only increase"
        self._last = value
        return value


@dataclass
class FakeUser:
    """A user (and guild member) of the fake guild."""

    id: int
    username: str
    role_ids: list[int] = field(default_factory=list)
    bot: bool = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_payload(self) -> JSON:
        """The user object Discord would send."""
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.username,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeRole:
    """A guild role."""

    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }


class LoggedRequest(NamedTuple):
    """One HTTP request received by the fake (compares equal to a plain tuple)."""

    method: str
    path: str


class RefusedRequest(NamedTuple):
    """A 4xx the fake answered (not an injected failure): what Discord would have refused, and why."""

    method: str
    path: str
    status: int
    code: int
    body: JSON

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {json.dumps(self.body)[:1000]}"


class CommandSync(NamedTuple):
    """One bulk overwrite of application commands (``guild_id`` None: global)."""

    guild_id: int | None
    commands: list[JSON]


@dataclass
class Upload:
    """A file sent in a multipart request (``files[index]``)."""

    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Failure:
    method: str
    pattern: str
    status: int
    body: JSON
    headers: dict[str, str]
    remaining: int | None


@dataclass
class FakeGuild:
    """A server of the fake: its id (which decides its shard) and its first text channel."""

    id: int
    name: str
    channel_id: int = 0


@dataclass(eq=False)
class _Session:
    """A gateway session; survives its websocket so it can be resumed."""

    session_id: str
    shard: tuple[int, int]
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    ready: bool = False

    @property
    def live(self) -> bool:
        return self.ready and self.ws is not None and not self.ws.closed


@dataclass(eq=False)
class InteractionRecord:
    """An interaction the fake dispatched, and everything the bot did in reply.

    ``callbacks`` holds the bodies POSTed to ``/callback``, ``edits`` the PATCH
    bodies for the original message (``@original``, or channel edits of the
    message a component sits on), ``followups`` the follow-up messages created.
    """

    fake: FakeDiscord = field(repr=False)
    id: int
    token: str
    type: int
    payload: JSON = field(repr=False)
    created_at: float = field(repr=False)
    source_message_id: int | None = None
    message_id: int | None = None
    callbacks: list[JSON] = field(default_factory=list)
    edits: list[JSON] = field(default_factory=list)
    followups: list[JSON] = field(default_factory=list)
    activity: int = 0
    shard: tuple[int, int] | None = None  # (shard id, count) of the connection it was dispatched on

    @property
    def name(self) -> str:
        data = self.payload.get("data", {})
        return data.get("name") or data.get("custom_id", "")

    @property
    def message(self) -> JSON | None:
        """Current state of the original response message, if any."""
        return None if self.message_id is None else self.fake.messages.get(self.message_id)

    async def response(self, timeout: float = 5.0) -> JSON:
        """The first callback body (``{"type": ..., "data": ...}``)."""
        await self.fake.wait_for(lambda: self.callbacks, timeout, what=f"a response to {self.name!r}")
        return self.callbacks[0]

    async def final(self, timeout: float = 5.0, settle: float = 0.05) -> JSON:
        """The original message once answered and quiet for ``settle`` seconds.

        After a deferral (type 5 or 6) this waits for an edit or follow-up.
        For callbacks without a message (autocomplete, modal) it returns the
        callback's ``data``.
        """
        callback = await self.response(timeout)
        kind = callback["type"]
        if kind == DEFERRED_CHANNEL_MESSAGE:
            await self.wait_until(lambda m: not m["flags"] & LOADING, timeout)
        elif kind == DEFERRED_UPDATE_MESSAGE:
            await self.fake.wait_for(lambda: self.edits or self.followups, timeout, what=f"an edit to {self.name!r}")
        while True:
            seen = self.activity
            await asyncio.sleep(settle)
            if seen == self.activity:
                break
        message = self.message
        if message is None:
            return copy.deepcopy(callback.get("data") or {})
        return copy.deepcopy(message)

    async def wait_until(self, predicate: Callable[[JSON], Any], timeout: float = 5.0) -> JSON:
        """Wait until the original message satisfies ``predicate``; return it."""

        def check() -> JSON | None:
            message = self.message
            return copy.deepcopy(message) if message is not None and predicate(message) else None

        return await self.fake.wait_for(check, timeout, what=f"the message of {self.name!r} to match")


async def _identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
    """Stand-in for ``Client.before_identify_hook`` without its 5 s sleep."""


def _option_type(value: Any) -> int:
    """Application command option type guessed from a Python value."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, FakeUser):
        return 6
    return 3


def _iter_components(components: list[JSON] | None) -> Iterator[JSON]:
    """All components, recursing into rows, containers, sections and labels."""
    for component in components or []:
        yield component
        yield from _iter_components(component.get("components"))
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from _iter_components([component[key]])


class FakeDiscord:
    """Fake Discord REST API and gateway on 127.0.0.1 (see module docstring)."""

    started: ClassVar[list[FakeDiscord]] = []  # every fake started (a fixture checks their refusals after each test)

    def __init__(
        self,
        *,
        shard_count: int = 1,
        interaction_deadline: float | None = 3.0,
        strict: bool = True,
        guild_shard: int | None = None,
    ) -> None:
        """`guild_shard`: give the guild an id that Discord routes to this shard (of `shard_count`)."""
        self.shard_count = shard_count
        self.interaction_deadline = interaction_deadline
        self.strict = strict
        self.heartbeat_interval_ms = 41_250
        self.token = "fake-bot-token"
        self.next_id = SnowflakeFactory()

        self.requests: list[LoggedRequest] = []
        self.unhandled: list[LoggedRequest] = []
        self.refusals: list[RefusedRequest] = []
        self._expected: list[tuple[int, int | None]] = []
        self._clock_offset = 0.0
        self.command_syncs: list[CommandSync] = []
        self.commands: dict[int | None, list[JSON]] = {}
        self.channel_messages: dict[int, list[JSON]] = {}
        self.messages: dict[int, JSON] = {}
        self.edits: list[tuple[int, JSON]] = []
        self.deleted_messages: list[int] = []
        self.uploads: dict[int, bytes] = {}
        self.interactions: list[InteractionRecord] = []
        self.identifies: list[JSON] = []
        self.resumes: list[JSON] = []
        self.ready_count = 0

        self.app_id = self.next_id()
        self.bot_user = FakeUser(self.app_id, "FakeBot", bot=True)
        self.guild_id = self._guild_id_on(guild_shard)
        self.guilds: dict[int, FakeGuild] = {self.guild_id: FakeGuild(self.guild_id, "Fake Guild")}
        self.users: dict[int, FakeUser] = {}
        self.roles: dict[int, FakeRole] = {self.guild_id: FakeRole(self.guild_id, "@everyone", EVERYONE_PERMISSIONS)}
        self.channels: dict[int, JSON] = {}
        self._channel_errors: dict[int, web.Response] = {}
        self._failures: list[_Failure] = []

        self._add_member(self.bot_user, BOT_PERMISSIONS, managed=True)
        self.owner = self.add_user("owner")
        self.admin = self.add_user("admin", permissions=MANAGE_GUILD)
        self.member = self.add_user("member")
        self.channel_id = self.add_channel("general")
        self.guilds[self.guild_id].channel_id = self.channel_id

        self._sessions: dict[str, _Session] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._by_token: dict[str, InteractionRecord] = {}
        self._by_id: dict[int, InteractionRecord] = {}
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- life cycle ---------------------------------------------------------

    async def start(self) -> None:
        """Start listening on 127.0.0.1 on a free port."""
        self._runner = web.AppRunner(self._build_app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, 0).start()
        self.port = self._runner.addresses[0][1]
        FakeDiscord.started.append(self)

    async def stop(self) -> None:
        """Close gateway sockets and stop the server."""
        for ws in list(self._sockets):
            await ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def rest_url(self) -> str:
        return f"http://{HOST}:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws"

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at this fake."""
        route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
        saved = route.BASE, websocket.DEFAULT_GATEWAY
        route.BASE, websocket.DEFAULT_GATEWAY = self.rest_url, yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            route.BASE, websocket.DEFAULT_GATEWAY = saved

    @contextlib.asynccontextmanager
    async def running(
        self,
        bot: discord.Client,
        *,
        reconnect: bool = False,
        timeout: float = 5.0,
        fast_identify: bool = True,
    ) -> AsyncIterator[asyncio.Task[None]]:
        """Patch discord.py, log ``bot`` in, connect it and wait until it is ready.

        Yields the ``bot.connect()`` task.  On exit the bot is closed; an error
        the connect task ended with is re-raised.  ``fast_identify`` replaces
        the bot's ``before_identify_hook``, which otherwise sleeps 5 seconds
        before every IDENTIFY but the first (other shards, re-identifies).
        """
        with self.patched():
            if fast_identify:
                bot.before_identify_hook = _identify_at_once  # type: ignore[method-assign]
            task: asyncio.Task[None] | None = None
            try:
                await bot.login(self.token)
                task = asyncio.create_task(bot.connect(reconnect=reconnect))
                await self._until_ready(bot, task, timeout)
                yield task
            except BaseException:
                await self._shut_down(bot, task, timeout)
                raise
            error = await self._shut_down(bot, task, timeout)
            if error is not None:
                raise error

    async def _until_ready(self, bot: discord.Client, task: asyncio.Task[None], timeout: float) -> None:
        async def ready() -> None:
            await self.wait_ready(timeout)
            await asyncio.wait_for(bot.wait_until_ready(), timeout)

        waiter = asyncio.ensure_future(ready())
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter.done():
            waiter.result()  # re-raises a timeout, if any
            return
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        task.result()  # re-raises the connection error, if any
        raise RuntimeError("the bot stopped before it was ready")

    async def _shut_down(
        self, bot: discord.Client, task: asyncio.Task[None] | None, timeout: float
    ) -> BaseException | None:
        await bot.close()
        vars(bot).pop("before_identify_hook", None)
        if task is None:
            return None
        await asyncio.wait({task}, timeout=timeout)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        return None if task.cancelled() else task.exception()

    # -- clock and refusals ---------------------------------------------------

    def now(self) -> float:
        """The fake's clock (seconds): the event loop's, plus whatever ``advance`` added."""
        return asyncio.get_running_loop().time() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward: interactions and their tokens age, nothing else waits."""
        self._clock_offset += seconds

    def expect_refusal(self, status: int, code: int | None = None) -> None:
        """Say that the test means the bot to get this refusal (any number of times)."""
        self._expected.append((status, code))

    @property
    def unexpected_refusals(self) -> list[RefusedRequest]:
        """4xx answers no ``expect_refusal`` announced (injected failures are never in ``refusals``)."""
        return [
            r for r in self.refusals if not any(r.status == s and code in (None, r.code) for s, code in self._expected)
        ]

    # -- waiting ------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *, what: str = "condition") -> T:
        """Wait until ``predicate()`` is truthy and return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until every shard of a client has a live, READY session."""

        def ready() -> bool:
            live = [s for s in self._sessions.values() if s.live]
            return bool(live) and {s.shard[0] for s in live} >= set(range(live[0].shard[1]))

        await self.wait_for(ready, timeout, what="a client to be READY")

    # -- world --------------------------------------------------------------

    def _guild_id_on(self, shard: int | None) -> int:
        """A new guild id; with `shard`, one Discord routes to that shard: (guild_id >> 22) % shard_count."""
        guild_id = self.next_id()
        if shard is not None:
            timestamp = guild_id >> 22
            step = (shard - timestamp) % self.shard_count
            if step:
                guild_id = self.next_id.at_least((timestamp + step) << 22)
        return guild_id

    def add_guild(self, name: str | None = None, *, shard: int | None = None) -> FakeGuild:
        """Add a server (call before the bot connects): its own @everyone role and `general` channel, the
        same users as members; with `shard`, its id is one Discord routes to that shard (of `shard_count`)."""
        guild_id = self._guild_id_on(shard)
        guild = self.guilds[guild_id] = FakeGuild(guild_id, name or f"Fake Guild {len(self.guilds) + 1}")
        self.roles[guild_id] = FakeRole(guild_id, "@everyone", EVERYONE_PERMISSIONS)
        guild.channel_id = self.add_channel("general", guild_id=guild_id)
        return guild

    def shard_of(self, guild_id: int, shard_count: int | None = None) -> int:
        """The shard Discord sends the guild's events to."""
        return (guild_id >> 22) % (shard_count or self.shard_count)

    def guild_of_channel(self, channel_id: int) -> int | None:
        """The id of the guild a channel is in (None for a DM or an unknown channel)."""
        guild_id = self.channels.get(channel_id, {}).get("guild_id")
        return int(guild_id) if guild_id else None

    def add_user(self, username: str, *, permissions: int = 0) -> FakeUser:
        """Add a guild member; ``permissions`` are granted through a new role."""
        user = FakeUser(self.next_id(), username)
        self._add_member(user, permissions)
        return user

    def _add_member(self, user: FakeUser, permissions: int, *, managed: bool = False) -> None:
        if permissions:
            role = FakeRole(self.next_id(), f"{user.username} role", permissions, len(self.roles), managed)
            self.roles[role.id] = role
            user.role_ids.append(role.id)
        self.users[user.id] = user

    def add_channel(self, name: str, *, guild_id: int | None = None) -> int:
        """Add a text channel to a guild (the first by default; call before the bot connects); return its id."""
        channel_id = self.next_id()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id or self.guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }
        return channel_id

    def delete_channel(self, channel_id: int) -> None:
        """Make REST calls on the channel fail with 404 Unknown Channel."""
        self._channel_errors[channel_id] = error_response(404, 10003, "Unknown Channel")

    def forbid_channel(self, channel_id: int) -> None:
        """Make REST calls on the channel fail with 403 Missing Permissions."""
        self._channel_errors[channel_id] = error_response(403, 50013, "Missing Permissions")

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int = 0,
        message: str = "Injected failure",
        times: int | None = 1,
        retry_after: float = 0.01,
    ) -> None:
        """Answer requests matching ``method`` and glob ``path`` with an error.

        ``path`` is relative to ``/api/v10`` (``"/channels/*/messages"``);
        ``times=None`` fails forever.  A 429 gets ``retry_after`` and ``Via``.
        """
        body: JSON = {"code": code, "message": message}
        headers: dict[str, str] = {}
        if status == 429:
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            headers = {"Via": "1.1 google", "X-RateLimit-Scope": "user"}
        self._failures.append(_Failure(method.upper(), path, status, body, headers, times))

    def permissions_of(self, user: FakeUser, guild_id: int | None = None) -> int:
        """Guild-level permissions, as sent in interaction member payloads."""
        if user.id == self.owner.id:
            return discord.Permissions.all().value
        value = self.roles[guild_id or self.guild_id].permissions
        for role_id in user.role_ids:
            value |= self.roles[role_id].permissions
        if value & discord.Permissions(administrator=True).value:
            return discord.Permissions.all().value
        return value

    def member_payload(self, user: FakeUser, guild_id: int | None = None) -> JSON:
        """Guild member object (with ``permissions``, as in interactions)."""
        guild_id = guild_id or self.guild_id
        return {
            "user": user.to_payload(),
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in user.role_ids],
            "joined_at": snowflake_time(guild_id),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "permissions": str(self.permissions_of(user, guild_id)),
            "communication_disabled_until": None,
        }

    def guild_payload(self, guild_id: int | None = None) -> JSON:
        """The GUILD_CREATE payload of a guild (the first by default)."""
        guild = self.guilds[guild_id or self.guild_id]
        # Its @everyone role and the members' roles (the users and their roles are the same in every guild).
        roles = [role for role in self.roles.values() if role.id == guild.id or role.id not in self.guilds]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_progress_bar_enabled": False,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [role.to_payload() for role in roles],
            "emojis": [],
            "stickers": [],
            "joined_at": snowflake_time(guild.id),
            "large": False,
            "unavailable": False,
            "member_count": len(self.users),
            "members": [self.member_payload(u, guild.id) for u in self.users.values()],
            "channels": [c for c in self.channels.values() if c["type"] != 1 and c.get("guild_id") == str(guild.id)],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def application_payload(self) -> JSON:
        """``GET /oauth2/applications/@me``."""
        return {
            "id": str(self.app_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot_user.to_payload(),
            "owner": self.owner.to_payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
        }

    # -- HTTP plumbing --------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        webhook = "/webhooks/{app_id}/{token}"
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/typing", self._typing),
            ("GET", "/channels/{channel_id}/messages", self._get_channel_messages),
            ("POST", "/channels/{channel_id}/messages", self._post_channel_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_channel_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_channel_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_channel_message),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._react),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback),
            ("POST", webhook, self._followup),
            ("GET", webhook + "/messages/@original", self._webhook_message),
            ("PATCH", webhook + "/messages/@original", self._webhook_message),
            ("DELETE", webhook + "/messages/@original", self._webhook_message),
            ("GET", webhook + "/messages/{message_id}", self._webhook_message),
            ("PATCH", webhook + "/messages/{message_id}", self._webhook_message),
            ("DELETE", webhook + "/messages/{message_id}", self._webhook_message),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)
        app.router.add_get("/ws", self._gateway)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._get_attachment)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        path = request.path.removeprefix(API_PREFIX)
        logged = LoggedRequest(request.method, path)
        self.requests.append(logged)
        try:
            failure = self._take_failure(logged)
            if failure is not None:
                return failure
            response = self._unauthorized(request) or await self._invalid(request) or await handler(request)
            if 400 <= response.status < 500 and response not in self._channel_errors.values():
                body = json.loads(response.body) if isinstance(response.body, bytes) and response.body else {}
                self.refusals.append(RefusedRequest(*logged, response.status, body.get("code", 0), body))
            return response
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            self.unhandled.append(logged)
            return error_response(404, 0, "404: Not Found")
        finally:
            self._notify()

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        """As Discord: the REST API wants the bot's token; interaction and webhook routes carry
        their own token in the path instead, which can edit and follow up for 15 minutes."""
        path = request.path.removeprefix(API_PREFIX)
        if not request.path.startswith(API_PREFIX) or path.startswith("/interactions/"):
            return None
        if path.startswith("/webhooks/"):
            parts = path.split("/")
            record = self._by_token.get(parts[3]) if len(parts) > 3 else None
            if record is not None and self.now() - record.created_at > TOKEN_LIFETIME:
                return error_response(401, 50027, "Invalid Webhook Token")
            return None
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return error_response(401, 0, "401: Unauthorized")
        return None

    async def _invalid(self, request: web.Request) -> web.Response | None:
        """Discord's refusal of a body it would not take: 400 "Invalid Form Body" (50035) naming the
        fields, against its OpenAPI schema and documented limits, or 50006 for an empty message."""
        if not self.strict or request.method not in ("POST", "PUT", "PATCH") or not request.body_exists:
            return None
        if not request.path.startswith(API_PREFIX):
            return None
        path = request.path.removeprefix(API_PREFIX)
        route = spec_route(request.method, path)
        if route is None:
            return None
        payload, uploads = await self._read_body(request)
        problems = problems_for(request.method, path, payload)
        if problems:
            return error_response(400, 50035, "Invalid Form Body", form_errors(problems))
        template = route[0]
        created: Any = None
        if request.method == "POST" and template in (
            "/channels/{channel_id}/messages",
            "/webhooks/{webhook_id}/{webhook_token}",
        ):
            created = payload
        elif template.endswith("/callback") and payload.get("type") == CHANNEL_MESSAGE:
            created = payload.get("data") or {}
        if isinstance(created, dict) and is_empty_message(created, len(uploads)):
            return error_response(400, 50006, "Cannot send an empty message")
        return None

    def _take_failure(self, request: LoggedRequest) -> web.Response | None:
        for failure in self._failures:
            if failure.method == request.method and fnmatch.fnmatchcase(request.path, failure.pattern):
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                return json_response(failure.body, failure.status, failure.headers)
        return None

    async def _read_body(self, request: web.Request) -> tuple[JSON, list[Upload]]:
        """JSON body, or ``payload_json`` plus ``files[n]`` of a multipart body (it can be read again)."""
        if not request.body_exists:
            return {}, []
        if not request.content_type.startswith("multipart/"):
            return await request.json(), []
        form = await request.post()
        for value in form.values():
            if isinstance(value, web.FileField):
                value.file.seek(0)
        payload = json.loads(str(form.get("payload_json", "{}")))
        uploads = []
        for key, value in form.items():
            if isinstance(value, web.FileField):
                index = int(key.partition("[")[2].rstrip("]") or 0)
                uploads.append(Upload(index, value.filename, value.content_type, value.file.read()))
        return payload, uploads

    # -- REST: identity, gateway, commands -------------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response({**self.bot_user.to_payload(), "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(int(request.match_info["user_id"]))
        return json_response(user.to_payload()) if user else error_response(404, 10013, "Unknown User")

    async def _create_dm(self, request: web.Request) -> web.Response:
        user = self.users.get(int((await request.json())["recipient_id"]))
        if user is None:
            return error_response(404, 10013, "Unknown User")
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == str(user.id):
                return json_response(channel)
        channel_id = self.next_id()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "recipients": [user.to_payload()],
        }
        return json_response(self.channels[channel_id])

    async def _get_application(self, request: web.Request) -> web.Response:
        return json_response(self.application_payload())

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": limit})

    def _guild_key(self, request: web.Request) -> int | None:
        guild_id = request.match_info.get("guild_id")
        return int(guild_id) if guild_id else None

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.commands.get(self._guild_key(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        guild_id = self._guild_key(request)
        payload: list[JSON] = await request.json()
        self.command_syncs.append(CommandSync(guild_id, copy.deepcopy(payload)))
        previous = {(c["name"], c["type"]): c["id"] for c in self.commands.get(guild_id, [])}
        registered = []
        for command in payload:
            kind = command.get("type", 1)
            entry = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                **command,
                "type": kind,
                "id": previous.get((command["name"], kind)) or str(self.next_id()),
                "application_id": str(self.app_id),
                "version": str(self.next_id()),
            }
            if guild_id is not None:
                entry["guild_id"] = str(guild_id)
            registered.append(entry)
        self.commands[guild_id] = registered
        return json_response(registered)

    # -- REST: guild and channels ------------------------------------------------

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild_id = int(request.match_info["guild_id"])
        if guild_id not in self.guilds:
            return error_response(404, 10004, "Unknown Guild")
        guild = self.guild_payload(guild_id)
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at", "large"):
            guild.pop(key)
        return json_response(guild)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        guild_id = int(request.match_info["guild_id"])
        if guild_id not in self.guilds:
            return error_response(404, 10004, "Unknown Guild")
        return json_response(self.guild_payload(guild_id)["channels"])

    async def _get_member(self, request: web.Request) -> web.Response:
        user = self.users.get(int(request.match_info["user_id"]))
        if user is None:
            return error_response(404, 10007, "Unknown Member")
        member = self.member_payload(user)
        member.pop("permissions")
        return json_response(member)

    def _channel_or_error(self, request: web.Request) -> JSON | web.Response:
        channel_id = int(request.match_info["channel_id"])
        if channel_id in self._channel_errors:
            return self._channel_errors[channel_id]
        return self.channels.get(channel_id) or error_response(404, 10003, "Unknown Channel")

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel_or_error(request)
        return channel if isinstance(channel, web.Response) else json_response(channel)

    async def _typing(self, request: web.Request) -> web.Response:
        channel = self._channel_or_error(request)
        return channel if isinstance(channel, web.Response) else no_content()

    async def _get_channel_messages(self, request: web.Request) -> web.Response:
        channel = self._channel_or_error(request)
        if isinstance(channel, web.Response):
            return channel
        limit = int(request.query.get("limit", 50))
        found = [m for m in self.messages.values() if m["channel_id"] == channel["id"] and not m["flags"] & EPHEMERAL]
        return json_response(list(reversed(found))[:limit])

    async def _post_channel_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_error(request)
        if isinstance(channel, web.Response):
            return channel
        payload, uploads = await self._read_body(request)
        message = self._create_message(int(channel["id"]), payload, uploads, author=self.bot_user)
        self.channel_messages.setdefault(int(channel["id"]), []).append(copy.deepcopy(message))
        return json_response(message)

    def _channel_message(self, request: web.Request) -> JSON | web.Response:
        channel = self._channel_or_error(request)
        if isinstance(channel, web.Response):
            return channel
        message = self.messages.get(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != channel["id"]:
            return error_response(404, 10008, "Unknown Message")
        return message

    async def _get_channel_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        return message if isinstance(message, web.Response) else json_response(message)

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        payload, uploads = await self._read_body(request)
        message_id = int(message["id"])
        self._edit_message(message_id, payload, uploads)
        clicks = [r for r in self.interactions if r.type == MESSAGE_COMPONENT and r.source_message_id == message_id]
        if clicks:
            clicks[-1].edits.append(payload)
            clicks[-1].activity += 1
        return json_response(message)

    async def _delete_channel_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        if isinstance(message, web.Response):
            return message
        self._delete_message(int(message["id"]))
        return no_content()

    async def _react(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        return message if isinstance(message, web.Response) else no_content()

    async def _get_attachment(self, request: web.Request) -> web.Response:
        data = self.uploads.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # -- messages ------------------------------------------------------------------

    def _create_message(
        self,
        channel_id: int,
        payload: JSON,
        uploads: list[Upload],
        *,
        author: FakeUser,
        interaction: InteractionRecord | None = None,
    ) -> JSON:
        message_id = self.next_id()
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author.to_payload(),
            "content": "",
            "timestamp": snowflake_time(message_id),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild_id := self.guild_of_channel(channel_id):
            message["guild_id"] = str(guild_id)
        if interaction is not None:
            user = interaction.payload["member"]["user"]
            message.update(
                type=20 if interaction.type == APPLICATION_COMMAND else 0,
                webhook_id=str(self.app_id),
                application_id=str(self.app_id),
                interaction_metadata={
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "user": user,
                    "authorizing_integration_owners": {"0": interaction.payload["guild_id"]},
                },
            )
        self._apply(message, payload, uploads)
        self.messages[message_id] = message
        return message

    def _edit_message(self, message_id: int, payload: JSON, uploads: list[Upload]) -> JSON:
        """As Discord: an edit cannot make a message ephemeral or public (its ephemeral flag is ignored)."""
        message = self.messages[message_id]
        message["flags"] &= ~LOADING
        flags = payload.get("flags")
        self._apply(message, {**payload, "flags": flags & ~EPHEMERAL} if flags else payload, uploads)
        message["edited_timestamp"] = snowflake_time(self.next_id())
        self.edits.append((message_id, copy.deepcopy(payload)))
        return message

    def _delete_message(self, message_id: int) -> None:
        self.messages.pop(message_id, None)
        self.deleted_messages.append(message_id)

    def _apply(self, message: JSON, payload: JSON, uploads: list[Upload]) -> None:
        """Merge a create/edit payload into a stored message."""
        defaults: JSON = {"content": "", "embeds": [], "components": []}
        for key, value in payload.items():
            if key == "flags":
                message["flags"] = (message["flags"] & EPHEMERAL) | (value or 0)
            elif key == "poll" and value:
                message["poll"] = self._poll(value)
            elif key != "attachments":
                message[key] = defaults.get(key) if value is None and key in defaults else value
        if "attachments" not in payload and not uploads:
            return
        by_index = {upload.index: upload for upload in uploads}
        kept = {a["id"]: a for a in message["attachments"]}
        wanted = payload.get("attachments")
        if wanted is None:
            wanted = [*kept.values(), *({"id": u.index} for u in uploads)]
        attachments = []
        for entry in wanted:
            if str(entry["id"]) in kept:
                attachments.append(kept[str(entry["id"])])
            elif int(entry["id"]) in by_index:
                attachments.append(self._attachment(by_index[int(entry["id"])], entry))
        message["attachments"] = attachments

    def _attachment(self, upload: Upload, entry: JSON) -> JSON:
        attachment_id = self.next_id()
        self.uploads[attachment_id] = upload.data
        url = f"http://{HOST}:{self.port}/attachments/{attachment_id}/{upload.filename}"
        return {
            "id": str(attachment_id),
            "filename": entry.get("filename") or upload.filename,
            "description": entry.get("description"),
            "content_type": upload.content_type,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
        }

    def _poll(self, poll: JSON) -> JSON:
        """A poll creation payload turned into a message's poll object."""
        hours = poll.get("duration") or 24
        expiry = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()
        answers = [{"answer_id": i, **a} for i, a in enumerate(poll.get("answers", []), 1)]
        return {**poll, "answers": answers, "expiry": expiry}

    def file_bytes(self, attachment: JSON) -> bytes:
        """The bytes uploaded for an attachment object of a recorded message."""
        return self.uploads[int(attachment["id"])]

    # -- REST: interactions ------------------------------------------------------------

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        record = self._by_id.get(int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["token"]:
            return error_response(404, 10062, "Unknown interaction")
        payload, uploads = await self._read_body(request)
        if record.callbacks:
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        age = self.now() - record.created_at
        if self.interaction_deadline is not None and age > self.interaction_deadline:
            return error_response(404, 10062, "Unknown interaction")
        kind = payload["type"]
        if self.strict and kind not in CALLBACKS_ALLOWED.get(record.type, set()):
            problem = {"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Invalid interaction response type"}
            return error_response(400, 50035, "Invalid Form Body", {"type": {"_errors": [problem]}})

        data = payload.get("data") or {}
        channel_id = int(record.payload["channel_id"])
        resource: JSON = {"type": kind}
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            body = data if kind == CHANNEL_MESSAGE else {"flags": (data.get("flags") or 0) | LOADING}
            message = self._create_message(channel_id, body, uploads, author=self.bot_user, interaction=record)
            record.message_id = int(message["id"])
            resource["message"] = message
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and record.source_message_id is not None:
            record.message_id = record.source_message_id
            if kind == UPDATE_MESSAGE:
                resource["message"] = self._edit_message(record.message_id, data, uploads)
        record.callbacks.append(payload)
        record.activity += 1

        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        message = record.message
        interaction = {
            "id": str(record.id),
            "type": record.type,
            "response_message_id": message["id"] if message else None,
            "response_message_loading": bool(message and message["flags"] & LOADING),
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
        }
        return json_response({"interaction": interaction, "resource": resource})

    def _webhook_record(self, request: web.Request) -> InteractionRecord | None:
        record = self._by_token.get(request.match_info["token"])
        if record is None or request.match_info["app_id"] != str(self.app_id):
            return None
        return record

    async def _followup(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        if record is None:
            return error_response(404, 10015, "Unknown Webhook")
        payload, uploads = await self._read_body(request)
        original = record.message
        if original is not None and original["flags"] & LOADING:
            # As Discord: the first follow-up after a "thinking" deferral replaces it, ephemeral or public
            # as the deferral was (the follow-up's ephemeral flag is ignored).
            message = self._edit_message(int(original["id"]), payload, uploads)
        else:
            channel_id = int(record.payload["channel_id"])
            message = self._create_message(channel_id, payload, uploads, author=self.bot_user, interaction=record)
        record.followups.append(copy.deepcopy(message))
        record.activity += 1
        return json_response(message) if request.query.get("wait") in ("1", "true", "True") else no_content()

    async def _webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        if record is None:
            return error_response(404, 10015, "Unknown Webhook")
        is_original = "message_id" not in request.match_info
        message_id = record.message_id if is_original else int(request.match_info["message_id"])
        if message_id is None or message_id not in self.messages:
            return error_response(404, 10008, "Unknown Message")
        if request.method == "GET":
            return json_response(self.messages[message_id])
        if request.method == "DELETE":
            self._delete_message(message_id)
            record.activity += 1
            return no_content()
        payload, uploads = await self._read_body(request)
        message = self._edit_message(message_id, payload, uploads)
        if is_original:
            record.edits.append(payload)
        record.activity += 1
        return json_response(message)

    # -- gateway ---------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        session: _Session | None = None
        try:
            await self._send(ws, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for frame in ws:
                if frame.type is not web.WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                op, data = message.get("op"), message.get("d")
                if op == 1:
                    await self._send(ws, {"op": 11})
                elif op == 2:
                    session = await self._identify(ws, data)
                elif op == 6:
                    session = await self._resume(ws, data)
                elif op == 8 and session is not None:
                    await self._members_chunk(session, data)
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            self._notify()
        return ws

    async def _send(self, ws: web.WebSocketResponse, payload: JSON) -> None:
        await ws.send_str(json.dumps({"s": None, "t": None, "d": None, **payload}))

    async def _dispatch(self, session: _Session, event: str, data: JSON) -> None:
        assert session.ws is not None
        session.seq += 1
        await self._send(session.ws, {"op": 0, "t": event, "s": session.seq, "d": data})

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> _Session:
        self.identifies.append(data)
        shard_id, shard_count = data.get("shard") or (0, 1)
        session = _Session(secrets.token_hex(16), (shard_id, shard_count), ws)
        self._sessions[session.session_id] = session
        on_shard = [guild_id for guild_id in self.guilds if self.shard_of(guild_id, shard_count) == shard_id]
        ready = {
            "v": 10,
            "user": {**self.bot_user.to_payload(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(guild_id), "unavailable": True} for guild_id in on_shard],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": [shard_id, shard_count],
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "_trace": ["fake-discord"],
        }
        await self._dispatch(session, "READY", ready)
        for guild_id in on_shard:
            await self._dispatch(session, "GUILD_CREATE", self.guild_payload(guild_id))
        session.ready = True
        self.ready_count += 1
        self._notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> _Session | None:
        self.resumes.append(data)
        session = self._sessions.get(data.get("session_id", ""))
        if session is None:
            await self._send(ws, {"op": 9, "d": False})
            return None
        if session.ws is not None and not session.ws.closed:
            await session.ws.close(code=4000)
        session.ws = ws
        await self._dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})
        self._notify()
        return session

    async def _members_chunk(self, session: _Session, data: JSON) -> None:
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = (data.get("query") or "").lower()
        guild_id = int(data.get("guild_id") or self.guild_id)
        members = [
            self.member_payload(user, guild_id)
            for user in self.users.values()
            if (not wanted or user.id in wanted) and user.username.lower().startswith(query)
        ]
        chunk = {
            "guild_id": str(guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": data.get("nonce"),
        }
        await self._dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch_event(
        self, event: str, data: JSON, timeout: float = 5.0, *, guild_id: int | None = None
    ) -> tuple[int, int]:
        """Send a gateway DISPATCH to the session owning the guild (the first by default); return its shard."""
        guild_id = guild_id or self.guild_id
        await self.wait_ready(timeout)
        for session in self._sessions.values():
            if session.live and session.shard[0] == self.shard_of(guild_id, session.shard[1]):
                await self._dispatch(session, event, data)
                return session.shard
        raise RuntimeError(f"no live gateway session for guild {guild_id}")

    async def drop_connections(self, code: int = 4000, *, resumable: bool = True) -> int:
        """Close every gateway socket; return how many were open.

        With ``resumable=False`` the sessions are forgotten too, so the
        client's RESUME gets INVALID_SESSION and it IDENTIFYs again.
        """
        if not resumable:
            self._sessions.clear()
        sockets = [ws for ws in self._sockets if not ws.closed]
        for ws in sockets:
            await ws.close(code=code)
        return len(sockets)

    # -- simulated users ---------------------------------------------------------------------

    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: FakeUser | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        channel_id: int | None = None,
        guild_id: int | None = None,
    ) -> InteractionRecord:
        """Invoke a slash command (``"cmd"``, ``"cmd sub"`` or ``"cmd group sub"``).

        Option types come from the synced command definition when available,
        otherwise from the values: a ``FakeUser`` or the id of a known user,
        channel or role becomes a user, channel or role option (with
        ``resolved`` data); bool, int, float and str map to their types.
        The default user is ``member``, the default channel the guild's first (``guild_id``: the first guild's).
        """
        guild_id = self._interaction_guild(channel_id, guild_id)
        path = [*name.split(), *(part for part in (group, subcommand) if part)]
        data = self._command_data(path, options or {}, focused=None, guild_id=guild_id)
        return await self._interact(APPLICATION_COMMAND, data, user=user, channel_id=channel_id, guild_id=guild_id)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        user: FakeUser | None = None,
        timeout: float = 5.0,
        guild_id: int | None = None,
    ) -> list[JSON]:
        """Send an autocomplete interaction; return the choices the bot offered."""
        guild_id = guild_id or self.guild_id
        path = name.split()
        data = self._command_data(path, options, focused=focused, guild_id=guild_id)
        record = await self._interact(AUTOCOMPLETE, data, user=user, channel_id=None, guild_id=guild_id)
        response = await record.response(timeout)
        return response["data"]["choices"]

    async def click(
        self,
        message: InteractionRecord | JSON | int,
        custom_id: str,
        *,
        user: FakeUser | None = None,
        values: list[str] | None = None,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """Use the component ``custom_id`` of a recorded message.

        ``message`` is an ``InteractionRecord`` (its original message), a
        message object or a message id.  Pass ``values`` for select menus.
        """
        if isinstance(message, InteractionRecord):
            if message.message_id is None:
                await message.response(timeout)
            message_id = message.message_id
        elif isinstance(message, dict):
            message_id = int(message["id"])
        else:
            message_id = int(message)
        if message_id is None or message_id not in self.messages:
            raise LookupError(f"no recorded message {message_id}")
        current = copy.deepcopy(self.messages[message_id])
        found = [c for c in _iter_components(current["components"]) if c.get("custom_id") == custom_id]
        if not found:
            ids = [c["custom_id"] for c in _iter_components(current["components"]) if "custom_id" in c]
            raise LookupError(f"no component {custom_id!r} on message {message_id}; has {ids}")
        data: JSON = {"custom_id": custom_id, "component_type": found[0]["type"]}
        if found[0]["type"] in (3, 5, 6, 7, 8):
            data["values"] = values or []
        return await self._interact(
            MESSAGE_COMPONENT, data, user=user, channel_id=int(current["channel_id"]), message=current
        )

    async def post_user_message(
        self, content: str, *, user: FakeUser | None = None, channel_id: int | None = None
    ) -> JSON:
        """Have a user post a message (dispatches MESSAGE_CREATE); return it."""
        user = user or self.member
        message = self._create_message(channel_id or self.channel_id, {"content": content}, [], author=user)
        guild_id = self.guild_of_channel(int(message["channel_id"])) or self.guild_id
        member = self.member_payload(user, guild_id)
        del member["user"], member["permissions"]
        await self.dispatch_event("MESSAGE_CREATE", {**message, "member": member}, guild_id=guild_id)
        return copy.deepcopy(message)

    def _interaction_guild(self, channel_id: int | None, guild_id: int | None) -> int:
        """The guild an interaction happens in: its channel's, else `guild_id`, else the first."""
        in_channel = self.guild_of_channel(channel_id) if channel_id else None
        if in_channel and guild_id and in_channel != guild_id:
            raise ValueError(f"channel {channel_id} is not in guild {guild_id}")
        return in_channel or guild_id or self.guild_id

    def _command_schema(self, name: str, guild_id: int) -> tuple[JSON | None, int | None]:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command["type"] == 1:
                    return command, scope
        return None, None

    def _command_data(
        self, path: list[str], options: dict[str, Any], focused: str | None, *, guild_id: int | None = None
    ) -> JSON:
        schema, guild_id = self._command_schema(path[0], guild_id or self.guild_id)
        leaf = schema
        for part in path[1:]:
            leaf = next((o for o in (leaf or {}).get("options", []) if o["name"] == part), None)
        types = {o["name"]: o["type"] for o in (leaf or {}).get("options", [])}
        resolved: JSON = {}
        if focused is not None and focused not in options:
            options = {**options, focused: ""}
        in_guild = guild_id or self.guild_id
        built = [self._option(n, v, types.get(n), resolved, n == focused, in_guild) for n, v in options.items()]
        for depth in reversed(range(1, len(path))):
            built = [{"name": path[depth], "type": 1 if depth == len(path) - 1 else 2, "options": built}]
        data: JSON = {
            "id": schema["id"] if schema else str(self.next_id()),
            "name": path[0],
            "type": 1,
            "options": built,
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        if resolved:
            data["resolved"] = resolved
        return data

    def _guess_type(self, value: Any) -> int:
        """Option type of a value: known snowflakes become user/channel/role."""
        if isinstance(value, int) and not isinstance(value, bool):
            for kind, known in ((6, self.users), (7, self.channels), (8, self.roles)):
                if value in known:
                    return kind
        return _option_type(value)

    def _option(
        self, name: str, value: Any, kind: int | None, resolved: JSON, focused: bool, guild_id: int | None = None
    ) -> JSON:
        kind = kind or self._guess_type(value)
        if isinstance(value, FakeUser):
            value = value.id
        if kind in (6, 9) and not focused and int(value) in self.users:
            user = self.users[int(value)]
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            member = self.member_payload(user, guild_id)
            del member["user"]
            resolved.setdefault("members", {})[str(user.id)] = member
        if kind == 7 and not focused and int(value) in self.channels:
            channel = {**self.channels[int(value)], "permissions": str(discord.Permissions.all().value)}
            resolved.setdefault("channels", {})[str(value)] = channel
        if kind == 8 and not focused and int(value) in self.roles:
            resolved.setdefault("roles", {})[str(value)] = self.roles[int(value)].to_payload()
        if kind in (6, 7, 8, 9):
            value = str(value)
        option: JSON = {"name": name, "type": kind, "value": value}
        if focused:
            option["focused"] = True
        return option

    async def _interact(
        self,
        kind: int,
        data: JSON,
        *,
        user: FakeUser | None,
        channel_id: int | None,
        message: JSON | None = None,
        guild_id: int | None = None,
    ) -> InteractionRecord:
        await self.wait_ready()
        user = user or self.member
        guild_id = self._interaction_guild(channel_id, guild_id)
        channel_id = channel_id or self.guilds[guild_id].channel_id
        interaction_id = self.next_id()
        token = f"itoken-{interaction_id}-{secrets.token_hex(8)}"
        channel = {**self.channels[channel_id], "permissions": str(self.permissions_of(user, guild_id))}
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "guild_id": str(guild_id),
            "channel_id": str(channel_id),
            "channel": channel,
            "member": self.member_payload(user, guild_id),
            "token": token,
            "version": 1,
            "app_permissions": str(self.permissions_of(self.bot_user, guild_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        record = InteractionRecord(
            fake=self,
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            created_at=self.now(),
            source_message_id=int(message["id"]) if message else None,
        )
        self.interactions.append(record)
        self._by_id[interaction_id] = record
        self._by_token[token] = record
        record.shard = await self.dispatch_event("INTERACTION_CREATE", payload, guild_id=guild_id)
        return record
