"""Second and third derivatives, the Hessian, and the topics of issue 13.

`exgen solve --order n`, the oracle's check of a higher derivative against
the function itself, the sheet.json contract's `order`, and 20-problem
sheets of every new topic at every level, each answer compared with
sympy.diff (and with the reference checker where it is present).
"""

import json
import random

import pytest
import sympy as sp

from exgen.check import higher_derivative_agrees, sample_points
from exgen.compose import Domain
from exgen.registry import to_elementary
from exgen.render import sheet_json
from exgen.sheet import SheetOptions, build_sheet
from exgen.topics import TOPICS

from helpers import X, Y, check_targets, compare, diff_by, domain_points, is_real_at, kinks, parse_plain, run_main

NEW_TOPICS = ("second-derivative", "activation-second-derivative", "hessian", "inverse-trig", "activations")


@pytest.mark.parametrize("text, order", [
    ("sin(x**2)", 2), ("x**3*exp(2*x)", 2), ("ln(x**2 + 1)", 3), ("sigmoid(3*x + 1)", 2), ("tanh(2*x)", 3),
    ("atan(x**2)", 2), ("x**4 - 3*x**2", 3), ("sqrt(2*x + 5)", 2),
])
def test_solve_order_n_equals_sympy_diff(text, order):
    run = run_main("solve", text, "--order", str(order), "--format", "json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["order"] == order
    expr, answer = parse_plain(data["expr"], data["variables"]), parse_plain(data["answer"], data["variables"])
    reference = sp.diff(to_elementary(expr), X, order)
    points = [{X: sp.Rational(k, 7)} for k in (1, 3, 5, 9, 12)]
    usable, bad = compare(answer, reference, points)
    assert usable >= 4 and not bad, bad
    # every stage is printed: the derivations of f', ... before the last one
    assert len(data["earlier_steps"]) == order - 1 and data["steps"]["rule"]
    assert data["earlier_steps"][0]["expr"] == data["expr"]


def test_solve_hessian():
    run = run_main("solve", "x**3*y + exp(x*y)", "--wrt", "x,y", "--order", "2", "--format", "json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    hessian = parse_plain(data["answer"], data["variables"])
    f = X**3 * Y + sp.exp(X * Y)
    for i, a in enumerate((X, Y)):
        for j, b in enumerate((X, Y)):
            usable, bad = compare(hessian[i, j], sp.diff(f, a, b), [{X: sp.Rational(k, 5), Y: sp.Rational(3 - k, 4)}
                                                                    for k in range(-2, 4)])
            assert usable >= 5 and not bad


@pytest.mark.parametrize("args, fragment", [
    (("x**2", "--order", "4"), "--order"),
    (("x**2", "--order", "two"), "--order"),
    (("x*y", "--wrt", "x,y", "--order", "3"), "Hessian"),
])
def test_solve_order_errors_are_one_line(args, fragment):
    from helpers import assert_user_error

    assert_user_error(run_main("solve", *args), fragment)


@pytest.mark.parametrize("expr, by", [
    (sp.sin(X**2), (X, X)), (X**3 * sp.exp(2 * X), (X, X, X)), (X**2 * Y**3 + sp.sin(X * Y), (X, Y)),
    (sp.log(X**2 + 1) * Y, (Y, X)),
])
def test_the_oracle_checks_a_higher_derivative_against_the_function(expr, by):
    points = sample_points(Domain(), sorted(expr.free_symbols | set(by), key=lambda s: s.name), random.Random(4))
    right = sp.diff(expr, *by)
    assert higher_derivative_agrees(expr, by, right, points).ok
    for damage in (right * (1 + sp.Rational(1, 10**7)), right + X / 1000, sp.diff(expr, *by[:-1])):
        assert not higher_derivative_agrees(expr, by, damage, points).ok


def _level_sheets():
    for name in NEW_TOPICS:
        for level in TOPICS[name].levels:
            yield name, level


@pytest.mark.slow
@pytest.mark.parametrize("name, level", list(_level_sheets()))
def test_a_sheet_of_each_new_topic_at_each_level(name, level, tmp_path, verify_sheet):
    sheet = build_sheet(SheetOptions(count=20, seed=13, difficulty=level, topics=(name,)))
    doc = json.loads(sheet_json(sheet))
    assert len(doc["problems"]) == 20
    rng = random.Random(name + level)
    for p in doc["problems"]:
        check = p["check"]
        if name in ("second-derivative", "activation-second-derivative", "hessian"):
            assert check["order"] == 2
        symbols = [sp.Symbol(n, real=True) for n in check["variables"]]
        for function, by, answer in check_targets(check):
            points = domain_points(p["domain"], symbols, rng, 4, avoid=kinks(function))
            assert all(is_real_at(function, symbols, point) for point in points), (p["number"], p["domain"])
            usable, bad = compare(answer, diff_by(function, by), points)
            assert usable == 4 and not bad, (name, level, p["number"], check["expr"], bad)
    path = tmp_path / "sheet.json"
    path.write_text(json.dumps(doc))
    import subprocess
    import sys

    checked = subprocess.run([sys.executable, str(verify_sheet), str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout[-1500:]


def test_topics_lists_the_new_topics():
    run = run_main("topics")
    for name in NEW_TOPICS:
        assert name in run.stdout
