"""What an instructor trusts exgen with (issue 17): the same sheet on any
machine whatever its speed, a folder of earlier work never overwritten by
another sheet, `exgen verify` naming exactly what changed, class lists as
the platforms export them, and `-v` and `--config` saying what they do."""

import json
import re
from pathlib import Path

import pytest

from exgen import sheet as sheet_module
from exgen.errors import HangGuard
from exgen.sheet import SheetOptions, build_versions

from helpers import TEX_HINT, assert_user_error, pdf_text, require_tool, run_exgen, run_main

ROOT = Path(__file__).resolve().parent.parent


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------
# No wall clock decides what is printed
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_tiny_hang_guard_gives_the_same_sheet_or_stops_loudly(tmp_path, jobs):
    """Under a guard far below a candidate's time, a slow machine in effect,
    the run prints the same bytes or stops with one line naming the problem
    and seed: never a different sheet."""
    args = ("make", "--count", "20", "--seed", "7", "--no-pdf", "--jobs", jobs)
    normal = run_exgen(*args, "--out", tmp_path / "normal", cwd=tmp_path)
    assert normal.code == 0, normal.stderr
    want = snapshot(tmp_path / "normal")
    stopped = 0
    for guard in ("0.000001", "0.01", "0.03", "0.1", "5"):
        out = tmp_path / f"guard-{guard}"
        run = run_exgen(*args, "--out", out, cwd=tmp_path, env={"EXGEN_HANG_SECONDS": guard})
        if run.code == 0:
            assert snapshot(out) == want, f"EXGEN_HANG_SECONDS={guard} printed another sheet"
        else:
            line = assert_user_error(run, "seed 7", "EXGEN_HANG_SECONDS")
            assert re.search(r"problem \d+ of seed 7", line), line
            assert not out.exists(), "a stopped run leaves nothing behind"
            stopped += 1
    assert stopped >= 1, "a guard of a microsecond must stop the run"


def test_a_hang_guard_firing_in_any_process_stops_the_run_in_order(monkeypatch):
    """The guard as a module constant: in the drawing children a guess stopped
    by it is made again in order, and there it stops the run (HangGuard, a user
    error of one line), whatever --jobs."""
    monkeypatch.setattr(sheet_module, "HANG_SECONDS", 1e-6)
    for jobs in (1, 2):
        with pytest.raises(HangGuard, match=r"problem 1 of seed 5 .*attempt 0"):
            build_versions(SheetOptions(count=4, seed=5), jobs=jobs)


def test_a_bad_hang_guard_setting_is_one_line(tmp_path):
    run = run_exgen("make", "--count", "2", "--no-pdf", "--out", tmp_path / "o", cwd=tmp_path,
                    env={"EXGEN_HANG_SECONDS": "soon"})
    assert_user_error(run, "EXGEN_HANG_SECONDS", "soon")


def test_the_oracle_draws_from_its_own_stream(monkeypatch):
    """How many random draws the numeric check makes changes no problem: it
    has its own generator (an at-point problem picks its point from the
    problem's generator after the check)."""
    options = SheetOptions(count=6, seed=9, at_point=True, topics=("chain", "product", "linear", "sigmoid"))
    before = [p.check for p in build_versions(options)[0].problems]
    real = sheet_module.check_contract

    def hungrier(check, domain, rng):
        verdict = real(check, domain, rng)
        rng.random()  # one more draw than today, as a changed oracle might make
        return verdict

    monkeypatch.setattr(sheet_module, "check_contract", hungrier)
    assert [p.check for p in build_versions(options)[0].problems] == before


# ---------------------------------------------------------------------------
# -v with any --jobs, --config notes
# ---------------------------------------------------------------------------

def test_verbose_logs_every_rejection_in_the_same_order_for_any_jobs(tmp_path):
    logs = {}
    for jobs in ("1", "2", "3"):
        run = run_exgen("make", "--count", "20", "--seed", "7", "--no-pdf", "-v", "--jobs", jobs,
                        "--out", tmp_path / f"jobs{jobs}", cwd=tmp_path)
        assert run.code == 0, run.stderr
        logs[jobs] = run.stderr.splitlines()
    assert logs["1"] and all("rejected" in line for line in logs["1"]), logs["1"][:5]
    assert logs["2"] == logs["1"] and logs["3"] == logs["1"]


WEEK = '''title = "Week 3"
seed = 3

[[sections]]
title = "Warm-up"
count = 2
difficulty = "easy"
topics = ["power"]

[[sections]]
title = "Chain rule"
count = 2
difficulty = "medium"
topics = ["chain"]
'''


