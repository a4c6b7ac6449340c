"""Weekly sheet configs: a TOML file read into SheetOptions.

Every problem in a file is reported as one line naming the file, the line
and what is wrong; nothing is generated from a file that does not read
cleanly. `EXAMPLE` is what `exgen init` writes.
"""

import difflib
import re
import tomllib
from pathlib import Path

from .errors import ExgenError, read_user_text
from .narrate import POLICIES
from .sheet import DIFFICULTIES, MAX_COUNT, MAX_DECIMALS, MAX_POINTS, SPACE, Section, SheetOptions
from .topics import GROUPS, TOPICS, expand

EXAMPLE = '''# exgen sheet config: `exgen make --config THIS_FILE`.
# Options given on the command line override the values here.

title = "Week 3: the chain rule"
course = "Machine Learning"
instructor = "Dr. A. Lecturer"
date = "2026-11-24"          # printed as written; leave "" for a blank line
seed = 3                     # same seed, same sheet, byte for byte
versions = 1                 # 2..26 for parallel exam versions A, B, ...
shuffle = false              # permute problem order in versions B, C, ...
at_point = false             # ask for derivatives' values at a point
key = "worked"               # the answer key: worked, full (every rule) or answers (a table)
space = "4cm"                # working space below each problem (cm, mm, in, pt, em)
points = 2                   # points per problem, printed beside it; the total in the header
rules_table = false          # print the rule table for students on the sheet
decimals = 0                 # worked keys (backprop, matrix-calculus): values also to 4 places with 4

# Each section has a heading, a count, a difficulty (easy, medium, hard or
# mixed) and topics (names from `exgen topics`, or the groups calculus, ml).

[[sections]]
title = "Warm-up"
count = 4
difficulty = "easy"
topics = ["power", "exp", "ln"]

[[sections]]
title = "Chain rule"
count = 6
difficulty = "medium"
topics = ["chain"]

[[sections]]
title = "Machine learning"
count = 2
difficulty = "hard"
topics = ["softmax", "cross-entropy"]
points = 5                   # a section's own points per problem
'''

TOP_KEYS = {"title": str, "course": str, "instructor": str, "date": str, "seed": int, "versions": int,
            "shuffle": bool, "at_point": bool, "key": str, "space": str, "points": int, "rules_table": bool,
            "decimals": int, "sections": list}
SECTION_KEYS = {"title": str, "count": int, "difficulty": str, "topics": list, "points": int}


def _line_of(text: str, key: str, after: int = 0) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if number > after and re.match(rf"\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
    return after or 1


def _section_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[sections]]"]


