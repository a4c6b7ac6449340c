"""Keys as narrations (issue 15): every level's lines checked from sheet.json
alone, the worked key's shape (outside in, parts named before use, the
course's identities), the levels changing no problem, and a key that fails
its check never printed.

The checker of sheet.json lines here knows nothing of exgen: it reads the
strings with `sympy.parse_expr` and compares each form with `sympy.diff` of
the line's `of`, numerically with mpmath (helpers.py).
"""

import dataclasses
import json
import random
import re

import mpmath
import pytest
import sympy as sp

from exgen.narrate import POLICIES, KeyFailedCheck, Line, Subject, checked_key, narrate, verify
from exgen.render import sheet_json
from exgen.sheet import Section, Sheet, SheetOptions, build_sheet
from exgen.topics import GROUPS, TOPICS

from helpers import X, assert_derivative, assert_user_error, kinks, parse_plain, run_cli, run_main, \
    stated_interval, to_elementary

# ---------------------------------------------------------------------------
# An independent checker of sheet.json's `lines`
# ---------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_SYMPY_NAMES = {"E", "pi", "True", "False", "dir", "oo"}


def _names(*texts: str) -> list[str]:
    """The symbols a string uses: its identifiers that are not called like functions."""
    names = set()
    for text in texts:
        for match in _IDENTIFIER.finditer(text):
            after = text[match.end():match.end() + 1]
            if after != "(" and match.group() not in _SYMPY_NAMES and not text[:match.start()].endswith("'"):
                names.add(match.group())
    return sorted(names)


def _without_limits(expr):
    """A first-principles limit as its body at h = 10^-12 (the body is
    continuous there, so it is the limit to well within the tolerance)."""
    return expr.replace(lambda e: isinstance(e, sp.Limit),
                        lambda e: e.args[0].subs(e.args[1], sp.Rational(1, 10**12)))


def _points(symbols, problem_variables, domain: str, rng: random.Random, n: int = 14, avoid=()):
    """Points in the printed domain for the problem's variables; a line's own
    variable (a helper such as u or y^) half in (0, 1), half in (-2.9, 2.9)."""
    low, high = stated_interval(domain)
    out = []
    while len(out) < n:
        point = {}
        for s in symbols:
            if s.name in problem_variables:
                v = rng.uniform(low, high)
            else:
                v = rng.uniform(0.05, 0.95) if len(out) % 2 else rng.uniform(-2.9, 2.9)
            point[s] = sp.Rational(str(round(v, 3)))
        if avoid:
            values = [sp.N(a.subs(point)) for a in avoid]
            if any(v.is_real and abs(v) < 0.02 for v in values):
                continue
        out.append(point)
    return out


def check_json_lines(problem: dict, rng: random.Random) -> int:
    """Every form of every line equals d(of)/d(wrt) (or its value at `at`);
    returns how many forms were checked."""
    check = problem["check"]
    variables = set(check["variables"])
    entries = problem["lines"] if problem["lines"] and isinstance(problem["lines"][0], list) else [problem["lines"]]
    checked = 0
    for lines in entries:
        assert lines, f"#{problem['number']}: a derivative asked has no line"
        for line in lines:
            assert set(line) >= {"rule", "text", "latex", "of", "wrt", "forms"}, line
            names = _names(line["of"], line["wrt"], *line["forms"])
            of = parse_plain(line["of"], names)
            wrt = sp.Symbol(line["wrt"], real=True)
            where = f"#{problem['number']} {line['rule']} line d/d{line['wrt']} {line['of']}"
            if "at" in line:
                point = {sp.Symbol(n, real=True): sp.Rational(str(v)) for n, v in line["at"].items()}
                want = sp.diff(to_elementary(of), wrt).subs(point)
                for text in line["forms"]:
                    got = parse_plain(text, names)
                    assert not got.free_symbols, (where, text)
                    with mpmath.workdps(30):
                        a, b = mpmath.mpf(sp.N(got, 30)), mpmath.mpf(sp.N(want, 30))
                    assert abs(a - b) <= mpmath.mpf("1e-9") * max(1, abs(a), abs(b)), (where, text, a, b)
                    checked += 1
                continue
            symbols = sorted({sp.Symbol(n, real=True) for n in names} | {wrt}, key=lambda s: s.name)
            points = _points(symbols, variables, problem["domain"], rng,
                             avoid=[k for k in kinks(of) if k.free_symbols])
            for text in line["forms"]:
                claimed = _without_limits(parse_plain(text, names))
                assert_derivative(of, wrt, claimed, points, context=where)
                checked += 1
    return checked