def test_a_config_says_what_the_command_line_replaced(tmp_path):
    config = tmp_path / "week.toml"
    config.write_text(WEEK)
    run = run_main("make", "--config", config, "--count", "5", "--seed", "4", "--no-pdf", "--out", tmp_path / "o")
    assert run.code == 0, run.stderr
    notes = run.stderr.splitlines()
    assert any("--count replaces its 2 [[sections]]" in n and "'Warm-up'" in n and "5 problems" in n
               and "topics all" in n for n in notes), notes
    assert any("--seed replaces seed = 3 with 4" in n for n in notes), notes
    assert len(json.loads((tmp_path / "o" / "sheet.json").read_text())["problems"]) == 5
    quiet = run_main("make", "--config", config, "--no-pdf", "--out", tmp_path / "p")
    assert quiet.code == 0 and quiet.stderr == ""


# ---------------------------------------------------------------------------
# A folder of earlier work
# ---------------------------------------------------------------------------

def test_writing_another_sheet_into_a_used_folder_is_refused_and_changes_nothing(tmp_path):
    require_tool("pdflatex", TEX_HINT)
    exam = tmp_path / "exam"
    made = run_main("make", "--count", "3", "--seed", "5", "--versions", "3", "--out", exam)
    assert made.code == 0, made.stderr
    (exam / "notes.txt").write_text("room 101, 9 am")
    before = snapshot(exam)
    assert "answer-key.pdf" in before and "exercises-C.pdf" in before
    line = assert_user_error(run_main("make", "--count", "10", "--seed", "1", "--out", exam), str(exam), "--force")
    assert "another sheet" in line and "versions 3 (this run: 1)" in line
    assert snapshot(exam) == before
    # A roster into it is another sheet too.
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\ns1,Ada\n")
    assert_user_error(run_main("make", "--count", "3", "--seed", "5", "--roster", roster, "--no-pdf",
                               "--out", exam), "--force")
    assert snapshot(exam) == before
    # The same command again replaces its own files; --force replaces the sheet,
    # and what exgen did not write stays.
    assert run_main("make", "--count", "3", "--seed", "5", "--versions", "3", "--out", exam).code == 0
    assert snapshot(exam) == before
    forced = run_main("make", "--count", "2", "--seed", "1", "--no-pdf", "--out", exam, "--force")
    assert forced.code == 0, forced.stderr
    assert (exam / "notes.txt").read_text() == "room 101, 9 am"
    assert json.loads((exam / "sheet.json").read_text())["seed"] == 1


def test_files_exgen_did_not_write_are_never_replaced_without_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "exercises.tex").write_text("my own sheet, typed by hand")
    before = snapshot(out)
    assert_user_error(run_main("make", "--count", "2", "--no-pdf", "--out", out), "exercises.tex", "--force")
    assert snapshot(out) == before
    # Nor a file of exgen's that was edited since it was written.
    own = tmp_path / "own"
    assert run_main("make", "--count", "2", "--no-pdf", "--out", own).code == 0
    (own / "guidebook.tex").write_text("corrected by hand")
    edited = snapshot(own)
    assert_user_error(run_main("make", "--count", "2", "--no-pdf", "--out", own), "guidebook.tex", "edited")
    assert snapshot(own) == edited
    assert run_main("make", "--count", "2", "--no-pdf", "--out", own, "--force").code == 0
    assert (own / "guidebook.tex").read_text() != "corrected by hand"


def test_output_inside_the_built_in_templates_is_refused(tmp_path):
    from exgen.render import TEMPLATE_DIR

    inside = Path(TEMPLATE_DIR) / "out"
    assert_user_error(run_main("make", "--count", "1", "--no-pdf", "--out", inside), "templates folder")
    assert not inside.exists()


# ---------------------------------------------------------------------------
# exgen verify
# ---------------------------------------------------------------------------

def test_verify_names_an_edited_answer_and_the_edited_file(tmp_path):
    out = tmp_path / "sheet"
    assert run_main("make", "--count", "4", "--seed", "3", "--no-pdf", "--out", out).code == 0
    clean = run_main("verify", out)
    assert clean.code == 0 and "everything identical" in clean.stdout
    assert "problem 1 (" in clean.stdout and "templates: identical" in clean.stdout
    doc = json.loads((out / "sheet.json").read_text())
    doc["problems"][0]["answer_latex"] = "42"
    (out / "sheet.json").write_text(json.dumps(doc, indent=2))
    (out / "exercises.tex").unlink()
    run = run_main("verify", out)
    assert run.code != 0
    lines = run.stdout.splitlines()
    assert re.search(r"^problem 1 \([\w-]+\): answer_latex differs$", run.stdout, re.M), lines
    assert all(line.endswith(": identical") for line in lines if line.startswith(("problem 2", "problem 3")))
    assert "sheet.json: edited after exgen wrote it" in lines
    assert "exercises.tex: missing from the folder" in lines
    assert "guidebook.tex: identical" in lines
    assert not any("identical;" in line for line in lines), "a changed item never reads as identical"


