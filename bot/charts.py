"""Trend answers drawn as PNG line charts (matplotlib, Agg), off the event loop and cached.

The picture is opaque, on its own dark background with light text, so it reads the same in
Discord's dark and light themes; the line colours are from the Okabe-Ito palette (told apart
with the common colour blindnesses), each at least 3:1 against the background.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
from collections import OrderedDict
from concurrent.futures import Executor, ProcessPoolExecutor

from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.answers import TrendAnswer
from corpus import human_date

WIDTH, HEIGHT, SMALL_HEIGHT, DPI = 1200, 600, 360, 100  # pixels: sized for a phone held sideways
BACKGROUND = "#2b2d31"  # Discord's dark embed colour
TEXT = "#f2f3f5"
GRID = "#4e5058"
COLOURS = ("#56b4e9", "#e69f00", "#f0e442", "#cc79a7", "#009e73", "#d55e00")
TITLE_LENGTH = 90
LABEL_LENGTH = 40
CACHE_SIZE = 64
STEP_LABELS = {"day": "Day", "month": "Month", "year": "Year"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def figure(answer: TrendAnswer) -> Figure:
    """The chart as a matplotlib figure (no pyplot: nothing global, safe in any thread or process)."""
    height = SMALL_HEIGHT if answer.small else HEIGHT
    fig = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.add_subplot(facecolor=BACKGROUND)
    size = 12 if answer.small else 14
    shown = [line for line in answer.series if line.total]
    many = len(answer.starts) > 60
    # Each count at its period's first day (a range starting mid-month still plots the month at its 1st).
    where = [
        {"day": start, "month": start.replace(day=1), "year": start.replace(month=1, day=1)}[answer.step]
        for start in answer.starts
    ]
    for line, colour in zip(shown, COLOURS):
        axes.plot(
            where,
            line.counts,
            color=colour,
            linewidth=1.6 if many else 2.4,
            marker=None if many else "o",
            markersize=4,
            label=f"{_cut(line.query, LABEL_LENGTH)} ({line.total:,})",
        )
    axes.set_title(_cut(answer.title, TITLE_LENGTH), color=TEXT, fontsize=size + 2, loc="left")
    span = f"{human_date(answer.since)} to {human_date(answer.until)}"
    axes.set_xlabel(f"{STEP_LABELS[answer.step]} ({span})", color=TEXT, fontsize=size)
    axes.set_ylabel(f"Events per {answer.step}", color=TEXT, fontsize=size)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7 if answer.small else 9)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    axes.yaxis.set_major_locator(ticker.MaxNLocator(nbins=5 if answer.small else 7, integer=True))
    axes.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    axes.set_ylim(bottom=0)
    axes.margins(x=0.02)
    axes.tick_params(colors=TEXT, labelsize=size)
    axes.grid(True, color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for side in axes.spines.values():
        side.set_color(GRID)
    if shown and not answer.small:
        legend = axes.legend(loc="upper left", fontsize=size, facecolor=BACKGROUND, edgecolor=GRID, framealpha=0.9)
        for text in legend.get_texts():
            text.set_color(TEXT)
    return fig


def draw(answer: TrendAnswer) -> bytes:
    """The chart as PNG bytes, WIDTH pixels wide (HEIGHT, or SMALL_HEIGHT for a small one)."""
    out = io.BytesIO()
    figure(answer).savefig(out, format="png", dpi=DPI, facecolor=BACKGROUND)
    return out.getvalue()


def describe(answer: TrendAnswer, limit: int = 1000) -> str:
    """The picture in words, for screen readers (an attachment's description)."""
    lines = [f"Line chart: {answer.title}, per {answer.step}."]
    lines += [answer.peak_line(line).replace("`", "") for line in answer.series]
    return _cut(" ".join(lines), limit)


class Charts:
    """Draws charts in a worker process (one at a time), so the event loop never waits on
    matplotlib, and keeps the last CACHE_SIZE pictures of the current index generation:
    the same answer (same searches, dates and counts) is drawn once."""

    def __init__(self, executor: Executor | None = None, size: int = CACHE_SIZE) -> None:
        self._executor = executor
        self._own_executor = executor is None
        self._size = size
        self._generation: int | None = None
        self._pictures: OrderedDict[TrendAnswer, asyncio.Future[bytes]] = OrderedDict()
        self.drawn = 0  # how many charts were drawn (not served from the cache)

    def _pool(self) -> Executor:
        if self._executor is None:  # started on the first chart: a bot that draws none never pays for it
            context = multiprocessing.get_context("spawn")  # no fork of a process with threads running
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return self._executor

    async def png(self, answer: TrendAnswer, generation: int) -> bytes:
        """The chart's PNG, drawn off the event loop, or from the cache of this index generation."""
        if generation != self._generation:
            self._pictures.clear()
            self._generation = generation
        picture = self._pictures.get(answer)
        if picture is None:
            picture = asyncio.get_running_loop().run_in_executor(self._pool(), draw, answer)
            self._pictures[answer] = picture
            self.drawn += 1
            while len(self._pictures) > self._size:
                self._pictures.popitem(last=False)
        else:
            self._pictures.move_to_end(answer)
        try:
            return await asyncio.shield(picture)  # one caller giving up does not cancel it for others
        except Exception:
            if self._pictures.get(answer) is picture:
                del self._pictures[answer]  # not kept: the next request draws it again
            raise

    def close(self) -> None:
        if self._own_executor and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