def _at_level(sheet: Sheet, level: str) -> Sheet:
    return dataclasses.replace(sheet, options=dataclasses.replace(sheet.options, key_level=level))


def _sheets(options_list):
    for options in options_list:
        yield build_sheet(options)


ML_SECTIONS = tuple(Section(f"{name} {level}", 1, level, (name,))
                    for name in GROUPS["ml"] for level in TOPICS[name].levels)
CALCULUS_SECTIONS = tuple(Section(f"{name} {level}", 1, level, (name,))
                          for name in GROUPS["calculus"] for level in TOPICS[name].levels)


@pytest.mark.parametrize("options", [
    SheetOptions(count=20, seed=7),
    SheetOptions(count=0, seed=3, sections=ML_SECTIONS),
    SheetOptions(count=0, seed=5, sections=CALCULUS_SECTIONS),
    SheetOptions(count=8, seed=9, at_point=True),
], ids=["seed-7", "every-ml-topic-and-level", "every-calculus-topic-and-level", "at-point"])
def test_every_line_of_every_level_checks_from_sheet_json_alone(options):
    sheet = build_sheet(options)
    for level in POLICIES:
        doc = json.loads(sheet_json(_at_level(sheet, level)))
        checked = 0
        for problem in doc["problems"]:
            assert problem["key"] == level
            checked += check_json_lines(problem, random.Random(problem["number"]))
        assert checked >= len(doc["problems"]), level


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(30))
def test_every_line_checks_from_sheet_json_over_many_seeds(seed):
    sheet = build_sheet(SheetOptions(count=20, seed=100 + seed, at_point=seed % 5 == 0))
    for level in POLICIES:
        for problem in json.loads(sheet_json(_at_level(sheet, level)))["problems"]:
            check_json_lines(problem, random.Random(problem["number"]))


def test_the_independent_checker_catches_a_wrong_form():
    """The checker above can fail: one wrong form in a line is caught."""
    problem = json.loads(sheet_json(build_sheet(SheetOptions(count=1, seed=7, topics=("chain",)))))["problems"][0]
    check_json_lines(problem, random.Random(1))
    lines = problem["lines"]
    lines[-1]["forms"][-1] = "2*" + lines[-1]["forms"][-1]
    with pytest.raises(AssertionError):
        check_json_lines(problem, random.Random(1))


# ---------------------------------------------------------------------------
# The worked key's shape
# ---------------------------------------------------------------------------

def _core_rule(tree) -> str:
    while tree.rule in ("simplify", "constant_multiple"):
        tree = tree.substeps[0]
    return tree.rule


MIXED = [SheetOptions(count=20, seed=s) for s in (1, 7, 12)] + [
    SheetOptions(count=0, seed=4, sections=ML_SECTIONS), SheetOptions(count=12, seed=2, topics=("chain",))]


@pytest.fixture(scope="module")
def mixed_sheets():
    return list(_sheets(MIXED))


def test_a_chain_rule_problem_opens_with_the_chain_rule_naming_outer_and_inner(mixed_sheets):
    chains = 0
    for sheet in mixed_sheets:
        for problem in sheet.problems:
            # (A worked computation, backprop or matrix-calculus, tells its rows, not a tree.)
            if _core_rule(problem.derivation) != "chain" or problem.exercise.components or problem.exercise.worked:
                continue
            chains += 1
            first = problem.key("worked").lines[0]
            assert first.rule == "chain", (problem.number, problem.exercise.expr)
            roles = [part.role for part in first.parts]
            assert "outer" in roles and "inner" in roles, (problem.number, problem.exercise.expr)
            doc = json.loads(sheet_json(sheet))["problems"][problem.number - 1]
            first_json = doc["lines"][0] if isinstance(doc["lines"][0], dict) else doc["lines"][0][0]
            assert first_json["text"].startswith("Chain rule, outer ") and ", inner " in first_json["text"]
    assert chains >= 10


def _used(line: Line) -> set:
    """The helper-like symbols a line shows: in its forms, parts and left side."""
    exprs = list(line.forms) + [p.expr for p in line.parts] + [p.of for p in line.parts if p.of is not None]
    if line.notation != "bracket" and line.name is not None:
        exprs.append(line.name)
    exprs += [line.of] if line.notation == "bracket" and line.of is not None else []
    return set().union(*(e.free_symbols for e in exprs if isinstance(e, sp.Basic)))


def _defined(line: Line) -> set:
    return {p.name for p in line.parts if p.role in ("inner", "name", "path", "define") and p.name is not None}