def test_verify_uses_the_templates_the_folder_was_made_with(tmp_path):
    mine = tmp_path / "templates"
    assert run_main("templates", "export", mine).code == 0
    exercises = mine / "exercises.tex.j2"
    exercises.write_text(exercises.read_text().replace("Exercise sheet", "Quiz"))
    out = tmp_path / "quiz"
    assert run_main("make", "--count", "2", "--no-pdf", "--template-dir", mine, "--out", out).code == 0
    recorded = json.loads((out / "manifest.json").read_text())["templates"]
    assert recorded["folder"] == str(mine.resolve())
    assert recorded["used"]["exercises.tex.j2"]["from"] == "folder"
    assert set(recorded["used"]) == {"exercises.tex.j2", "guidebook.tex.j2", "preamble.tex.j2", "solutions.tex.j2"}
    # No --template-dir needed: the manifest says where they are.
    same = run_main("verify", out)
    assert same.code == 0 and "everything identical" in same.stdout, same.stdout
    exercises.write_text(exercises.read_text().replace("Quiz", "Test"))
    changed = run_main("verify", out)
    assert changed.code != 0
    assert "template exercises.tex.j2 (folder): differs" in changed.stdout
    assert "exercises.tex: CHANGED when regenerated" in changed.stdout
    mine.rename(tmp_path / "moved")
    assert_user_error(run_main("verify", out), str(mine), "--template-dir")
    # An older manifest, without the record: said, and the built-in ones used.
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["templates"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    older = run_main("verify", out)
    assert "templates: not recorded in the manifest" in older.stdout


# ---------------------------------------------------------------------------
# Class lists as the platforms export them
# ---------------------------------------------------------------------------

# Moodle (participants / grades export): semicolons, a UTF-8 byte-order mark,
# first name and surname apart, an empty ID number, the email filled in.
MOODLE = ("\ufeffFirst name;Surname;ID number;Institution;Department;Email address\r\n"
          "Ada;Lovelace;;Analytical;Maths;ada@uni.example\r\n"
          "Émilie;du Châtelet;;;Physics;emilie@uni.example\r\n"
          "Zoë;Ñúñez 😀;;;;zoe@uni.example\r\n")
# Canvas (gradebook export): Student as "Last, First", the Points Possible row.
CANVAS = ('Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (4411)\n'
          '    Points Possible,,,,,10.00\n'
          '"Turing, Alan",1001,s-1001,aturing,Calculus A,9.00\n'
          '"Hopper, Grace",1002,s-1002,ghopper,Calculus A,10.00\n')


@pytest.mark.tex
def test_moodle_and_canvas_class_lists_print_every_students_name(tmp_path):
    (tmp_path / "moodle.csv").write_text(MOODLE, encoding="utf-8", newline="")
    (tmp_path / "canvas.csv").write_text(CANVAS, encoding="utf-8")
    expected = {
        "moodle": {"ada@uni.example": "Ada Lovelace", "emilie@uni.example": "Émilie du Châtelet",
                   "zoe@uni.example": "Zoë Ñúñez ?"},
        "canvas": {"1001": "Turing, Alan", "1002": "Hopper, Grace"},
    }
    for platform, students in expected.items():
        out = tmp_path / platform
        run = run_main("make", "--count", "2", "--seed", "4", "--roster", tmp_path / f"{platform}.csv", "--out", out)
        assert run.code == 0, run.stderr
        key = (out / "roster-key.csv").read_text(encoding="utf-8").splitlines()
        rows = {line.split(",")[0]: line for line in key[1:]}
        assert set(rows) == set(students), key
        merged = " ".join(pdf_text(out / "all-exercises.pdf").split())
        for student_id, printed in students.items():
            stem = rows[student_id].rsplit(",", 1)[1]
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem), stem
            text = " ".join(pdf_text(out / f"{stem}-exercises.pdf").split())
            assert printed in text and student_id in text, (platform, printed)
            assert printed in " ".join(pdf_text(out / f"{stem}-guidebook.pdf").split())
            assert printed in merged
    # The one name pdflatex cannot print in full: a warning naming the student, nobody held up.
    warnings = [line for line in run_main("make", "--count", "2", "--seed", "4", "--roster", tmp_path / "moodle.csv",
                                          "--no-pdf", "--out", tmp_path / "again").stderr.splitlines()
                if "warning" in line]
    assert len(warnings) == 1 and "zoe@uni.example" in warnings[0] and "U+1F600" in warnings[0], warnings
    assert "Zoë Ñúñez 😀" in (tmp_path / "moodle" / "roster-key.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("text, encoding, ids, names", [
    ("id\tname\ns1\tAda\ns2\tAlan\n", "utf-16", ["s1", "s2"], ["Ada", "Alan"]),   # Excel's "Unicode text"
    ("Username|Full name\nada|Ada L\n", "utf-8", ["ada"], ["Ada L"]),
    ("STUDENT ID,First_Name,Last_Name\n7,Ada,Lovelace\n", "utf-8", ["7"], ["Ada Lovelace"]),
    ("id;name\n1;Lovelace, Ada\n", "utf-8", ["1"], ["Lovelace, Ada"]),
    ("name,id\n\nAda,s1\n,\n", "utf-8", ["s1"], ["Ada"]),
])
def test_class_list_shapes(tmp_path, text, encoding, ids, names):
    from exgen.roster import read_roster

    path = tmp_path / "class.csv"
    path.write_bytes(text.encode(encoding))
    students = read_roster(path).students
    assert [s.id for s in students] == ids and [s.name for s in students] == names


