"""The body of a change notification in each format: our JSON, Slack's and Teams' messages.

``render`` is pure: the same delivery gives the same bytes, so a retry sends what the
first attempt sent. User text (department names, titles) is made inert for each format:
Slack's ``&``, ``<`` and ``>`` escaped, Teams' in ``TextRun`` inlines, which carry no
markdown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Action = Literal["created", "updated", "deleted"]
Format = Literal["json", "slack", "teams"]
Language = Literal["ko", "en"]

EVENT_TYPE = "calendar.changed"
LISTED = 10  # changes a chat message lists before "… and N more"
TITLE_CLIP = 150  # characters of a title a chat line shows
SLACK_SECTION_MAX = 3000  # Slack's limit on a section's text


@dataclass(frozen=True)
class EventChange:
    action: Action
    event_id: str
    title: str | None  # None when not known
    event_date: str | None  # "YYYY-MM-DD"
    end_date: str | None  # "YYYY-MM-DD" for multi-day events
    time: str | None  # free text such as "14:00" or "14:00-15:30"
    recurring: bool = False  # a recurring series (its date is its first occurrence)


@dataclass(frozen=True)
class Delivery:
    id: str  # stable across retries, e.g. "<department_id>:<version>"
    department_id: str
    department_name: str
    version: int  # the department's calendar version after the change
    occurred_at: datetime  # aware, UTC
    changes: tuple[EventChange, ...]
    total: int  # events the write changed (>= len(changes); one write may change 99)
    calendar_url: str | None = None  # a link to the department's calendar page, when known


@dataclass(frozen=True)
class _Words:
    actions: dict[str, str]
    many: str  # "{n}" events changed
    untitled: str
    deleted_unknown: str  # "{id}" of an event deleted without a known title
    recurring: str  # "{date}" of a series' first occurrence
    recurring_undated: str
    more: str  # "{n}" changes not listed
    open_calendar: str


_WORDS: dict[str, _Words] = {
    "ko": _Words(
        actions={"created": "일정 추가", "updated": "일정 변경", "deleted": "일정 삭제"},
        many="일정 {n}건 변경",
        untitled="(제목 없음)",
        deleted_unknown="일정 {id}",
        recurring="반복 일정, {date}부터",
        recurring_undated="반복 일정",
        more="… 외 {n}건",
        open_calendar="캘린더 열기",
    ),
    "en": _Words(
        actions={"created": "Event added", "updated": "Event changed", "deleted": "Event deleted"},
        many="{n} events changed",
        untitled="(untitled)",
        deleted_unknown="event {id}",
        recurring="recurring from {date}",
        recurring_undated="recurring",
        more="… and {n} more",
        open_calendar="Open the calendar",
    ),
}


def render(fmt: Format, language: Language, delivery: Delivery) -> bytes:
    """The UTF-8 body of ``delivery`` in ``fmt``, its text in ``language``."""
    if delivery.occurred_at.utcoffset() is None:
        raise ValueError("occurred_at must be an aware datetime")
    if fmt == "json":
        document = _json(delivery)
    elif fmt == "slack":
        document = _slack(_WORDS[language], delivery)
    elif fmt == "teams":
        document = _teams(_WORDS[language], delivery)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json(delivery: Delivery) -> dict[str, Any]:
    occurred = delivery.occurred_at.astimezone(UTC).replace(tzinfo=None)
    return {
        "id": delivery.id,
        "type": EVENT_TYPE,
        "department_id": delivery.department_id,
        "department_name": delivery.department_name,
        "version": delivery.version,
        "occurred_at": occurred.isoformat(timespec="seconds") + "Z",
        "total": delivery.total,
        "changes": [
            {
                "action": change.action,
                "id": change.event_id,
                "title": change.title,
                "event_date": change.event_date,
                "end_date": change.end_date,
                "time": change.time,
                "recurring": change.recurring,
            }
            for change in delivery.changes
        ],
    }


def _clip(text: str) -> str:
    return text if len(text) <= TITLE_CLIP else text[: TITLE_CLIP - 1] + "…"


def _title(words: _Words, change: EventChange) -> str:
    if change.title:
        return _clip(change.title)
    if change.action == "deleted":
        return words.deleted_unknown.format(id=_clip(change.event_id))
    return words.untitled


def _when(words: _Words, change: EventChange) -> str:
    """The date part of a line: ``2024-01-15 ~ 2024-01-17 14:00``, a series' start, or ''."""
    days = change.event_date or ""
    if days and change.end_date and change.end_date != change.event_date:
        days = f"{days} ~ {change.end_date}"
    if change.time:
        days = f"{days} {_clip(change.time)}".strip()
    if change.recurring:
        return words.recurring.format(date=days) if days else words.recurring_undated
    return days