def load_config(path: Path) -> dict:
    """The options a config file sets, as SheetOptions field values."""
    name = str(path)
    text = read_user_text(path, "config file", "write the config as TOML text in UTF-8")
    if not text.strip():
        raise ExgenError(f"{name}: the config file is empty; `exgen init {name}` writes an example")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
        where = re.search(r"line (\d+)", detail)
        line = where.group(1) if where else "?"
        raise ExgenError(f"{name}:{line}: not valid TOML: {detail}") from None

    def fail(line: int, message: str):
        raise ExgenError(f"{name}:{line}: {message}")

    def typed(table: dict, schema: dict, after: int, what: str):
        for key, value in table.items():
            if key not in schema:
                near = difflib.get_close_matches(key, list(schema), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(schema)}"
                fail(_line_of(text, key, after), f"unknown {what}key {key!r}{hint}")
            expected = schema[key]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                fail(_line_of(text, key, after), f"{key} must be {expected.__name__}, got {value!r}")

    typed(data, TOP_KEYS, 0, "")
    options: dict = {k: v for k, v in data.items() if k != "sections"}
    if "seed" in options and options["seed"] < 0:
        fail(_line_of(text, "seed"), f"seed must be a non-negative integer, got {options['seed']}")
    if "decimals" in options and not 0 <= options["decimals"] <= MAX_DECIMALS:
        fail(_line_of(text, "decimals"), f"decimals must be between 0 and {MAX_DECIMALS}, got {options['decimals']}")
    if "space" in options and not SPACE.match(options["space"]):
        fail(_line_of(text, "space"), f"space must be a length such as \"5cm\", \"40mm\" or \"2in\", "
                                      f"got {options['space']!r}")
    if "points" in options and not 0 <= options["points"] <= MAX_POINTS:
        fail(_line_of(text, "points"), f"points must be from 0 to {MAX_POINTS}, got {options['points']}")
    if "key" in options:
        level = options.pop("key")
        if level not in POLICIES:
            near = difflib.get_close_matches(level, list(POLICIES), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; use one of {', '.join(POLICIES)}"
            fail(_line_of(text, "key"), f"unknown key {level!r}{hint}")
        options["key_level"] = level
    starts = _section_lines(text)
    sections = []
    for number, table in enumerate(data.get("sections", [])):
        start = starts[number] if number < len(starts) else 0
        if not isinstance(table, dict):
            fail(start or 1, "each [[sections]] entry must be a table")
        typed(table, SECTION_KEYS, start, "section ")
        if "count" not in table:
            fail(start, "a section needs a count")
        if not 1 <= table["count"] <= MAX_COUNT:
            fail(_line_of(text, "count", start), f"count must be between 1 and {MAX_COUNT}, got {table['count']}")
        difficulty = table.get("difficulty", "mixed")
        if difficulty not in DIFFICULTIES:
            near = difflib.get_close_matches(difficulty, list(DIFFICULTIES), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; use one of {', '.join(DIFFICULTIES)}"
            fail(_line_of(text, "difficulty", start), f"unknown difficulty {difficulty!r}{hint}")
        topics = table.get("topics", [])
        for topic in topics:
            if not isinstance(topic, str) or (topic not in TOPICS and topic not in GROUPS):
                near = difflib.get_close_matches(str(topic), list(TOPICS) + list(GROUPS), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else "; `exgen topics` lists the names"
                fail(_line_of(text, "topics", start), f"unknown topic {topic!r}{hint}")
        points = table.get("points")
        if points is not None and not 0 <= points <= MAX_POINTS:
            fail(_line_of(text, "points", start), f"points must be from 0 to {MAX_POINTS}, got {points}")
        sections.append(Section(table.get("title", ""), table["count"], difficulty, expand(tuple(topics)), points))
    if sections:
        options["sections"] = tuple(sections)
        options["count"] = sum(s.count for s in sections)
        if options["count"] > MAX_COUNT:
            fail(starts[-1] if starts else 1, f"the sections add up to {options['count']} problems; "
                                               f"at most {MAX_COUNT}")
    return options


def write_example(path: Path) -> None:
    if path.exists():
        raise ExgenError(f"{path} already exists; choose another name (exgen never overwrites a config)")
    try:
        with open(path, "x", encoding="utf-8") as stream:
            stream.write(EXAMPLE)
    except OSError as exc:
        raise ExgenError(f"cannot write {path}: {exc.strerror}") from None


def replaced(path: Path, file_options: dict, overrides: dict) -> list[str]:
    """What the command line replaces in a config file, one line each (for stderr)."""
    notes = []
    sections = file_options.get("sections", ())
    given = [k for k in ("count", "difficulty", "topics") if k in overrides]
    if sections and given:
        options = options_with(file_options, overrides)
        flags = " ".join(f"--{k}" for k in given)
        titles = ", ".join(repr(s.title) for s in sections if s.title)
        notes.append(f"{path}: {flags} replaces its {len(sections)} [[sections]]"
                     + (f" ({titles})" if titles else "")
                     + f": the sheet is one part of {options.count} problems, {options.difficulty} difficulty, "
                       f"topics {','.join(options.topics) or 'all'}")
    for key, value in overrides.items():
        if key in file_options and key not in ("count", "difficulty", "topics", "sections") \
                and file_options[key] != value:
            notes.append(f"{path}: --{key.replace('_', '-')} replaces {key} = {file_options[key]!r} "
                         f"with {value!r}")
    return notes


def options_with(file_options: dict, overrides: dict) -> SheetOptions:
    merged = {"count": 20, "seed": 0, **file_options, **overrides}
    if "sections" in merged and any(k in overrides for k in ("count", "difficulty", "topics")):
        # A command-line count/difficulty/topics replaces the file's sections.
        merged.pop("sections")
    return SheetOptions(**merged)
