"""The sheet as a handout (issue 14): working space, points, the rule table
for students, and a header that holds long titles and names.
"""

import json
import re
import subprocess

import pytest

from exgen.render import make_environment, render_documents
from exgen.sheet import Section, SheetOptions, build_sheet

from helpers import assert_user_error, pdf_text, run_cli, run_main

LONG_NAME = ("Maximiliana Alexandrina Konstantinopoulou-Wolfeschlegelsteinhausenbergerdorff "
             "von Oberammergau-Partenkirchen Smith-Jones")


def _exercises(options):
    documents = render_documents(build_sheet(options), make_environment())
    return next(text for name, text in documents.items() if "exercises" in name)


def test_space_and_points_are_printed_and_change_no_problem():
    plain = SheetOptions(count=4, seed=5)
    handout = SheetOptions(count=4, seed=5, space="5cm", points=3)
    text = _exercises(handout)
    assert text.count(r"\vspace{5cm}") == 4
    assert text.count("[3 points]") == 4
    assert "/ 12 points" in text  # the total in the header
    assert r"\vspace{3cm}" in _exercises(plain) and "points]" not in _exercises(plain)
    assert handout.code == plain.code
    problems = [p.exercise.expr for p in build_sheet(plain).problems]
    assert [p.exercise.expr for p in build_sheet(handout).problems] == problems


def test_a_sections_points_override_the_sheets():
    options = SheetOptions(count=3, seed=2, points=1, sections=(
        Section("Warm-up", 2, "easy", ("power", "exp")), Section("Harder", 1, "medium", ("chain",), points=4)))
    text = _exercises(options)
    assert text.count("[1 point]") == 2 and text.count("[4 points]") == 1
    assert "/ 6 points" in text


def test_the_rule_table_for_students_is_the_keys():
    options = SheetOptions(count=3, seed=4, rules_table=True)
    documents = render_documents(build_sheet(options), make_environment())
    exercises = next(text for name, text in documents.items() if "exercises" in name)
    guidebook = next(text for name, text in documents.items() if "guidebook" in name)
    rows = re.findall(r"^(.+ & .+ & .+)\\\\$", exercises, flags=re.M)
    assert len(rows) >= 3 and all(row in guidebook for row in rows)
    assert r"\subsection*{Rules}" not in _exercises(SheetOptions(count=3, seed=4))


@pytest.mark.parametrize("args, fragment", [
    (("--space", "5"), "--space"), (("--space", r"5cm}\input{x"), "--space"), (("--points", "-1"), "points"),
    (("--points", "many"), "--points"),
])
def test_bad_handout_options_are_one_line(tmp_path, args, fragment):
    assert_user_error(run_main("make", "--count", "2", "--no-pdf", "--out", tmp_path / "out", *args), fragment)
    assert not (tmp_path / "out").exists()


def test_config_keys(tmp_path):
    config = tmp_path / "week.toml"
    config.write_text('space = "4cm"\npoints = 2\nrules_table = true\n\n[[sections]]\ncount = 2\n'
                      'topics = ["power"]\n\n[[sections]]\ncount = 1\ntopics = ["chain"]\npoints = 5\n')
    run = run_cli("make", "--config", config, "--no-pdf", "--out", tmp_path / "out")
    assert run.exit_code == 0, run.output
    text = (tmp_path / "out" / "exercises.tex").read_text()
    assert text.count(r"\vspace{4cm}") == 3 and "[5 points]" in text and "/ 9 points" in text
    assert r"\subsection*{Rules}" in text
    config.write_text('space = "lots"\n')
    run = run_main("make", "--config", config, "--no-pdf", "--out", tmp_path / "bad")
    assert_user_error(run, "week.toml:1", "space")


@pytest.mark.tex
def test_a_long_name_and_title_fit_the_header(tmp_path, pdftotext):
    roster = tmp_path / "class.csv"
    roster.write_text(f"id,name\ns1,{LONG_NAME}\n", encoding="utf-8")
    assert len(LONG_NAME) >= 120
    title = "Derivatives of compositions, products and quotients: week 3 of the calculus and machine learning course"
    run = run_cli("make", "--count", "2", "--seed", "1", "--roster", roster, "--title", title,
                  "--no-pdf", "--out", tmp_path / "out")
    assert run.exit_code == 0, run.output
    for stem in ("s1-exercises", "s1-guidebook"):
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"{stem}.tex"],
                       cwd=tmp_path / "out", capture_output=True, timeout=120, stdin=subprocess.DEVNULL, check=True)
        log = (tmp_path / "out" / f"{stem}.log").read_text(errors="replace")
        assert "headheight is too small" not in log, stem
        header_boxes = [m for m in re.finditer(r"Overfull \\hbox.*?\n(.*)\n", log) if "Sheet" in m.group(1)
                        or "Derivatives" in m.group(1)]
        assert not header_boxes, (stem, [m.group(0) for m in header_boxes])
        # Every word of the name on the page (a word TeX hyphenates at a line end is joined back).
        text = re.sub(r"-\n", "", pdf_text(tmp_path / "out" / f"{stem}.pdf"))
        assert set(re.findall(r"[A-Za-z]+", LONG_NAME)) <= set(re.findall(r"[A-Za-z]+", text)), stem