def _line(words: _Words, change: EventChange) -> tuple[str, str]:
    """A change as (label, text): ("일정 추가", "팀 회의 · 2024-01-15 14:00")."""
    when = _when(words, change)
    text = _title(words, change) + (f" · {when}" if when else "")
    return words.actions[change.action], text


def _headline(words: _Words, delivery: Delivery) -> tuple[str, str | None]:
    """The first line without its "[department] " prefix, and the single change's text."""
    if delivery.total == 1 and len(delivery.changes) == 1:
        label, text = _line(words, delivery.changes[0])
        return label, text
    return words.many.format(n=delivery.total), None


def _listed(words: _Words, delivery: Delivery) -> Iterator[tuple[str, str]]:
    """The lines of a message about several changes, then how many are not shown."""
    shown = delivery.changes[:LISTED]
    for change in shown:
        yield _line(words, change)
    if rest := delivery.total - len(shown):
        yield "", words.more.format(n=rest)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(words: _Words, delivery: Delivery) -> dict[str, Any]:
    department = _slack_escape(f"[{delivery.department_name}]")
    head, single = _headline(words, delivery)
    if single is not None:
        fallback = f"{department} {head}: {_slack_escape(single)}"
        blocks: list[dict[str, Any]] = [_section(f"{department} *{head}*: {_slack_escape(single)}")]
    else:
        fallback = f"{department} {head}"
        blocks = [_section(f"{department} *{head}*")]
        lines = [
            f"• *{label}* {_slack_escape(text)}" if label else _slack_escape(text)
            for label, text in _listed(words, delivery)
        ]
        blocks += [_section(chunk) for chunk in _chunks(lines, SLACK_SECTION_MAX)]
    if delivery.calendar_url:
        link = f"<{_slack_escape(delivery.calendar_url)}|{words.open_calendar}>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": fallback, "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _chunks(lines: list[str], limit: int) -> Iterator[str]:
    """``lines`` joined by newlines into texts of at most ``limit`` characters each."""
    chunk: list[str] = []
    size = 0
    for whole in lines:
        line = whole[:limit]
        if chunk and size + 1 + len(line) > limit:
            yield "\n".join(chunk)
            chunk, size = [], 0
        size += len(line) + (1 if chunk else 0)
        chunk.append(line)
    if chunk:
        yield "\n".join(chunk)


def _runs(*parts: tuple[str, bool]) -> dict[str, Any]:
    """A RichTextBlock of plain-text runs: (text, bold). TextRun text is never markdown."""
    inlines = [
        {"type": "TextRun", "text": text, **({"weight": "Bolder"} if bold else {})}
        for text, bold in parts
        if text
    ]
    return {"type": "RichTextBlock", "inlines": inlines}


def _teams(words: _Words, delivery: Delivery) -> dict[str, Any]:
    department = f"[{delivery.department_name}] "
    head, single = _headline(words, delivery)
    body: list[dict[str, Any]]
    if single is not None:
        body = [_runs((department, False), (head, True), (f": {single}", False))]
    else:
        body = [_runs((department, False), (head, True))]
        body += [
            _runs((label, True), (f" {text}" if label else text, False))
            for label, text in _listed(words, delivery)
        ]
    actions = (
        [{"type": "Action.OpenUrl", "title": words.open_calendar, "url": delivery.calendar_url}]
        if delivery.calendar_url
        else []
    )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
