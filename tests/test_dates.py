"""Dates people type (`corpus.parse_date`) and search bounds (`bot.handlers.parse_bound`)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.handlers import parse_bound
from corpus import DATE_FORMS, DateError, human_date, human_month_day, long_date, parse_date, read_date

APRIL_3 = dt.date(2016, 4, 3)
ACCEPTED_FORMS = ["2016-04-03", "3 April 2016", "April 3, 2016", "3/4/2016"]
FRIDAY = dt.date(2026, 11, 27)
SATURDAY = FRIDAY + dt.timedelta(days=1)


@pytest.mark.parametrize(
    "text",
    [
        "2016-04-03",
        "2016-04-3",
        "3 April 2016",
        "April 3, 2016",
        "3 Apr 2016",
        "Apr 3 2016",
        "3rd april 2016",
        "  2016-04-03  ",
        "3   April    2016",
        " April  3 ,  2016 ",
        "3\tApril\n2016",
        "3rd of April 2016",
        "the 3rd of April, 2016",
        "April the 3rd, 2016",
        "Sunday 3 April 2016",
        "Sun, April 3, 2016",
        "2016/04/03",
        "2016.4.3",
    ],
)
def test_accepted(text: str) -> None:
    assert parse_date(text) == APRIL_3


def test_forms_the_messages_name_are_accepted() -> None:
    assert all(form in DATE_FORMS for form in ACCEPTED_FORMS)
    assert [parse_date(form) for form in ACCEPTED_FORMS] == [APRIL_3] * len(ACCEPTED_FORMS)


@pytest.mark.parametrize("text", ["", "   ", "soon", "3 Aprel 2016", "2016-04", "3/4/16", "next week", "04-03"])
def test_unreadable_date_lists_the_accepted_forms(text: str) -> None:
    with pytest.raises(DateError) as caught:
        parse_date(text)

    message = str(caught.value)
    assert f"'{text.strip()}'" in message
    for form in ACCEPTED_FORMS:
        assert form in message


@pytest.mark.parametrize(
    "text", ["2016-13-01", "31 February 2016", "2016-04-31", "February 29, 2015", "2016-04-0", "31/2/2016", "0/4/2016"]
)
def test_impossible_day_is_not_real(text: str) -> None:
    with pytest.raises(DateError) as caught:
        parse_date(text)

    message = str(caught.value)
    assert f"'{text}' is not a real day" in message
    for form in ACCEPTED_FORMS:
        assert form in message


def test_answers_write_days_in_english_without_padding() -> None:
    assert human_date(APRIL_3) == "3 April 2016"
    assert human_date(dt.date(2002, 1, 1)) == "1 January 2002"
    assert [human_month_day(month, 9) for month in (5, 12)] == ["9 May", "9 December"]
    assert parse_date(human_date(dt.date(2024, 9, 30))) == dt.date(2024, 9, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", SATURDAY),
        ("yesterday", FRIDAY),
        ("Yesterday", FRIDAY),
        ("the day before yesterday", FRIDAY - dt.timedelta(days=1)),
        ("tomorrow", SATURDAY + dt.timedelta(days=1)),
        ("3 days ago", SATURDAY - dt.timedelta(days=3)),
        ("a week ago", SATURDAY - dt.timedelta(days=7)),
        ("two weeks ago", SATURDAY - dt.timedelta(days=14)),
        ("last Friday", FRIDAY),
        ("Friday", FRIDAY),
        ("on fri", FRIDAY),
        ("last Saturday", SATURDAY - dt.timedelta(days=7)),  # "last" on that very weekday: a week ago
        ("Saturday", SATURDAY),  # the weekday alone on that weekday: today
        ("last Sunday", dt.date(2026, 11, 22)),
    ],
)
def test_relative_days_count_from_the_day_given(text: str, expected: dt.date) -> None:
    reading = read_date(text, today=SATURDAY)
    assert reading.day == expected
    assert reading.relative
    assert reading.other is None


def test_relative_days_move_with_today() -> None:
    assert parse_date("yesterday", today=dt.date(2016, 3, 1)) == dt.date(2016, 2, 29)
    assert parse_date("yesterday", today=dt.date(2016, 1, 1)) == dt.date(2015, 12, 31)


@pytest.mark.parametrize(
    ("text", "day", "other"),
    [
        ("3/4/2016", APRIL_3, dt.date(2016, 3, 4)),  # both could be the month: day first, the other kept
        ("3.4.2016", APRIL_3, dt.date(2016, 3, 4)),
        ("03-04-2016", APRIL_3, dt.date(2016, 3, 4)),
        ("13/4/2016", dt.date(2016, 4, 13), None),  # 13 is no month: one reading only
        ("4/13/2016", dt.date(2016, 4, 13), None),
        ("4/4/2016", dt.date(2016, 4, 4), None),  # both readings are the same day
    ],
)
def test_numeric_dates_read_day_first_and_keep_the_other_reading(
    text: str, day: dt.date, other: dt.date | None
) -> None:
    reading = read_date(text)
    assert (reading.day, reading.other) == (day, other)
    assert reading.ambiguous == (other is not None)


def test_more_weekday_spellings_and_far_back() -> None:
    assert parse_date("99999 weeks ago", today=SATURDAY).year == 110
    assert parse_date("tues", today=SATURDAY) == dt.date(2026, 11, 24)
    assert parse_date("last thurs", today=SATURDAY) == dt.date(2026, 11, 26)


def test_a_weekday_that_does_not_match_the_date_is_refused() -> None:
    with pytest.raises(DateError) as caught:
        parse_date("Friday 3 April 2016")
    assert "3 April 2016 was a Sunday" in str(caught.value)


def test_long_date_names_the_weekday() -> None:
    assert long_date(FRIDAY) == "Friday 27 November 2026"
    assert long_date(APRIL_3) == "Sunday 3 April 2016"


def test_leap_day() -> None:
    assert parse_date("29 February 2016") == dt.date(2016, 2, 29)


# Search bounds


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2016", False, dt.date(2016, 1, 1)),
        ("2016", True, dt.date(2016, 12, 31)),
        (" 2015 ", False, dt.date(2015, 1, 1)),
        (" 2015 ", True, dt.date(2015, 12, 31)),
        ("2016-04-03", False, APRIL_3),
        ("3 April 2016", True, APRIL_3),  # a full date is that day, whichever end
    ],
)
def test_bound(text: str, end: bool, expected: dt.date) -> None:
    assert parse_bound(text, end=end) == expected


@pytest.mark.parametrize("text", [None, "", "  "])
def test_no_bound(text: str | None) -> None:
    assert parse_bound(text) is None
    assert parse_bound(text, end=True) is None


@pytest.mark.parametrize("text", ["0000", "²⁰¹⁶", "201", "20160", "soon", "2016-02-30"])
def test_bad_bound_is_a_date_error(text: str) -> None:
    with pytest.raises(DateError):
        parse_bound(text)
    with pytest.raises(DateError):
        parse_bound(text, end=True)