def _general_helpers(line: Line) -> set:
    """y^_j = sigma(z_j) defined in general defines y^_1, y^_2, ... (their names' stem)."""
    return {p.name.base.label.name for p in line.parts if p.role == "name" and isinstance(p.name, sp.Indexed)}


@pytest.mark.parametrize("level", ["worked", "full"])
def test_no_helper_variable_appears_before_the_line_that_defines_it(mixed_sheets, level):
    seen = 0
    for sheet in mixed_sheets:
        for problem in sheet.problems:
            key = problem.key(level)
            helpers = {symbol for symbol, _ in key.helpers}
            defined, stems = set(), set()
            for line in key.lines:
                defined |= _defined(line)
                stems |= _general_helpers(line)
                for used in _used(line) & helpers:
                    seen += 1
                    assert used in defined or used.name.rstrip("0123456789") in stems, (
                        problem.number, level, used, problem.exercise.expr)
    assert seen >= 20


def test_no_letter_names_two_different_functions(mixed_sheets):
    for sheet in mixed_sheets:
        for problem in sheet.problems:
            for level in ("worked", "full"):
                names = [symbol for symbol, _ in problem.key(level).helpers]
                assert len(names) == len(set(names)), (problem.number, level, names)


def test_the_worked_key_is_two_to_five_lines_for_most_problems(mixed_sheets):
    """A tutor's key: few lines; the full key says more. (A worked
    computation, backprop or matrix-calculus, has a row per value its
    network or form has: its length is the problem's size, not measured here.)"""
    sizes = [len(p.key("worked").lines) for sheet in mixed_sheets for p in sheet.problems if not p.exercise.worked]
    assert sum(1 for n in sizes if n <= 5) >= 0.9 * len(sizes)
    for sheet in mixed_sheets:
        for problem in sheet.problems:
            assert len(problem.key("full").lines) >= len(problem.key("worked").lines) or problem.exercise.components


def test_trivial_steps_are_folded_into_the_line_that_needs_them():
    from exgen.sheet import _core_rule

    seen_outer_sum = False
    for seed in (2, 3, 4):
        sheet = build_sheet(SheetOptions(count=6, seed=seed, topics=("sigmoid", "chain")))
        for problem in sheet.problems:
            rules = [line.rule for line in problem.key("worked").lines]
            # A sum as the outermost rule frames its parts (x^5 sigma(x^2) + x^4: the sum, the
            # product's line, the sum put together); inside, a sum or a power is never a line.
            outer = _core_rule(problem.derivation)
            seen_outer_sum |= outer == "sum" and len(rules) > 1
            for folded in ("constant", "identity", "linear", "sum", "difference", "power"):
                assert folded not in rules or len(rules) == 1 or folded == outer, (problem.exercise.expr, rules)
    assert seen_outer_sum, "no outermost sum on these sheets any more: pick seeds with one"


def test_logistic_regression_is_the_cheat_sheets_chain_with_the_cancellation_shown():
    sheet = build_sheet(SheetOptions(count=3, seed=1, topics=("logistic-regression",)))
    for problem in sheet.problems:
        lines = problem.key("worked").lines
        assert [line.rule for line in lines][:4] == ["chain", "difference", "sigmoid", lines[3].rule]
        yhat = sp.Symbol("yhat", real=True)
        below = sp.Mul.make_args(sp.fraction(lines[1].forms[-1])[1])
        assert yhat in below and 1 - yhat in below, "dL/dy^ in the cheat-sheet's form (y^ - y)/(y^(1 - y^))"
        last = lines[-1]
        assert len(last.forms) >= 3, "the product, the cancelled form, the answer"


def test_the_cross_entropy_gradient_is_derived_once_in_general():
    sheet = build_sheet(SheetOptions(count=1, seed=7, difficulty="hard", topics=("cross-entropy",)))
    (problem,) = sheet.problems
    lines = problem.key("worked").lines
    assert len(lines) == 2, "the general result, then the gradient at the point"
    general, gradient = lines
    assert len(general.instances) == 4 and general.forms, "one general line, checked for each z_i"
    assert gradient.final and len(gradient.instances) == 4
    assert all(isinstance(form, sp.Tuple) for form in gradient.forms)


def test_a_value_at_a_point_is_boxed_once():
    sheet = build_sheet(SheetOptions(count=6, seed=9, at_point=True, topics=("chain", "product")))
    from exgen.render import render_documents

    guidebook = render_documents(sheet)["guidebook.tex"]
    for block in guidebook.split(r"\problemhead{")[1:]:
        assert block.count(r"\boxed{") == 1
        assert "Evaluate" not in block


