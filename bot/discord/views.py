"""Buttons and menus: paging through a list, opening one event, opening a related event."""

from __future__ import annotations

import logging
from typing import Protocol

import discord

from bot.answers import EventDetail, EventList, Refusal
from bot.discord.render_discord import Renderer, clip, fit_total, option_label

log = logging.getLogger("newsbot")

TIMEOUT = 300.0  # seconds before the buttons are disabled
BUTTON_LABEL = 80  # Discord's longest button label
NO_MENTIONS = discord.AllowedMentions.none()


class Browser(Protocol):
    """What the views need from the bot: rendering, and fetching events on demand."""

    renderer: Renderer

    async def open_event(self, ref: str) -> EventDetail | None: ...

    async def load_page(self, listing: EventList, page: int) -> EventList: ...

    async def search_as_typed(self, listing: EventList) -> EventList | Refusal: ...


class OwnedView(discord.ui.View):
    """A view only the person who asked can use; disabled, not left dead, on timeout.

    It keeps the interaction whose reply carries it (set once the reply is sent), not the
    message: the interaction's token is enough to edit the reply for 15 minutes, and holds far
    less for the garbage collector to walk while the view waits. A click that edits the message in
    place (a page turn, a related event opened) hands over its own, newer interaction, so after
    browsing the token that disables the buttons is at most TIMEOUT old. Only menu clicks that open
    events in new messages, for 15 minutes on end, can leave it expired: then Discord refuses the
    edit, the buttons stay and a log line says so.
    """

    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=TIMEOUT)
        self.owner_id = owner_id
        self.interaction: discord.Interaction | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the person who ran this command can use these buttons. Run the command yourself to browse.",
            ephemeral=True,
        )
        return False

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        if self.interaction is not None:
            try:
                await self.interaction.edit_original_response(view=self)
            except discord.HTTPException as error:  # the message is gone, or its token expired: the buttons stay
                log.info("could not disable the buttons of a reply: %s", error)


class EventListView(OwnedView):
    """Previous/Next buttons and a menu that opens one event of the current page in full.

    It keeps the list's ids, not its events: a view may wait five minutes, and many wait at
    once on a busy server. Each page's events are fetched to show it and let go once shown.
    """

    def __init__(self, owner_id: int, answer: EventList, browser: Browser, header: discord.Embed | None = None) -> None:
        super().__init__(owner_id)
        self.answer = answer
        self.browser = browser
        self.header = header  # shown above every page (a topic's chart)
        self.page = 0
        if answer.showing and answer.query:  # a word was read as another: offer the words as typed
            self.as_typed.label = clip(f"Search instead for {' '.join(answer.query.split())}", BUTTON_LABEL)
        else:
            self.remove_item(self.as_typed)

    def show(self) -> tuple[str, list[discord.Embed]]:
        """The current page's content and embeds, with the buttons and menu set for it."""
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.answer.pages - 1
        shown = [i for i in self.answer.page_ids(self.page) if i in self.answer.loaded]  # gone ones are skipped
        self.choose.options = [
            discord.SelectOption(label=option_label(self.answer.loaded[i]), value=str(i)) for i in shown
        ] or [discord.SelectOption(label="No events on this page", value="none")]
        self.choose.disabled = not shown
        content, embeds = self.browser.renderer.list_page(self.answer, self.page)
        self.answer.loaded.clear()
        return content, fit_total([self.header, *embeds]) if self.header else embeds

    async def show_page(self, interaction: discord.Interaction, step: int) -> None:
        self.page = max(0, min(self.answer.pages - 1, self.page + step))
        await self.browser.load_page(self.answer, self.page)
        content, embeds = self.show()
        await interaction.response.edit_message(content=content, embeds=embeds, view=self)
        self.interaction = interaction  # a newer token for the same message

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self.show_page(interaction, -1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self.show_page(interaction, +1)

    @discord.ui.button(label="Search instead", emoji="🔎", style=discord.ButtonStyle.secondary, row=2)
    async def as_typed(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """The search again with the words exactly as typed, in place of this list."""
        answer = await self.browser.search_as_typed(self.answer)
        if isinstance(answer, Refusal):
            message = self.browser.renderer.refusal(answer)
            await interaction.response.send_message(message, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        view = EventListView(self.owner_id, answer, self.browser, self.header)
        content, embeds = view.show()
        await interaction.response.edit_message(content=content, embeds=embeds, view=view)
        view.interaction = interaction  # this click edits the same message, and its token is newer
        self.stop()

    @discord.ui.select(placeholder="Open an event in full…", min_values=1, max_values=1)
    async def choose(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await send_detail(interaction, await self.browser.open_event(select.values[0]), self.browser)


class EventDetailView(OwnedView):
    """A menu of the related events that are in the archive, each opened in place."""

    def __init__(self, owner_id: int, detail: EventDetail, browser: Browser) -> None:
        super().__init__(owner_id)
        self.browser = browser
        links = [link for link in detail.event.related if link.path in detail.in_archive][:25]
        self.paths = [link.path for link in links]
        self.related.options = [
            discord.SelectOption(label=clip(f"{link.iso_date or '?'} {link.headline}", 100), value=str(n))
            for n, link in enumerate(links)
        ]
        if not links:
            self.remove_item(self.related)

    @discord.ui.select(placeholder="Open a related event…", min_values=1, max_values=1)
    async def related(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        detail = await self.browser.open_event(self.paths[int(select.values[0])])
        if detail is None:
            await interaction.response.send_message("That event is no longer in the archive.", ephemeral=True)
            return
        view = EventDetailView(self.owner_id, detail, self.browser)
        view.interaction = interaction  # this click edits the same message, and its token is newer
        await interaction.response.edit_message(embed=self.browser.renderer.detail(detail), view=view)
        self.stop()


async def send_detail(interaction: discord.Interaction, detail: EventDetail | None, browser: Browser) -> None:
    """Answer with one event in full (only the asker sees it when it comes from a menu)."""
    ephemeral = interaction.type is discord.InteractionType.component
    if detail is None:
        await interaction.response.send_message("That event is no longer in the archive.", ephemeral=True)
        return
    view = EventDetailView(interaction.user.id, detail, browser)
    await interaction.response.send_message(
        embed=browser.renderer.detail(detail), view=view, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS
    )
    view.interaction = interaction
