"""Exports (--export moodle,canvas, --variants): both files parsed as a
platform's importer reads them, and every STACK answer and mistake read by
a real Maxima (Debian's `maxima`; a failure in CI, a skip elsewhere)."""

import io
import math
import random
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import sympy as sp

from exgen.export import build
from exgen.export.maxima import maxima
from exgen.export.moodle import stack_variables
from exgen.pipeline import render_all
from exgen.registry import to_elementary
from exgen.sheet import SheetOptions
from helpers import assert_user_error, domain_points, run_cli, run_main, require_tool

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"


def _files(**options) -> dict[str, bytes]:
    options.setdefault("exports", ("moodle", "canvas"))
    return render_all(SheetOptions(**options))[1]


def _questions(moodle: bytes):
    quiz = ET.fromstring(moodle)
    assert quiz.tag == "quiz"
    return quiz.findall("question")


def _categories(moodle: bytes) -> list[tuple[str, list]]:
    """(category path, its questions) in file order."""
    out = []
    for question in _questions(moodle):
        if question.get("type") == "category":
            out.append((question.findtext("category/text"), []))
        else:
            out[-1][1].append(question)
    return out


def assert_stack_question(question) -> None:
    name = question.findtext("name/text")
    assert name, "a question without a name"
    text = question.findtext("questiontext/text")
    feedback = question.findtext("specificfeedback/text")
    assert text.count("[[input:ans1]]") == 1 and text.count("[[validation:ans1]]") == 1, name
    assert (text + feedback).count("[[feedback:prt1]]") == 1, name
    assert "rand(" not in ET.tostring(question, encoding="unicode"), name
    assert question.findtext("input/name") == "ans1" and question.findtext("input/type") == "algebraic"
    assert question.findtext("prt/name") == "prt1"
    nodes = question.findall("prt/node")
    assert nodes and nodes[0].findtext("answertest") in ("AlgEquiv", "Diff") and nodes[0].findtext("tans") == "ta"
    assert nodes[0].findtext("truescore") == "1"
    for node in nodes:
        assert node.findtext("name") is not None
        assert node.find("falsescore") is not None and float(node.findtext("falsescore")) == 0, name
    for node in nodes[1:]:
        assert float(node.findtext("truescore")) == 0 and node.findtext("truefeedback/text"), name
    variables = question.findtext("questionvariables/text")
    assert re.search(r"^ta: ", variables, re.M)
    tests = question.findall("qtest")
    assert len(tests) == len(nodes)
    assert tests[0].findtext("testinput/value") == "ta" and float(tests[0].findtext("expected/expectedscore")) == 1
    for test, node in zip(tests[1:], nodes[1:]):
        assert float(test.findtext("expected/expectedscore")) == 0
        assert test.findtext("expected/expectedanswernote") == node.findtext("trueanswernote")


def assert_multichoice(question) -> None:
    assert question.findtext("single") == "true" and question.findtext("shuffleanswers") == "true"
    fractions = [a.get("fraction") for a in question.findall("answer")]
    assert fractions.count("100") == 1 and len(fractions) >= 2
    for answer in question.findall("answer"):
        assert answer.findtext("text").startswith(r"\(")