# ---------------------------------------------------------------------------
# Levels change no problem; a failing key is never printed
# ---------------------------------------------------------------------------

def test_the_key_level_changes_no_problem_and_not_the_sheet_code():
    sheets = [build_sheet(SheetOptions(count=8, seed=21, key_level=level)) for level in POLICIES]
    assert len({s.options.code for s in sheets}) == 1
    docs = [json.loads(sheet_json(s)) for s in sheets]
    for doc in docs[1:]:
        assert [p["check"] for p in doc["problems"]] == [p["check"] for p in docs[0]["problems"]]
        assert [p["steps"] for p in doc["problems"]] == [p["steps"] for p in docs[0]["problems"]]
    assert len({json.dumps([p["lines"] for p in d["problems"]]) for d in docs}) == 3


def test_a_key_line_that_fails_its_check_is_never_printed(monkeypatch):
    """A narration bug (here: a line's last form doubled) stops the build
    loudly and `exgen solve` refuses to print."""
    import exgen.narrate as narrate_module

    real = narrate_module._each_derivative

    def wrong(subject, t):
        lines = real(subject, t)
        last = lines[-1]
        return lines[:-1] + [dataclasses.replace(last, forms=last.forms[:-1] + (2 * last.forms[-1],))]

    monkeypatch.setattr(narrate_module, "_each_derivative", wrong)
    sheet = build_sheet(SheetOptions(count=1, seed=3, topics=("chain",)))
    with pytest.raises(KeyFailedCheck):
        sheet_json(sheet)
    assert_user_error(run_main("solve", "sin(x**2)"), "could not confirm")


def test_verify_checks_the_derivatives_a_phrase_states():
    """u' = 2x folded into a phrase is checked like a line: a wrong one fails."""
    from exgen.check import sample_points
    from exgen.compose import Domain
    from exgen.steps import solve

    subject = Subject((solve(sp.sin(X**2 + 1), X),), (X,))
    key = narrate(subject, "worked")
    points = sample_points(Domain(), (X,), random.Random(0))
    assert verify(key, subject, points).ok
    (line,) = key.lines
    parts = tuple(dataclasses.replace(p, expr=3 * X) if p.role == "derivative" else p for p in line.parts)
    broken = dataclasses.replace(key, lines=(dataclasses.replace(line, parts=parts),))
    assert not verify(broken, subject, points).ok


def test_checked_key_refuses_an_unknown_level():
    with pytest.raises(ValueError):
        checked_key(Subject((), ()), "brief", [])


# ---------------------------------------------------------------------------
# The command line and configs
# ---------------------------------------------------------------------------

def test_make_key_option_and_config_key(tmp_path):
    out = tmp_path / "full"
    assert run_cli("make", "--count", "3", "--seed", "2", "--key", "full", "--no-pdf", "--out", out).exit_code == 0
    doc = json.loads((out / "sheet.json").read_text())
    assert {p["key"] for p in doc["problems"]} == {"full"}
    assert "Solutions, rule by rule" in (out / "guidebook.tex").read_text()
    config = tmp_path / "week.toml"
    config.write_text('title = "Week"\nkey = "answers"\n\n[[sections]]\ncount = 2\n')
    out = tmp_path / "answers"
    assert run_cli("make", "--config", config, "--no-pdf", "--out", out).exit_code == 0
    assert r"\section*{Answers}" in (out / "guidebook.tex").read_text()
    assert json.loads((out / "manifest.json").read_text())["options"]["key_level"] == "answers"


def test_a_wrong_key_level_is_one_clear_line(tmp_path):
    assert_user_error(run_main("make", "--key", "brief", "--no-pdf", "--out", tmp_path / "x"), "--key", "worked")
    config = tmp_path / "week.toml"
    config.write_text('title = "Week"\nkey = "workd"\n')
    line = assert_user_error(run_main("make", "--config", config, "--no-pdf", "--out", tmp_path / "y"))
    assert "week.toml:2" in line and "did you mean 'worked'?" in line


def test_the_example_config_states_the_key_level(tmp_path):
    from exgen.config import load_config

    assert run_cli("init", tmp_path / "example.toml").exit_code == 0
    assert load_config(tmp_path / "example.toml")["key_level"] == "worked"


# ---------------------------------------------------------------------------
# Layout: every level compiles, nothing shrunk, the page targets
# ---------------------------------------------------------------------------

