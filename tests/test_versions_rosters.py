"""Exam versions, per-student rosters, sheet configs, `exgen verify` and
custom templates: what an instructor relies on when a course office prints
a class set."""

import json
from collections import Counter
from pathlib import Path

import pytest

from exgen.render import render_answer_key, make_environment
from exgen.sheet import SheetOptions, build_versions

from helpers import TEX_HINT, assert_user_error, pdf_text, require_tool, run_cli, run_main, run_verify_sheet


def rules_of(p: dict) -> Counter:
    """A problem's signature read from sheet.json alone."""
    def walk(node):
        yield node["rule"]
        for sub in node["substeps"]:
            yield from walk(sub)
    trees = p["steps"] if isinstance(p["steps"], list) else [p["steps"]]
    return Counter(rule for tree in trees for rule in walk(tree) if rule not in ("simplify", "constant", "identity"))


# ---------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 5, 9])
def test_versions_are_parallel_problem_by_problem(tmp_path, seed):
    out = tmp_path / "exam"
    assert run_cli("make", "--count", "8", "--seed", seed, "--versions", "3", "--no-pdf", "--out", out).exit_code == 0
    docs = [json.loads((out / f"sheet-{letter}.json").read_text()) for letter in "ABC"]
    for rows in zip(*(doc["problems"] for doc in docs)):
        assert len({p["topic"] for p in rows}) == 1, [p["topic"] for p in rows]
        assert len({p["difficulty"]["level"] for p in rows}) == 1
        assert len({p["difficulty"]["steps"] for p in rows}) == 1, "equally hard: the same rule count"
        assert len({json.dumps(sorted(rules_of(p).items())) for p in rows}) == 1, "the same rules"
        assert len({json.dumps(p["check"], sort_keys=True) for p in rows}) == 3, "different functions"
    every = [json.dumps(p["check"], sort_keys=True) for doc in docs for p in doc["problems"]]
    assert len(set(every)) == len(every), "no problem repeated across versions"
    checked = run_verify_sheet(*(out / f"sheet-{letter}.json" for letter in "ABC"))
    assert checked.returncode == 0, checked.stdout


def test_shuffle_permutes_the_order_of_later_versions_only():
    plain = build_versions(SheetOptions(count=10, seed=3, versions=2))
    mixed = build_versions(SheetOptions(count=10, seed=3, versions=2, shuffle=True))
    assert [p.identity for p in plain[0].problems] == [p.identity for p in mixed[0].problems]
    assert sorted(p.identity for p in plain[1].problems) == sorted(p.identity for p in mixed[1].problems)
    assert [p.identity for p in plain[1].problems] != [p.identity for p in mixed[1].problems]


def test_the_answer_key_lists_every_version_and_problem():
    sheets = build_versions(SheetOptions(count=4, seed=2, versions=3, key_level="answers"))
    key = render_answer_key(sheets, make_environment())
    for letter in "ABC":
        assert rf"\section*{{Version {letter}}}" in key
    assert key.count(r"\boxed") == 0 and key.count(" & ") >= 12


@pytest.mark.parametrize("level", ["worked", "full"])
def test_the_answer_key_follows_the_key_level(level):
    """At worked and full, the all-versions key has every version's solutions, each answer boxed once."""
    sheets = build_versions(SheetOptions(count=4, seed=2, versions=2, key_level=level))
    key = render_answer_key(sheets, make_environment())
    assert key.count(r"\problemhead{") == 8
    # A final line boxes its last form; a row of answers found at sight boxes each.
    boxed = sum(len(line.instances) if line.instances and not line.forms else 1
                for sheet in sheets for p in sheet.problems for line in p.key(level).lines if line.final)
    assert key.count(r"\boxed") == boxed


# ---------------------------------------------------------------------------
# Rosters
# ---------------------------------------------------------------------------

ROSTER = "id,name,email\ns1,Ada Lovelace,a@x\ns2,Alan Turing,b@x\ns3,Émilie du Châtelet,c@x\n"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_roster_gives_each_student_an_own_sheet_and_is_the_same_on_any_number_of_workers(tmp_path):
    require_tool("pdflatex", TEX_HINT)
    roster = tmp_path / "class.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        result = run_main("make", "--count", "3", "--seed", "7", "--roster", roster, "--jobs", jobs, "--out", out)
        assert result.code == 0, result.stderr
        runs[jobs] = snapshot(out)
    # Workers share nothing that changes a sheet: byte for byte the same files.
    assert runs[1] == runs[2]
    out = tmp_path / "jobs2"
    key = (out / "roster-key.csv").read_text(encoding="utf-8").splitlines()
    assert key[0] == "id,name,code,file" and len(key) == 4
    sheets = {}
    for line in key[1:]:
        student, name, code, stem = line.split(",")
        assert stem == student  # these ids are file-safe: they name the files as they are
        doc = json.loads((out / f"{student}-sheet.json").read_text())
        sheets[student] = [json.dumps(p["check"], sort_keys=True) for p in doc["problems"]]
        text = pdf_text(out / f"{student}-exercises.pdf")
        assert name in text and student in text and code in text
        assert name in pdf_text(out / f"{student}-guidebook.pdf")
    assert len({tuple(s) for s in sheets.values()}) == 3, "every student gets different problems"
    merged = pdf_text(out / "all-exercises.pdf")
    assert all(name in merged for name in ("Ada Lovelace", "Alan Turing", "Émilie du Châtelet"))
    checked = run_verify_sheet(*sorted(out.glob("*-sheet.json")))
    assert checked.returncode == 0, checked.stdout


