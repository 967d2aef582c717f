"""End-to-end tests of the fake Discord server with a small, self-contained bot."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands
from fake_discord import EPHEMERAL, LOADING, FakeDiscord

JSON = dict[str, Any]
FRUITS = ["apple", "apricot", "banana", "cherry"]


class PingView(discord.ui.View):
    """Buttons under the /ping reply."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", custom_id="ping:again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button[PingView]) -> None:
        await interaction.response.edit_message(content="pong again", view=self)

    @discord.ui.button(label="Count", custom_id="ping:count")
    async def count(self, interaction: discord.Interaction, button: discord.ui.Button[PingView]) -> None:
        await interaction.response.defer()
        assert interaction.message is not None
        await interaction.message.edit(content=f"clicked by {interaction.user.name}")


def make_bot(bot_class: type[commands.Bot] = commands.Bot) -> commands.Bot:
    """A minimal bot exercising replies, deferrals, buttons and autocomplete."""
    bot = bot_class(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.default(),
        guild_ready_timeout=0.05,
        allowed_mentions=discord.AllowedMentions.none(),
    )

    @bot.tree.command(description="Reply with pong")
    async def ping(interaction: discord.Interaction) -> None:
        embed = discord.Embed(title="Pong", description="The bot is alive.")
        await interaction.response.send_message("pong", embed=embed, view=PingView())

    @bot.tree.command(description="A slow command that reports progress")
    async def slow(interaction: discord.Interaction, steps: int = 2) -> None:
        await interaction.response.defer(thinking=True)
        for step in range(1, steps + 1):
            await interaction.edit_original_response(content=f"working {step}/{steps}")
        await interaction.edit_original_response(content="done", embed=discord.Embed(title="Result"))

    @bot.tree.command(description="Pick a fruit")
    async def fruit(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"you picked {name}", ephemeral=True)

    @fruit.autocomplete("name")
    async def fruit_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]

    config = app_commands.Group(name="config", description="Server settings")

    @config.command(description="Show the settings")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def show(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"settings of {interaction.guild}", ephemeral=True)

    bot.tree.add_command(config)

    @bot.tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await interaction.response.send_message("denied", ephemeral=True)

    return bot


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
    assert server.unhandled == []


