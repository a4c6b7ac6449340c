"""Multiple choice from real mistakes (--choices): the mistakes live on the
rule objects, a wrong option is the problem's own derivation with one node
wrong, every option is named and checked, and the right letter is dealt
evenly. Judged from sheet.json with sympy.diff, apart from exgen's oracle."""

import json
import random
import re
from collections import Counter
from dataclasses import replace

import pytest
import sympy as sp

from exgen.choices import FALLBACKS, with_choices
from exgen.forms import MAX_ANSWER_LATEX
from exgen.mistakes import nodes, variants
from exgen.pipeline import render_all
from exgen.registry import RULES, CourseFunction, FunctionRule, Mistake
from exgen.sheet import SheetOptions, build_sheet
from exgen.steps import solve
from helpers import assert_user_error, compare, diff_by, domain_points, kinks, parse_plain, run_main

X = sp.Symbol("x", real=True)
CATALOGUE = {m.id for rule in RULES.values() for m in rule.mistakes} | {f.id for f in FALLBACKS}


class twice(CourseFunction):
    """twice(u) = 2u: a rule that exists only in this test file."""

    nargs = 1


def test_a_mistake_on_a_rule_defined_in_a_test_works_end_to_end():
    rule = FunctionRule(name="twice", title="Twice rule", head=twice, rate=lambda u: sp.Integer(2),
                        elementary=lambda u: 2 * u, names=(("twice", twice),),
                        mistakes=(Mistake("twice-once", "twice' taken as 1", lambda step: sp.Integer(1)),))
    with RULES.registered(rule):
        tree = solve(twice(X**3), X)
        found = {w.mistake.id: w.result for w in variants(tree)}
        assert "twice-once" in found
        # One node wrong, the chain above it recombined: 1 * 3x^2, not 2 * 3x^2.
        assert sp.simplify(found["twice-once"] - 3 * X**2) == 0
        assert sp.simplify(found["chain-no-inner"] - 2) == 0


def test_the_catalogue_of_the_teaching_notes_is_on_the_rules():
    expected = {"chain-no-inner", "chain-wrong-inner", "product-f'g'", "product-one-term", "quotient-plus",
                "quotient-no-square", "quotient-f-squared", "exp-power-rule", "exponent-not-lowered",
                "ln-reciprocal", "log-without-ln-k", "cos-sign", "negative-power-sign", "sigmoid-itself",
                "tanh-plus", "softmax-no-off-diagonal", "gradient-reversed", "linear-weight"}
    assert expected <= CATALOGUE
    for rule in RULES.values():
        for mistake in rule.mistakes:
            assert mistake.words and mistake.id


@pytest.mark.parametrize("expr, mistake, wrong", [
    (sp.sin(X**2), "chain-no-inner", sp.cos(X**2)),
    (sp.sin(X**2), "chain-wrong-inner", 2 * X * sp.cos(2 * X)),
    (X**2 * sp.sin(X), "product-f'g'", 2 * X * sp.cos(X)),
    (X**2 * sp.sin(X), "product-one-term", 2 * X * sp.sin(X)),
    (sp.exp(2 * X), "exp-power-rule", 2 * X * sp.exp(2 * X - 1)),
    (X**3, "exponent-not-lowered", 3 * X**3),
    (sp.log(X**2 + 1), "ln-reciprocal", 1 / (X**2 + 1)),
    (sp.cos(X), "cos-sign", sp.sin(X)),
    (1 / X, "negative-power-sign", 1 / X**2),
])
def test_the_teaching_notes_examples(expr, mistake, wrong):
    found = {w.mistake.id: w.result for w in variants(solve(expr, X))}
    assert sp.simplify(found[mistake] - wrong) == 0, found


@pytest.mark.parametrize("seed", range(6))
def test_combine_rebuilds_every_node_from_its_substeps(seed):
    """A rule's `combine` is its formula: the node's result from its substeps' results."""
    sheet = build_sheet(SheetOptions(count=12, seed=seed))
    for problem in sheet.problems:
        for tree in problem.trees:
            for _, node in nodes(tree):
                rule = RULES[node.rule]
                if not node.substeps or rule.combine is None:
                    continue
                combined = rule.combine(node, [s.result for s in node.substeps])
                symbols = sorted(combined.free_symbols | node.result.free_symbols, key=lambda s: s.name)
                points = domain_points(problem.exercise.domain.statement(problem.exercise.variables)
                                       if set(symbols) <= set(problem.exercise.variables) else "", symbols,
                                       random.Random(seed), 4)
                usable, bad = compare(combined, node.result, points)
                assert not bad, (node.rule, sp.sstr(node.expr), bad)


def _values(text, names):
    if isinstance(text, list):
        return [parse_plain(t, names) for t in text]
    expr = parse_plain(text, names)
    return list(expr) if isinstance(expr, sp.MatrixBase) else [expr]


def _sheets(seed: int, count: int = 8, choices: int = 4, **extra):
    options = SheetOptions(count=count, seed=seed, choices=choices, **extra)
    sheets, files = render_all(options)
    return [json.loads(data) for name, data in sorted(files.items()) if name.endswith(".json")]