def _zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def assert_qti(data: bytes, slots: int, variants: int, versions: int = 1) -> None:
    entries = _zip(data)
    manifest = ET.fromstring(entries["imsmanifest.xml"])
    files = [f.get("href") for f in manifest.iter("{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}file")]
    assert len(files) == versions
    for href in files:
        assert href in entries, href
        root = ET.fromstring(entries[href])
        assessment = root.find(f"{QTI}assessment")
        groups = assessment.findall(f"{QTI}section/{QTI}section")
        assert len(groups) == slots
        for group in groups:
            assert group.findtext(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number") == "1"
            items = group.findall(f"{QTI}item")
            assert len(items) == variants
            for item in items:
                kind = [f.findtext(f"{QTI}fieldentry") for f in item.iter(f"{QTI}qtimetadatafield")
                        if f.findtext(f"{QTI}fieldlabel") == "question_type"][0]
                assert kind in ("multiple_choice_question", "numerical_question")
                scoring = [c for c in item.iter(f"{QTI}respcondition") if c.find(f"{QTI}setvar") is not None]
                assert len(scoring) == 1
                if kind == "multiple_choice_question":
                    labels = [label.get("ident") for label in item.iter(f"{QTI}response_label")]
                    right = [v.text for v in scoring[0].iter(f"{QTI}varequal")]
                    assert len(right) == 1 and right[0] in labels and len(labels) >= 2


def test_moodle_and_canvas_files_parse_as_their_importers_read_them():
    files = _files(count=10, seed=7, choices=4)
    categories = _categories(files["moodle.xml"])
    assert [c for c, _ in categories] == [f"$course$/top/exgen {SheetOptions(count=10, seed=7, choices=4).code}/{k}"
                                          for k in ("STACK", "Multiple choice")]
    stack, multichoice = categories[0][1], categories[1][1]
    assert len(multichoice) == 10
    assert sum(q.get("type") == "stack" for q in stack) >= 5
    for question in stack:
        if question.get("type") == "stack":
            assert_stack_question(question)
        else:
            assert question.get("type") == "numerical"
            assert float(question.findtext("answer/tolerance")) > 0
    for question in multichoice:
        assert_multichoice(question)
    assert_qti(files["canvas-qti.zip"], slots=10, variants=1)


def test_variants_fill_each_slot_and_versions_get_a_category_each():
    files = _files(count=3, seed=5, versions=2, variants=3, topics=("chain", "product", "sigmoid"))
    categories = _categories(files["moodle.xml"])
    paths = [c for c, _ in categories]
    assert len(paths) == 2 * 2 * 3  # two kinds, two versions, three slots
    assert any(p.endswith("STACK/Version B/Problem 03") for p in paths)
    for path, questions in categories:
        if "Multiple choice" in path:
            assert len(questions) == 3, path
    assert_qti(files["canvas-qti.zip"], slots=3, variants=3, versions=2)
    # The printed sheets are variant 1 of each version.
    assert {"exercises-A.tex", "exercises-B.tex"} <= set(files) and "exercises-C.tex" not in files


def test_exports_are_reproducible_byte_for_byte():
    a = _files(count=4, seed=2, at_point=True)
    b = _files(count=4, seed=2, at_point=True)
    assert a["moodle.xml"] == b["moodle.xml"] and a["canvas-qti.zip"] == b["canvas-qti.zip"]
    with zipfile.ZipFile(io.BytesIO(a["canvas-qti.zip"])) as archive:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
        assert archive.namelist()[0] == "imsmanifest.xml"


def test_at_point_problems_are_numerical_questions():
    files = _files(count=4, seed=2, at_point=True, topics=("chain", "product"))
    questions = [q for q in _questions(files["moodle.xml"]) if q.get("type") == "numerical"]
    assert len(questions) == 4
    entries = _zip(files["canvas-qti.zip"])
    assessment = next(v for k, v in entries.items() if k != "imsmanifest.xml")
    assert assessment.count(b"numerical_question") == 4


def test_export_errors_are_one_line():
    out = "/tmp/exgen-never-written"
    assert_user_error(run_main("make", "--export", "blackboard", "--no-pdf", "--out", out), "blackboard", "moodle")
    assert_user_error(run_main("make", "--variants", "3", "--no-pdf", "--out", out), "--variants", "--export")
    assert_user_error(run_main("make", "--variants", "9", "--versions", "4", "--export", "moodle", "--no-pdf",
                               "--out", out), "26")
    assert not Path(out).exists()


# -- Maxima --------------------------------------------------------------------

def _maxima() -> str:
    return require_tool("maxima", "apt-get install maxima (scripts/install.sh installs it)")


def _run_maxima(script: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "check.mac"
        path.write_text(script)
        done = subprocess.run([_maxima(), "--very-quiet", "--batch-lisp=/dev/null", "-b", str(path)],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return done.stdout + done.stderr


def _maxima_checks(problems):
    """A Maxima script that reads f, the answer and every mistake of each
    problem and prints, per expression, whether ratsimp(diff(f, v) - e) is 0
    and its value at three points of the domain."""
    lines = ["display2d: false$", "ratprint: false$"]
    expected = []
    for n, problem in enumerate(problems):
        variable, f, ta, wrong = stack_variables(problem)
        ex = problem.exercise
        points = domain_points(ex.domain.statement(ex.variables), list(ex.variables), random.Random(n), 3)
        for k, (label, expr) in enumerate([("answer", ta)] + [(m, e) for m, _, e in wrong]):
            key = f"{n}:{k}"
            expected.append((key, label, problem))
            subs = ["[%s]" % ", ".join(f"{s.name} = {maxima(v)}" for s, v in point.items()) for point in points]
            lines.append(f"r: diff({f}, {variable}, {ex.order})$")
            lines.append(f"d: ratsimp(r - ({expr}))$")
            # Big floats: a derivative such as tanh'(2 e^x ln x) is 1e-500 at
            # x = 5, 0.0 as a double, and so is a mistake's difference there.
            lines.append('print("R", "%s", if d = 0 then 1 else 0, %s, %s)$' % (
                key, ", ".join(f"errcatch(bfloat(subst({s}, d)))" for s in subs),
                ", ".join(f"errcatch(bfloat(subst({s}, r)))" for s in subs)))
    return "\n".join(["fpprec: 40$", "linel: 100000$"] + lines) + "\n", expected


def _big_float(text: str):
    """A Maxima big float (1.5b-3) as a Python float scaled to stay finite:
    (mantissa, exponent) so that tiny values still compare; None if not real."""
    m = re.fullmatch(r"\s*(-?[0-9.]+)b(-?[0-9]+)\s*", text)
    return (float(m.group(1)), int(m.group(2))) if m else None


def _relative(d, r) -> float:
    """|d| / max(|r|, 1e-300 scale), from big-float (mantissa, exponent) pairs."""
    if d[0] == 0:
        return 0.0
    if r[0] == 0:
        return math.inf
    return abs(d[0] / r[0]) * 10.0 ** max(-300, min(300, d[1] - r[1]))


@pytest.mark.slow
def test_maxima_reads_every_answer_and_mistake_and_agrees_with_exgen():
    """ratsimp(diff(f, v, n) - answer) is 0 (or 0 at every point where Maxima
    cannot simplify it) and, for each mistake, not 0."""
    _maxima()
    problems = []
    for seed in range(12):
        _, bank = build(SheetOptions(count=8, seed=seed, choices=4, exports=("moodle",)))
        problems += [p for variants in bank.versions for sheet in variants for p in sheet.problems
                     if stack_variables(p) is not None]
    assert len(problems) >= 50
    script, expected = _maxima_checks(problems)
    output = _run_maxima(script)
    results = {}
    for line in output.splitlines():
        parts = line.split(None, 3)
        if parts[:1] == ["R"]:
            results[parts[1]] = (parts[2], re.findall(r"\[([^\]]*)\]", parts[3]) if len(parts) > 3 else [])
    for key, label, problem in expected:
        assert key in results, f"Maxima did not read {label} of {problem.exercise.expr}:\n{output[-2000:]}"
        zero, values = results[key]
        half = len(values) // 2
        # (difference, derivative) at each point where Maxima has real values for both
        pairs = [(_big_float(d), _big_float(r)) for d, r in zip(values[:half], values[half:])]
        real = [(d, r) for d, r in pairs if d is not None and r is not None]
        if label == "answer":
            assert zero == "1" or (real and all(_relative(d, r) < 1e-7 or abs(d[0]) * 10.0 ** min(d[1], 300) < 1e-7
                                                for d, r in real)), (problem.exercise.expr, values)
        else:
            # Not 0 for Maxima; where it has real values, not 0 there either,
            # relative to the derivative (a mistake may leave the domain:
            # sqrt(2x) at x < 0).
            assert zero == "0" and (len(real) < half or any(_relative(d, r) > 1e-9 for d, r in real)), \
                (label, problem.exercise.expr, values)


def test_the_maxima_printer():
    from exgen.rules.activations import sigmoid
    from exgen.rules.logarithms import log_base

    x = sp.Symbol("x", real=True)
    assert maxima(sp.log(x)) == "log(x)"
    assert maxima(sp.exp(2 * x)) == "exp(2*x)"
    assert maxima(sp.E) == "%e"
    assert maxima(x**3) == "(x)^(3)"
    assert maxima(log_base(x, 3)) == "log(x)/log(3)"
    assert maxima(sigmoid(x)) == "1/(1 + exp(-x))"


@pytest.mark.slow
def test_the_demo_command_writes_everything(tmp_path, pdftotext):
    from helpers import pdf_text

    run = run_cli("make", "--count", "10", "--seed", "7", "--choices", "4", "--export", "moodle,canvas",
                  "--out", str(tmp_path))
    assert run.exit_code == 0, run.output
    for name in ("exercises.pdf", "guidebook.pdf", "moodle.xml", "canvas-qti.zip", "sheet.json"):
        assert (tmp_path / name).is_file(), name
    assert "(a)" in pdf_text(tmp_path / "exercises.pdf") and "(d)" in pdf_text(tmp_path / "exercises.pdf")
    key = pdf_text(tmp_path / "guidebook.pdf")
    assert key.count("Answer: (") == 10