@pytest.mark.asyncio
async def test_login_and_ready(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        assert bot.user is not None and bot.user.id == fake.bot_user.id
        assert bot.application_id == fake.app_id
        guild = bot.get_guild(fake.guild_id)
        assert guild is not None
        assert guild.get_channel(fake.channel_id) is not None
        assert guild.owner_id == fake.owner.id
        # Without the members intent only the bot itself is cached.
        assert guild.me is not None and guild.me.id == fake.bot_user.id
        admin = await guild.fetch_member(fake.admin.id)
        member = await guild.fetch_member(fake.member.id)
        assert admin.guild_permissions.manage_guild
        assert not member.guild_permissions.manage_guild
    assert fake.requests[:2] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    assert len(fake.identifies) == 1
    assert bot.is_closed()
    # The patches are undone once the bot is closed.
    assert "127.0.0.1" not in discord.http.Route.BASE


@pytest.mark.asyncio
async def test_ping_replies_with_embed_and_button(fake: FakeDiscord) -> None:
    async with fake.running(make_bot()):
        rec = await fake.slash("ping", user=fake.admin)
        body = await rec.response()
    assert body["type"] == 4
    data = body["data"]
    assert data["content"] == "pong"
    assert data["embeds"][0]["title"] == "Pong"
    buttons = data["components"][0]["components"]
    assert [b["custom_id"] for b in buttons] == ["ping:again", "ping:count"]
    assert data["allowed_mentions"]["parse"] == []
    assert rec.message is not None and rec.message["content"] == "pong"


@pytest.mark.asyncio
async def test_deferred_command_is_edited(fake: FakeDiscord) -> None:
    async with fake.running(make_bot()):
        rec = await fake.slash("slow", {"steps": 3})
        body = await rec.response()
        final = await rec.final()
    assert body["type"] == 5
    assert [edit["content"] for edit in rec.edits] == ["working 1/3", "working 2/3", "working 3/3", "done"]
    assert final["content"] == "done"
    assert final["embeds"][0]["title"] == "Result"
    assert not final["flags"] & LOADING
    assert ("PATCH", f"/webhooks/{fake.app_id}/{rec.token}/messages/@original") in fake.requests


@pytest.mark.asyncio
async def test_button_clicks(fake: FakeDiscord) -> None:
    async with fake.running(make_bot()):
        ping = await fake.slash("ping")
        await ping.response()

        again = await fake.click(ping, "ping:again")
        assert (await again.response())["type"] == 7
        assert (await again.final())["content"] == "pong again"

        count = await fake.click(ping, "ping:count", user=fake.admin)
        assert (await count.response())["type"] == 6
        final = await count.final()
        assert final["content"] == "clicked by admin"
        assert [edit["content"] for edit in count.edits] == ["clicked by admin"]
        assert ("PATCH", f"/channels/{fake.channel_id}/messages/{ping.message_id}") in fake.requests

        with pytest.raises(LookupError):
            await fake.click(ping, "no-such-button")


@pytest.mark.asyncio
async def test_command_sync_is_recorded(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        synced = await bot.tree.sync()
        guild = discord.Object(fake.guild_id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        fetched = await bot.tree.fetch_commands(guild=guild)

        rec = await fake.slash("ping")
        assert (await rec.response())["data"]["content"] == "pong"

    assert [sync.guild_id for sync in fake.command_syncs] == [None, fake.guild_id]
    names = {command["name"] for command in fake.command_syncs[0].commands}
    assert names == {"ping", "slow", "fruit", "config"}
    assert {c.id for c in synced} == {int(c["id"]) for c in fake.commands[None]}
    assert {c.name for c in fetched} == names
    # Once synced per guild, interactions carry the guild command's id.
    assert rec.payload["data"]["guild_id"] == str(fake.guild_id)
    assert rec.payload["data"]["id"] in {c["id"] for c in fake.commands[fake.guild_id]}


@pytest.mark.asyncio
async def test_autocomplete_subcommands_and_permissions(fake: FakeDiscord) -> None:
    async with fake.running(make_bot()):
        choices = await fake.autocomplete("fruit", {"name": "ap"}, focused="name")
        assert [c["value"] for c in choices] == ["apple", "apricot"]

        picked = await fake.slash("fruit", {"name": "apple"})
        assert (await picked.final())["content"] == "you picked apple"

        allowed = await fake.slash("config show", user=fake.admin)
        denied = await fake.slash("config", subcommand="show", user=fake.member)
        assert (await allowed.response())["data"]["content"] == "settings of Fake Guild"
        assert (await denied.response())["data"]["content"] == "denied"


@pytest.mark.asyncio
async def test_client_reconnects_after_drop(fake: FakeDiscord) -> None:
    bot = make_bot()
    resumed: list[bool] = []

    @bot.event
    async def on_resumed() -> None:
        resumed.append(True)

    async with fake.running(bot, reconnect=True):
        assert await fake.drop_connections() == 1
        await fake.wait_for(lambda: resumed, what="the client to resume")
        await fake.wait_ready()
        rec = await fake.slash("ping")
        assert (await rec.response())["data"]["content"] == "pong"
        assert len(fake.identifies) == 1

        # A session the server forgot cannot be resumed: the client IDENTIFYs.
        await fake.drop_connections(resumable=False)
        await fake.wait_for(lambda: len(fake.identifies) == 2, what="a new IDENTIFY")
        await fake.wait_ready()
        rec = await fake.slash("ping")
        assert (await rec.response())["data"]["content"] == "pong"
    assert len(fake.resumes) == 2


@pytest.mark.asyncio
async def test_auto_sharded_bot_uses_gateway_bot() -> None:
    async with FakeDiscord(shard_count=2) as fake:
        bot = make_bot(commands.AutoShardedBot)
        async with fake.running(bot):
            assert bot.shard_count == 2
            assert bot.get_guild(fake.guild_id) is not None
            rec = await fake.slash("ping")
            assert (await rec.response())["data"]["content"] == "pong"
        assert ("GET", "/gateway/bot") in fake.requests
        assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
        assert fake.unhandled == []


@pytest.mark.asyncio
async def test_several_guilds_each_on_the_shard_discord_would_use() -> None:
    async with FakeDiscord(shard_count=4, guild_shard=0) as fake:
        extra = [fake.add_guild(shard=shard) for shard in (1, 2, 3, 1)]
        assert [fake.shard_of(guild.id) for guild in extra] == [1, 2, 3, 1]
        bot = make_bot(commands.AutoShardedBot)
        seen: list[tuple[int | None, int | None]] = []

        async def on_interaction(interaction: discord.Interaction) -> None:
            seen.append((interaction.guild_id, interaction.guild.shard_id if interaction.guild else None))

        bot.add_listener(on_interaction)
        async with fake.running(bot):
            assert {guild.id for guild in bot.guilds} == set(fake.guilds)
            for guild_id in fake.guilds:
                guild = bot.get_guild(guild_id)
                assert guild is not None and guild.shard_id == fake.shard_of(guild_id)
                assert [channel.id for channel in guild.text_channels] == [fake.guilds[guild_id].channel_id]
            ready = [identify["shard"] for identify in fake.identifies]
            assert sorted(ready) == [[n, 4] for n in range(4)]
            for guild in extra:
                record = await fake.slash("ping", guild_id=guild.id)
                assert (await record.response())["data"]["content"] == "pong"
                assert record.shard == (fake.shard_of(guild.id), 4)
                assert record.message is not None and record.message["channel_id"] == str(guild.channel_id)
            await fake.wait_for(lambda: len(seen) == len(extra), what="the interactions")
            assert seen == [(guild.id, fake.shard_of(guild.id)) for guild in extra]
            with pytest.raises(ValueError, match="is not in guild"):
                await fake.slash("ping", guild_id=extra[0].id, channel_id=fake.channel_id)
        assert fake.unhandled == []


@pytest.mark.asyncio
async def test_channel_messages_and_errors(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        channel = bot.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("hello", file=discord.File(io.BytesIO(b"data"), "a.txt"))
        assert await sent.attachments[0].read() == b"data"
        posted = fake.channel_messages[fake.channel_id][0]
        assert posted["content"] == "hello"
        assert fake.file_bytes(posted["attachments"][0]) == b"data"

        fake.fail("POST", "/channels/*/messages", 429, retry_after=0.01)
        await channel.send("after a rate limit")
        assert fake.requests.count(("POST", f"/channels/{fake.channel_id}/messages")) == 3

        fake.forbid_channel(fake.channel_id)
        with pytest.raises(discord.Forbidden) as forbidden:
            await bot.fetch_channel(fake.channel_id)
        assert forbidden.value.code == 50013

        fake.delete_channel(fake.channel_id)
        with pytest.raises(discord.NotFound) as not_found:
            await channel.send("into the void")
        assert not_found.value.code == 10003

        with pytest.raises(discord.NotFound):
            await bot.http.request(discord.http.Route("GET", "/no/such/route"))
    assert fake.unhandled == [("GET", "/no/such/route")]
    fake.unhandled.clear()


# As strict as Discord: the bodies Discord refuses, the deadlines and the deferral.


def command(name: str = "probe", description: str = "A probe", options: list[JSON] | None = None) -> JSON:
    return {"type": 1, "name": name, "description": description, "options": options or []}


def option(name: str, *, required: bool = False) -> JSON:
    return {"type": 3, "name": name, "description": f"The {name}", "required": required}


def row(*components: JSON) -> JSON:
    return {"type": 1, "components": list(components)}


def button_component(custom_id: str, label: str = "Go") -> JSON:
    return {"type": 2, "style": 1, "custom_id": custom_id, "label": label}


def select_component(options: int, label_length: int = 10) -> JSON:
    return {
        "type": 3,
        "custom_id": "menu",
        "options": [{"label": "x" * label_length, "value": str(n)} for n in range(options)],
    }


# (what, route, body, status, code, where in "errors" Discord names the field)
PROBES: list[tuple[str, str, Any, int, int, list[str]]] = [
    ("upper-case command name", "commands", [command("Probe")], 400, 50035, ["0", "name"]),
    ("description of 101", "commands", [command(description="d" * 101)], 400, 50035, ["0", "description"]),
    (
        "optional option before a required one",
        "commands",
        [command(options=[option("first"), option("second", required=True)])],
        400,
        50035,
        ["0", "options", "1", "required"],
    ),
    (
        "26 options",
        "commands",
        [command(options=[option(f"o{n}") for n in range(26)])],
        400,
        50035,
        ["0", "options"],
    ),
    ("content of 2,001", "message", {"content": "x" * 2001}, 400, 50035, ["content"]),
    ("embed title of 257", "message", {"embeds": [{"title": "t" * 257}]}, 400, 50035, ["embeds", "0", "title"]),
    (
        "11 embeds with 6,600 characters",
        "message",
        {"embeds": [{"description": "d" * 600} for _ in range(11)]},
        400,
        50035,
        ["embeds"],
    ),
    (
        "an empty field value",
        "message",
        {"embeds": [{"title": "t", "fields": [{"name": "n", "value": ""}]}]},
        400,
        50035,
        ["embeds", "0", "fields", "0", "value"],
    ),
    (
        "6 action rows with a repeated custom_id",
        "message",
        {"content": "x", "components": [row(button_component("same")) for _ in range(6)]},
        400,
        50035,
        ["components"],
    ),
    (
        "a select with 26 options and a 101-character label",
        "message",
        {"content": "x", "components": [row(select_component(26, label_length=101))]},
        400,
        50035,
        ["components", "0", "components", "0", "options"],
    ),
    ("an empty message", "message", {"content": "", "embeds": []}, 400, 50006, []),
    (
        "an embed url that is not a URL",
        "message",
        {"embeds": [{"title": "t", "url": "not a url"}]},
        400,
        50035,
        ["embeds", "0", "url"],
    ),
    (
        "an autocomplete result sent to a slash command",
        "callback",
        {"type": 8, "data": {"choices": [{"name": "apple", "value": "apple"}]}},
        400,
        50035,
        ["type"],
    ),
]

# The same requests inside the limits: the fake takes them.
VALID: list[tuple[str, str, Any]] = [
    (
        "commands at their limits",
        "commands",
        [command("probe-2_x", "d" * 100, [option(f"o{n}", required=n < 3) for n in range(25)])],
    ),
    ("content of 2,000", "message", {"content": "x" * 2000}),
    ("10 embeds with 6,000 characters", "message", {"embeds": [{"description": "d" * 600} for _ in range(10)]}),
    (
        "5 rows, a select of 25 options with 100-character labels",
        "message",
        {
            "embeds": [{"title": "t" * 256, "url": "https://example.com/a", "fields": [{"name": "n", "value": "v"}]}],
            "components": [row(select_component(25, label_length=100))]
            + [row(button_component(f"b{n}", "l" * 80)) for n in range(4)],
        },
    ),
    ("a message answer to a slash command", "callback", {"type": 4, "data": {"content": "pong"}}),
]


async def send_raw(fake: FakeDiscord, route: str, body: Any) -> tuple[int, JSON]:
    """Send a body straight to the fake (no discord.py in between); its status and JSON answer."""
    if route == "commands":
        method, path = "PUT", f"/applications/{fake.app_id}/commands"
    elif route == "message":
        method, path = "POST", f"/channels/{fake.channel_id}/messages"
    else:  # an answer to a slash command the bot leaves unanswered
        record = await fake.slash("quiet")
        method, path = "POST", f"/interactions/{record.id}/{record.token}/callback"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.rest_url + path, json=body, headers=headers) as response,
    ):
        answer = await response.json() if response.content_type == "application/json" else {}
        return response.status, answer


def quiet_bot() -> commands.Bot:
    bot = make_bot()

    @bot.tree.command(description="Takes its time to answer")
    async def quiet(interaction: discord.Interaction) -> None:
        pass  # never answers: the test answers in its place

    return bot


@pytest.mark.parametrize(("what", "route", "body", "status", "code", "field"), PROBES, ids=[p[0] for p in PROBES])
async def test_requests_discord_refuses_are_refused_as_discord_does(
    fake: FakeDiscord, what: str, route: str, body: Any, status: int, code: int, field: list[str]
) -> None:
    fake.expect_refusal(status, code)
    async with fake.running(quiet_bot()):
        answer_status, answer = await send_raw(fake, route, body)
    assert (answer_status, answer["code"]) == (status, code), answer
    if code == 50035:
        assert answer["message"] == "Invalid Form Body"
        node = answer["errors"]
        for part in field:
            assert part in node, (what, answer["errors"])
            node = node[part]
        assert node["_errors"] and all({"code", "message"} <= set(e) for e in node["_errors"]), answer
    assert [(r.status, r.code) for r in fake.refusals] == [(status, code)]


@pytest.mark.parametrize(("what", "route", "body"), VALID, ids=[v[0] for v in VALID])
async def test_requests_inside_the_limits_pass(fake: FakeDiscord, what: str, route: str, body: Any) -> None:
    async with fake.running(quiet_bot()):
        status, answer = await send_raw(fake, route, body)
    assert status in (200, 204), answer
    assert fake.refusals == []


def held_bot(held: list[discord.Interaction], release: asyncio.Event) -> commands.Bot:
    """A bot whose /held keeps its interaction for the test and answers once ``release`` is set."""
    bot = make_bot()

    @bot.tree.command(name="held", description="Answers when the test says so")
    async def held_command(interaction: discord.Interaction) -> None:
        held.append(interaction)
        await release.wait()
        await interaction.response.send_message("late")

    return bot


async def test_an_answer_after_three_seconds_is_unknown(fake: FakeDiscord) -> None:
    held: list[discord.Interaction] = []
    release = asyncio.Event()
    fake.expect_refusal(404, 10062)
    async with fake.running(held_bot(held, release)):
        record = await fake.slash("held")
        await fake.wait_for(lambda: held, what="the command to start")
        fake.advance(3.5)  # nothing sleeps: the fake's clock moves on
        release.set()
        await fake.wait_for(lambda: fake.refusals, what="the late answer")
    assert record.callbacks == []
    assert [(r.status, r.code) for r in fake.refusals][:1] == [(404, 10062)]


async def test_a_token_edits_for_fifteen_minutes_and_an_answer_is_given_once(fake: FakeDiscord) -> None:
    held: list[discord.Interaction] = []
    release = asyncio.Event()
    release.set()
    fake.expect_refusal(401, 50027)
    fake.expect_refusal(400, 40060)
    async with fake.running(held_bot(held, release)):
        record = await fake.slash("held")
        assert (await record.final())["content"] == "late"
        interaction = held[0]

        fake.advance(14 * 60)
        await interaction.edit_original_response(content="edited at 14 minutes")
        assert record.message is not None and record.message["content"] == "edited at 14 minutes"

        fake.advance(2 * 60)
        with pytest.raises(discord.HTTPException) as expired:
            await interaction.edit_original_response(content="edited at 16 minutes")
        assert (expired.value.status, expired.value.code) == (401, 50027)
        with pytest.raises(discord.HTTPException) as expired:
            await interaction.followup.send("a follow-up at 16 minutes")
        assert (expired.value.status, expired.value.code) == (401, 50027)
        assert record.message["content"] == "edited at 14 minutes"

        url = f"{fake.rest_url}/interactions/{record.id}/{record.token}/callback"
        answer = {"type": 4, "data": {"content": "again"}}
        async with aiohttp.ClientSession() as session, session.post(url, json=answer) as again:
            refused = again.status, (await again.json())["code"]
        assert refused == (400, 40060)


def deferring_bot(ephemeral: bool) -> commands.Bot:
    """/think defers ("thinking..."), then sends an ephemeral follow-up and a public one."""
    bot = make_bot()

    @bot.tree.command(description="Defers, then follows up")
    async def think(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
        await interaction.followup.send("first, asked to be ephemeral", ephemeral=True)
        await interaction.followup.send("second, asked to be public")

    return bot


@pytest.mark.parametrize("ephemeral", [False, True], ids=["public deferral", "ephemeral deferral"])
async def test_the_first_follow_up_replaces_the_deferral_as_it_was(fake: FakeDiscord, ephemeral: bool) -> None:
    async with fake.running(deferring_bot(ephemeral)):
        record = await fake.slash("think")
        await record.wait_until(lambda m: not m["flags"] & LOADING)
        await fake.wait_for(lambda: len(record.followups) == 2, what="two follow-ups")
    first, second = record.followups
    # The first follow-up is the deferred message, public or ephemeral as the deferral was.
    assert first["id"] == str(record.message_id)
    assert bool(first["flags"] & EPHEMERAL) is ephemeral
    assert first["content"] == "first, asked to be ephemeral"
    # Later follow-ups are new messages, with the visibility they ask for.
    assert second["id"] != first["id"]
    assert not second["flags"] & EPHEMERAL


async def test_a_refusal_is_unexpected_until_the_test_announces_it(fake: FakeDiscord) -> None:
    """What the conftest fixture checks after every test."""
    async with fake.running(quiet_bot()):
        status, _ = await send_raw(fake, "message", {"content": ""})
    assert status == 400
    assert [(r.method, r.status, r.code) for r in fake.unexpected_refusals] == [("POST", 400, 50006)]
    fake.expect_refusal(400, 40060)  # another code does not cover it
    assert len(fake.unexpected_refusals) == 1
    fake.expect_refusal(400, 50006)
    assert fake.unexpected_refusals == []