@pytest.mark.slow
def test_over_30_seeds_every_option_is_named_checked_and_dealt_evenly():
    longest = shortest = total = 0
    for seed in range(30):
        for document in _sheets(seed, at_point=seed % 5 == 4):
            letters = Counter()
            for problem in document["problems"]:
                check, choices = problem["check"], problem["choices"]
                names = check["variables"]
                assert [c["label"] for c in choices] == list("abcd")
                right = [c for c in choices if c["correct"]]
                assert len(right) == 1, (seed, problem["number"])
                letters[right[0]["label"]] += 1
                assert right[0]["mistake"] is None
                for c in choices:
                    assert c["correct"] or c["mistake"] in CATALOGUE, (seed, c)
                # Every option differs from every other at points of the stated domain (sympy, not exgen).
                symbols = [sp.Symbol(n, real=True) for n in names]
                points = domain_points(problem["domain"], symbols, random.Random(seed), 12,
                                       avoid=kinks(parse_plain(check["expr"], names)))
                if "at" in check:
                    points = [{s: parse_plain(str(check["at"][s.name]), names) for s in symbols}]
                values = [_values(c["expr"], names) for c in choices]
                # The right option is the key's answer (written alike, or equal at every point: a
                # worked problem's option is its exact value, the contract's answer another form of it).
                if right[0]["expr"] != check["answer"]:
                    answer = _values(check["answer"], names)
                    mine = values[[c["correct"] for c in choices].index(True)]
                    assert len(answer) == len(mine) and not any(
                        compare(p, q, points)[1] for p, q in zip(mine, answer)), (seed, problem["number"])
                for i, a in enumerate(values):
                    for b in values[i + 1:]:
                        apart = any(compare(p, q, points)[1] for p, q in zip(a, b))
                        assert apart, (seed, problem["number"], a, b)
                lengths = [len(re.sub(r"\\left|\\right|[\s{}]", "", c["latex"])) for c in choices]
                mine = lengths[[c["correct"] for c in choices].index(True)]
                longest += mine == max(lengths) and lengths.count(mine) == 1
                shortest += mine == min(lengths) and lengths.count(mine) == 1
                total += 1
            # Dealt: as many a's as b's, ... (within one).
            assert max(letters.values()) - min(letters[c] for c in "abcd") <= 1, (seed, letters)
    # The right answer is neither systematically the longest nor the shortest.
    assert longest < total / 2 and shortest < total / 2, (longest, shortest, total)


def test_the_right_choice_is_the_derivative():
    for document in _sheets(7, count=10):
        for problem in document["problems"]:
            check = problem["check"]
            # No option longer than an answer may be: it would run off the page (seed 7's first one did).
            right = next(c for c in problem["choices"] if c["correct"])
            longest = max(MAX_ANSWER_LATEX, 1.3 * len(right["latex"]))
            assert all(len(c["latex"]) <= longest for c in problem["choices"]), problem["choices"]
            right = next(c for c in problem["choices"] if c["correct"])
            for (function, w, claimed), expr in zip(_targets(check), _values(right["expr"], check["variables"])):
                derivative = diff_by(function, w)
                if "at" in check:  # the option is the value at the point (a network's given weights)
                    derivative = derivative.xreplace({s: sp.Rational(str(check["at"][s.name]))
                                                      for s in derivative.free_symbols if s.name in check["at"]})
                # Numerically first: simplify on a network's loss (issue 18) runs out of stack.
                assert not compare(expr, derivative, domain_points(
                    problem["domain"], sorted(expr.free_symbols | derivative.free_symbols, key=str),
                    random.Random(1), 5))[1] or \
                    sp.simplify(derivative.rewrite(sp.exp) - expr.rewrite(sp.exp)) == 0


def _targets(check):
    from helpers import check_targets

    return check_targets(check)


def test_choices_are_reproducible_and_leave_the_drawing_alone():
    plain = build_sheet(SheetOptions(count=6, seed=3))
    chosen = build_sheet(SheetOptions(count=6, seed=3, choices=3))
    assert [p.identity for p in plain.problems] == [p.identity for p in chosen.problems]
    once, twice_ = with_choices(plain, 5), with_choices(plain, 5)
    assert once == twice_


def test_choices_errors_are_one_line():
    assert_user_error(run_main("make", "--choices", "7", "--no-pdf", "--out", "/tmp/never"), "--choices", "2", "6")
    assert_user_error(run_main("make", "--choices", "x", "--no-pdf", "--out", "/tmp/never"), "--choices")


@pytest.mark.parametrize("answer", [0, 1, -1, 2, -2, sp.Rational(1, 2), 3, X, X**2 - 1])
def test_the_fallbacks_alone_always_give_five_different_wrong_options(answer):
    # A derivative that is 0 (ReLU at a negative point) is the hard case: every
    # scaling fallback gives 0 again. `--choices 6` needs five wrong options.
    wrong = {sp.simplify(f.make(answer)) for f in FALLBACKS} - {sp.simplify(answer)}
    assert len(wrong) >= 5, wrong


@pytest.mark.parametrize("seed", range(4))
def test_six_choices_on_relu_at_a_point(seed):
    sheet = build_sheet(SheetOptions(count=4, seed=seed, topics=("relu",), difficulty="easy", at_point=True))
    for problem in with_choices(sheet, 6).problems:
        values = [sp.N(c.answers[0]) for c in problem.choices]
        assert len(set(values)) == 6, (seed, problem.number, values)
        assert sum(c.correct for c in problem.choices) == 1