def test_what_a_roster_worker_remembers_between_students_changes_no_file(tmp_path, monkeypatch):
    from exgen import pipeline

    roster = tmp_path / "class.csv"
    roster.write_text("id,name\n" + "".join(f"s{i},Student {i}\n" for i in range(6)), encoding="utf-8")
    runs = {}
    for every in (1, 4, 1000):  # afresh for each student, now and then, never
        monkeypatch.setattr(pipeline, "STUDENTS_BETWEEN_FORGETTING", every)
        out = tmp_path / f"every{every}"
        result = run_main("make", "--count", "4", "--seed", "3", "--roster", roster, "--no-pdf", "--jobs", "1",
                          "--out", out)
        assert result.code == 0, result.stderr
        runs[every] = snapshot(out)
    assert runs[1] == runs[4] == runs[1000]


def test_a_smaller_roster_in_the_same_folder_removes_the_departed_students_files(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    out = tmp_path / "class"
    assert run_main("make", "--count", "2", "--roster", roster, "--no-pdf", "--out", out).code == 0
    (out / "notes.txt").write_text("mine")
    roster.write_text("id,name\ns1,Ada Lovelace\n", encoding="utf-8")
    rerun = run_main("make", "--count", "2", "--roster", roster, "--no-pdf", "--out", out)
    assert rerun.code == 0 and "removed 6 files" in rerun.stdout
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "notes.txt", "roster-key.csv",
                                                    "s1-exercises.tex", "s1-guidebook.tex", "s1-sheet.json"]


@pytest.mark.parametrize("text, fragment", [
    ("name,id\n", "no students"),
    ("id,nom\ns1,Ada\n", "id and name"),
    ("id,name\ns1,Ada\ns1,Alan\n", "s1"),
    ("id,name\n,Ada\n", "empty"),
    ("id,name\ns1,\n", "name of 's1' is empty"),
    ('id,name\ns1,"' + "a" * 140_000 + '"\n', "CSV reader"),  # past the csv module's field limit
])
def test_roster_mistakes_are_one_line_errors_naming_the_line(tmp_path, text, fragment):
    roster = tmp_path / "class.csv"
    roster.write_text(text, encoding="utf-8")
    line = assert_user_error(run_main("make", "--roster", roster, "--no-pdf", "--out", tmp_path / "out"), fragment)
    assert "class.csv" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------------------
# Configs, verify, templates
# ---------------------------------------------------------------------------

def test_init_writes_a_config_that_make_uses_section_by_section(tmp_path):
    config = tmp_path / "week3.toml"
    assert run_main("init", config).code == 0
    assert_user_error(run_main("init", config), "exists")  # never overwrites
    out = tmp_path / "week3"
    assert run_main("make", "--config", config, "--no-pdf", "--out", out).code == 0
    doc = json.loads((out / "sheet.json").read_text())
    exercises = (out / "exercises.tex").read_text()
    assert r"\subsection*{Warm{-}up}" in exercises and r"\subsection*{Machine learning}" in exercises
    levels = [p["difficulty"]["level"] for p in doc["problems"]]
    assert levels == ["easy"] * 4 + ["medium"] * 6 + ["hard"] * 2
    assert {p["topic"] for p in doc["problems"][:4]} <= {"power", "exp", "ln"}
    assert {p["topic"] for p in doc["problems"][4:10]} == {"chain"}


def test_a_config_mistake_names_the_file_and_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('title = "x"\n\n[[sections]]\ntitle = "A"\ncount = 2\ntopics = ["chian"]\n')
    line = assert_user_error(run_main("make", "--config", config, "--no-pdf", "--out", tmp_path / "o"), "chian")
    assert "bad.toml" in line


def test_verify_reports_identical_then_what_changed(tmp_path):
    out = tmp_path / "sheet"
    assert run_main("make", "--count", "4", "--seed", "3", "--no-pdf", "--out", out).code == 0
    verified = run_main("verify", out)
    assert verified.code == 0 and "everything identical" in verified.stdout
    (out / "guidebook.tex").write_text("edited")
    changed = run_main("verify", out)
    assert changed.code != 0 and "guidebook.tex" in changed.stdout + changed.stderr


def test_custom_templates_override_one_file_and_report_their_mistakes(tmp_path):
    folder = tmp_path / "mine"
    assert run_main("templates", "export", folder).code == 0
    exercises = folder / "exercises.tex.j2"
    exercises.write_text(exercises.read_text().replace("Exercise sheet", "Quiz for << course | escape >>"))
    for other in folder.iterdir():
        if other != exercises:
            other.unlink()  # the others fall back to the built-in templates
    out = tmp_path / "quiz"
    assert run_main("make", "--count", "2", "--no-pdf", "--template-dir", folder, "--out", out).code == 0
    assert "Quiz for" in (out / "exercises.tex").read_text()
    assert r"\section*{Worked solutions}" in (out / "guidebook.tex").read_text()
    exercises.write_text(exercises.read_text() + "\n((* for p in problems *))\n")
    line = assert_user_error(run_main("make", "--count", "2", "--no-pdf", "--template-dir", folder,
                                      "--out", tmp_path / "broken"), "exercises.tex.j2")
    assert "syntax" in line