SHRINKING = re.compile(r"\\(resizebox|scalebox|tiny|scriptsize|footnotesize)\b")


def _pages(pdf) -> list[str]:
    from helpers import pdf_text

    return [page for page in pdf_text(pdf).split("\f") if page.strip()]


@pytest.mark.tex
@pytest.mark.parametrize("level", POLICIES)
def test_every_level_compiles_for_sheets_versions_and_rosters_and_nothing_is_shrunk(tmp_path, level):
    sheet, versions, roster = tmp_path / "sheet", tmp_path / "versions", tmp_path / "roster"
    assert run_cli("make", "--count", "8", "--seed", "4", "--key", level, "--out", sheet).exit_code == 0
    assert run_cli("make", "--count", "5", "--seed", "6", "--versions", "2", "--key", level,
                   "--out", versions).exit_code == 0
    csv = tmp_path / "class.csv"
    csv.write_text("id,name\ns1,Ada\ns2,Alan\n")
    assert run_cli("make", "--count", "4", "--seed", "8", "--roster", csv, "--key", level,
                   "--out", roster).exit_code == 0
    keys = [sheet / "guidebook.pdf", versions / "answer-key.pdf", versions / "guidebook-B.pdf",
            roster / "s1-guidebook.pdf", roster / "s2-guidebook.pdf"]
    for pdf in keys:
        assert pdf.read_bytes().startswith(b"%PDF-"), pdf
        assert not SHRINKING.search(pdf.with_suffix(".tex").read_text()), pdf
    text = " ".join(_pages(versions / "answer-key.pdf"))
    assert "Version A" in text and "Version B" in text
    if level == "answers":
        assert "Answer" in text and "rule" not in text.lower().replace("rule application", "")


@pytest.mark.tex
def test_the_seed_7_guidebook_fits_eight_pages(tmp_path):
    out = tmp_path / "seed-7"
    assert run_cli("make", "--count", "20", "--seed", "7", "--out", out).exit_code == 0
    assert len(_pages(out / "guidebook.pdf")) <= 8
    assert not SHRINKING.search((out / "guidebook.tex").read_text())


@pytest.mark.tex
def test_a_hard_ml_sheet_fits_eight_pages_and_the_cross_entropy_gradient_one(tmp_path):
    out = tmp_path / "ml"
    assert run_cli("make", "--topics", "ml", "--difficulty", "hard", "--count", "10", "--seed", "7",
                   "--out", out).exit_code == 0
    assert len(_pages(out / "guidebook.pdf")) <= 8
    # The 4-class cross-entropy gradient alone, without the rules table: one page.
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "guidebook.tex.j2").write_text('((* include "preamble.tex.j2" *))\n\\begin{document}\n'
                                                '((* include "solutions.tex.j2" *))\n\\end{document}\n')
    gradient = tmp_path / "ce"
    assert run_cli("make", "--topics", "cross-entropy", "--difficulty", "hard", "--count", "1", "--seed", "7",
                   "--template-dir", templates, "--out", gradient).exit_code == 0
    (page,) = _pages(gradient / "guidebook.pdf")
    assert "Problem 1" in page and "Multivariable chain rule" in page


@pytest.mark.tex
@pytest.mark.slow
def test_twenty_seeds_average_at_most_four_tenths_of_a_page_per_problem(tmp_path):
    pages = problems = 0
    for seed in range(20):
        out = tmp_path / f"s{seed}"
        assert run_cli("make", "--count", "20", "--seed", seed, "--out", out).exit_code == 0
        pages += len(_pages(out / "guidebook.pdf"))
        problems += 20
    assert pages / problems <= 0.4


@pytest.mark.tex
@pytest.mark.parametrize("level", ["worked", "full"])
def test_no_line_of_any_topic_runs_into_the_margin(tmp_path, tex, level):
    """Long forms break at + and - (else between factors) instead of being
    shrunk; nothing runs past the text block."""
    from exgen.compile import compile_one
    from exgen.render import render_documents

    every = tuple(Section(f"{name} {lvl}", 1, lvl, (name,)) for name in sorted(TOPICS) for lvl in TOPICS[name].levels)
    sheet = build_sheet(SheetOptions(count=0, seed=13, sections=every, key_level=level))
    path = tmp_path / "guidebook.tex"
    path.write_text(render_documents(sheet)["guidebook.tex"])
    compile_one(tex, path, preload=False)
    log = path.with_suffix(".log").read_text(errors="replace")
    overfull = [float(m) for m in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert all(width < 3 for width in overfull), overfull
    assert not SHRINKING.search(path.read_text())
