"""The README and docs/ hold: their links and anchors resolve, the scripts they name exist,
the README stays a front page, and every command that needs the venv says how to get it."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 260

# Commands that exist only inside the project's venv (created by ./scripts/serve or
# ./scripts/test): a shell block may use them only after `source .venv/bin/activate`.
VENV_COMMANDS = frozenset(
    {"python", "flask", "gunicorn", "pytest", "pip", "schemathesis", "pre-commit", "ruff", "mypy"}
)
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "zsh", "console"})
ACTIVATE = ".venv/bin/activate"

_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"`[^`]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")
_SCRIPT = re.compile(r"(?<![\w./-])(?:\./)?scripts/([\w.-]+)")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SUBSTITUTION = re.compile(r"\$\(\s*([\w.-]+)")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "(", "&", ";;", "|&"})


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language and its lines, numbered as in the file."""

    language: str
    lines: list[tuple[int, str]]


@cache
def _parsed(path: Path) -> tuple[str, list[Block]]:
    """The file's prose (code blocks blanked, line breaks kept) and its fenced blocks."""
    prose: list[str] = []
    blocks: list[Block] = []
    current: Block | None = None
    fence = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        match = _FENCE.match(line)
        if current is None and match:
            fence = match[1]
            current = Block(match[2].lower(), [])
            prose.append("")
        elif current is not None and not line.strip().strip(fence[0]) and fence in line:
            blocks.append(current)
            current = None
            prose.append("")
        elif current is not None:
            current.lines.append((number, line))
            prose.append("")
        else:
            prose.append(line)
    assert current is None, f"{_rel(path)}: a code block is never closed"
    return "\n".join(prose), blocks


def _prose_without_code(path: Path) -> str:
    text, _ = _parsed(path)
    return _CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation removed (letters of every
    script, digits, ``_`` and ``-`` kept, so Korean stays), spaces to ``-``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    text, _ = _parsed(path)
    seen: dict[str, int] = {}
    found = set()
    for line in text.split("\n"):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match[2])
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(found)


def _links(path: Path) -> Iterator[tuple[int, str]]:
    text = _prose_without_code(path)
    for match in _LINK.finditer(text):
        yield _line_of(text, match.start()), match[1]


def test_the_docs_are_where_the_readme_says() -> None:
    assert (ROOT / "docs").is_dir()
    assert len(DOCS) > 1, "no docs/*.md found"


def test_every_relative_link_and_anchor_resolves() -> None:
    problems = []
    for path in DOCS:
        for line, target in _links(path):
            if _SCHEME.match(target):
                continue
            where = f"{_rel(path)}:{line}: link {target!r}"
            file_part, _, anchor = target.partition("#")
            goal = (path.parent / unquote(file_part)).resolve() if file_part else path
            if not goal.exists():
                problems.append(f"{where}: {file_part} does not exist")
                continue
            if ROOT not in goal.parents and goal != ROOT:
                problems.append(f"{where}: points outside the repository")
                continue
            if anchor and goal.suffix == ".md" and unquote(anchor) not in anchors(goal):
                problems.append(
                    f"{where}: {_rel(goal)} has no heading with the anchor #{anchor} "
                    f"(it has: {', '.join(sorted(anchors(goal)))})"
                )
    assert not problems, "\n".join(problems)


def test_every_named_script_exists_and_can_run() -> None:
    problems = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in _SCRIPT.finditer(text):
            name = match[1].rstrip(".")
            script = ROOT / "scripts" / name
            where = f"{_rel(path)}:{_line_of(text, match.start())}: {match[0]!r}"
            if not script.is_file():
                problems.append(f"{where}: scripts/{name} does not exist")
            elif script.suffix != ".py" and not os.access(script, os.X_OK):
                problems.append(f"{where}: scripts/{name} is not executable (chmod +x)")
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").split("\n")
    count = len(lines) - (lines[-1] == "")
    assert count <= README_MAX_LINES, (
        f"README.md: {count} lines, at most {README_MAX_LINES}: move reference to docs/"
    )


def test_the_readme_tells_setup_guide_users_what_works() -> None:
    text = README.read_text(encoding="utf-8")
    for phrase in (
        "from models import DynamoDBDatabase",
        "db.create_tables()",
        "python migrate_to_dynamodb.py",
        "flask run",
        "gunicorn -c gunicorn.conf.py app:app",
        "--worker-class eventlet",
        "./scripts/serve",
        "./scripts/test",
        f"source {ACTIVATE}",
    ):
        assert phrase in text, f"README.md no longer mentions {phrase!r}"


def _logical_lines(block: Block) -> Iterator[tuple[int, str]]:
    """The block's commands, continuation lines (ending in a backslash) joined."""
    start = 0
    parts: list[str] = []
    for number, line in block.lines:
        if not parts:
            start = number
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def command_words(line: str) -> list[list[str]]:
    """Each simple command of a shell line as its words, environment assignments left out
    (``cd backend && FLASK_ENV=x python …`` gives ``[["cd", "backend"], ["python", …]]``);
    commands in ``$( … )`` count too, quoted or not."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in _SEPARATORS or token == ")":
            commands.append([])
        elif token.endswith("=$"):
            continue  # NAME=$( … ): the command follows the "("
        elif commands[-1] or not _ASSIGNMENT.match(token):
            commands[-1].append(token)  # an assignment before the command is not one
    words = [c for c in commands if c]
    return words + [[name] for name in _SUBSTITUTION.findall(line)]


def test_venv_commands_come_after_activating_the_venv() -> None:
    problems = []
    for path in DOCS:
        _, blocks = _parsed(path)
        activated = False
        for block in blocks:
            if block.language not in SHELL_LANGUAGES:
                continue
            for number, line in _logical_lines(block):
                where = f"{_rel(path)}:{number}"
                try:
                    commands = command_words(line)
                except ValueError as exc:
                    problems.append(f"{where}: cannot read this shell line ({exc}): {line!r}")
                    continue
                for words in commands:
                    if words[0] in {"source", "."} and words[1:2] == [ACTIVATE]:
                        activated = True
                    elif words[0] in VENV_COMMANDS and not activated:
                        problems.append(
                            f"{where}: `{words[0]}` needs the project's venv: put a line "
                            f"`source {ACTIVATE}` before it (or use a ./scripts/ wrapper): "
                            f"{line.strip()!r}"
                        )
    assert not problems, "\n".join(problems)


def test_the_checks_above_catch_what_they_should() -> None:
    for heading, slug in {
        "The calendar (v1.1): end times, places": "the-calendar-v11-end-times-places",
        "일정 추가 (add an event)": "일정-추가-add-an-event",
        "On real DynamoDB: conflicts, index lag": "on-real-dynamodb-conflicts-index-lag",
        "Production with gunicorn": "production-with-gunicorn",
    }.items():
        assert github_slug(heading) == slug
    assert command_words("cd backend && FLASK_ENV=production gunicorn -c x app:app") == [
        ["cd", "backend"],
        ["gunicorn", "-c", "x", "app:app"],
    ]
    assert ["python"] in command_words("KEY=\"$(python -c 'print(1)')\"")
    assert {w[0] for w in command_words("DEPT=$(curl -s x | python3 -c 'y')")} == {
        "curl",
        "python3",
    }