def test_columns_can_be_named(tmp_path):
    from exgen.roster import read_roster

    path = tmp_path / "class.csv"
    path.write_text("Matrikel;Vorname;Nachname\n4711;Ada;Lovelace\n")
    assert_user_error(run_main("make", "--roster", path, "--no-pdf", "--out", tmp_path / "o"),
                      "class.csv", "--id-column")
    students = read_roster(path, id_column="matrikel", name_column="Vorname, Nachname").students
    assert [(s.id, s.name) for s in students] == [("4711", "Ada Lovelace")]
    assert_user_error(run_main("make", "--roster", path, "--id-column", "Matrikelnummer", "--no-pdf",
                               "--out", tmp_path / "o"), "Matrikelnummer")
    out = tmp_path / "named"
    run = run_main("make", "--count", "1", "--roster", path, "--id-column", "Matrikel", "--name-column",
                   "Vorname,Nachname", "--no-pdf", "--out", out)
    assert run.code == 0, run.stderr
    assert "Ada Lovelace" in (out / "4711-exercises.tex").read_text()


def test_ids_that_are_not_file_safe_name_distinct_safe_files(tmp_path):
    from exgen.roster import Student, file_stems

    students = [Student("ada@uni.example", "A"), Student("s/1", "B"), Student("s_1", "C"), Student("s 1", "D"),
                Student("../etc", "E"), Student("José", "F"), Student("Łukasz", "G"), Student("plain-id_2", "H")]
    stems = file_stems(students)
    assert stems["ada@uni.example"] == "ada_uni.example"
    assert stems["s_1"] == "s_1" and stems["plain-id_2"] == "plain-id_2"  # safe ids are kept as they are
    assert stems["José"] == "Jose" and stems["../etc"] == "_etc"
    assert stems["s/1"] != stems["s 1"] and stems["s/1"].startswith("s_1-")
    assert len(set(stems.values())) == len(students)
    assert all(re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", stem) for stem in stems.values()), stems
    # The same ids in another order: the same names.
    assert file_stems(reversed(students)) == stems
    roster = tmp_path / "class.csv"
    roster.write_text("email,name\nada@uni.example,Ada\nalan@uni.example,Alan\n")
    out = tmp_path / "o"
    assert run_main("make", "--count", "1", "--roster", roster, "--no-pdf", "--out", out).code == 0
    assert {p.name for p in out.glob("*-sheet.json")} == {"ada_uni.example-sheet.json",
                                                          "alan_uni.example-sheet.json"}
    assert r"ada@uni.example" in (out / "ada_uni.example-exercises.tex").read_text()


# ---------------------------------------------------------------------------
# The README uses only what the repository has
# ---------------------------------------------------------------------------

def test_the_readme_points_only_inside_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme, "the README sends users outside the repository"
    for path in sorted(set(re.findall(r"(?<![\w/.-])((?:scripts|bench|tests|exgen)/[\w./-]+\.\w+)", readme))):
        assert (ROOT / path).is_file(), f"the README names {path}, which the repository does not have"


def test_verbose_logs_a_roster_in_roster_order_for_any_jobs(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\n" + "".join(f"s{i},Student {i}\n" for i in range(5)))
    logs = {}
    for jobs in ("1", "2"):
        run = run_exgen("make", "--count", "8", "--seed", "2", "--roster", roster, "--no-pdf", "-v", "--jobs", jobs,
                        "--out", tmp_path / f"jobs{jobs}", cwd=tmp_path)
        assert run.code == 0, run.stderr
        logs[jobs] = [line for line in run.stderr.splitlines() if line.startswith("exgen.")]
    assert logs["1"] and logs["2"] == logs["1"]
