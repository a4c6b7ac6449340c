"""Golden problems: what a few (seed, options) pairs generate, pinned.

An instructor relies on `exgen make --seed 7` giving the same sheet next
year; a change of generation order, of a topic's draws or of SymPy's
behaviour shows up here as a diff to review, not in front of students.

To accept a deliberate change, regenerate and review:

    EXGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_problems.py
    git diff tests/golden/problems/
"""

import json
import os
from pathlib import Path

import pytest

from exgen.sheet import Section, SheetOptions, build_versions
from exgen.topics import GROUPS

GOLDEN = Path(__file__).resolve().parent / "golden" / "problems"
UPDATE = os.environ.get("EXGEN_UPDATE_GOLDEN") == "1"

CASES = {
    "default-count10-seed7": SheetOptions(count=10, seed=7),
    "calculus-hard-seed3": SheetOptions(count=6, seed=3, difficulty="hard", topics=GROUPS["calculus"]),
    "ml-mixed-seed11": SheetOptions(count=9, seed=11, topics=GROUPS["ml"]),
    "versions2-shuffle-seed5": SheetOptions(count=4, seed=5, versions=2, shuffle=True,
                                            topics=("chain", "product", "sigmoid")),
    "at-point-seed9": SheetOptions(count=5, seed=9, at_point=True),
    "sections-seed4": SheetOptions(count=5, seed=4, sections=(
        Section("Warm-up", 2, "easy", ("power", "exp")), Section("Chain rule", 3, "medium", ("chain",)))),
}


def summary(options: SheetOptions) -> list[dict]:
    return [
        {"version": sheet.version, "number": p.number, "section": p.section, "topic": p.exercise.topic,
         "level": p.level, "steps": p.steps, "check": p.check}
        for sheet in build_versions(options) for p in sheet.problems
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_problems_are_pinned(name):
    path = GOLDEN / f"{name}.json"
    got = summary(CASES[name])
    if UPDATE:
        if os.environ.get("CI"):
            pytest.fail("EXGEN_UPDATE_GOLDEN=1 in CI: golden files are updated by hand, never in CI")
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
        return
    # A missing file fails: written here it would pin whatever this run made, unreviewed.
    assert path.is_file(), f"{path} is missing; create it with EXGEN_UPDATE_GOLDEN=1 and review it"
    want = json.loads(path.read_text())
    assert got == want, f"the problems of {name} changed; review with EXGEN_UPDATE_GOLDEN=1 and git diff"


def test_every_golden_problem_file_belongs_to_a_case():
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)
