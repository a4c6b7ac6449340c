"""The rule registry: every function is one object, and what it owns is right.

The extension test defines a rule (softsign) only here and shows that the
engine derives it, the oracle checks it, `exgen solve` reads it, the composer
draws it into a problem, and the key's rule table prints its row, with no
other file changed. The property tests check every registered function rule
against sympy.diff of its elementary form (an independent reference) and its
numeric evaluators against SymPy's own evaluation of that form.
"""

import json
import random

import mpmath
import pytest
import sympy as sp

from exgen import compose
from exgen.check import check_tree, sample_points
from exgen.compose import choose_domain
from exgen.errors import UnsupportedExpression
from exgen.forms import plain, tex
from exgen.numeric import FLOAT, MPMATH, compiled
from exgen.registry import RULES, CourseFunction, Draw, FunctionRule, Numeric, Rule, to_elementary
from exgen.render import render_documents
from exgen.sheet import SheetOptions, build_sheet
from exgen.steps import derive, solve

from helpers import X, assert_tree_independently, parse_plain, run_main


class softsign(CourseFunction):
    """softsign(u) = u / (1 + |u|)."""

    nargs = 1


SOFTSIGN = FunctionRule(
    name="softsign", title="Softsign rule", function=r"\operatorname{softsign}(x) = \frac{x}{1 + |x|}",
    derivative=r"\frac{1}{\left(1 + |x|\right)^{2}}",
    head=softsign, rate=lambda u: 1 / (1 + sp.Abs(u)) ** 2, elementary=lambda u: u / (1 + sp.Abs(u)),
    numeric=Numeric(lambda u: u / (1 + abs(u)), lambda u: u / (1 + abs(u))),
    names=(("softsign", softsign),),
    latex=lambda printer, e, exp=None: r"\operatorname{softsign}\left(%s\right)" % printer._print(e.args[0]),
    # Drawn as the chain topic's outer function almost always, so a small sheet shows it.
    draw=Draw(build=lambda rng, u: softsign(u), weight=200, leaf=False))


@pytest.fixture
def with_softsign():
    with RULES.registered(SOFTSIGN):
        yield


def test_a_rule_defined_in_a_test_works_end_to_end(with_softsign):
    # the engine derives it, through the chain rule too
    tree = solve(softsign(X**2 + 1), X)
    assert any(node.rule == "softsign" for node in tree.walk())
    assert_tree_independently(tree, [{X: sp.Rational(v, 7)} for v in (-9, -4, 3, 5, 11)])
    # the oracle checks it (and rejects a wrong claim)
    points = sample_points(choose_domain(tree.expr, (X,)), (X,), random.Random(1))
    assert check_tree(tree, points).ok
    wrong = derive(softsign(3 * X), X)
    from dataclasses import replace
    assert not check_tree(replace(wrong, result=wrong.result * 2), points).ok
    # `exgen solve` reads it
    run = run_main("solve", "softsign(3*x)", "--format", "json")
    assert run.code == 0, run.stderr
    answer = parse_plain(json.loads(run.stdout)["answer"], ["x"])
    assert abs(float(answer.subs(X, sp.Rational(1, 3))) - 3 / 4) < 1e-12  # 3/(1 + 1)^2
    # the composer draws it into a problem, and the key's rule table prints its row
    sheet = build_sheet(SheetOptions(count=4, seed=3, topics=("chain",), difficulty="medium"))
    assert any(p.exercise.expr.has(softsign) for p in sheet.problems)
    documents = render_documents(sheet)
    guidebook = next(text for name, text in documents.items() if name.startswith("guidebook"))
    assert "Softsign rule" in guidebook and r"\frac{x}{1 + |x|}" in guidebook
    # the sheet.json check strings name only SymPy's functions
    doc = json.loads(next(text for name, text in documents.items() if name.endswith(".json")))
    for problem in doc["problems"]:
        assert "softsign" not in problem["check"]["expr"] and "softsign" not in problem["check"]["answer"]


def test_softsign_is_gone_after_the_test():
    assert "softsign" not in RULES and RULES.function_for(softsign) is None
    assert "softsign" not in RULES.reader_names()


def test_the_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="twice"):
        RULES.register(Rule(name="chain", title="Another chain rule"))
    with pytest.raises(ValueError, match="already belongs"):
        RULES.register(FunctionRule(name="sine2", title="Sine again", head=sp.sin, rate=sp.cos))
    with pytest.raises(ValueError, match="already read"):
        RULES.register(FunctionRule(name="sine3", title="Sine again", head=sp.sinh, rate=sp.cosh,
                                    names=(("sin", sp.sinh),)))
    assert RULES.function_for(sp.sinh) is None


def test_an_unknown_head_is_an_error_not_all_real_numbers():
    for expr in (sp.sinh(X), sp.log(sp.erf(X)), X**2 + sp.gamma(X)):
        with pytest.raises(UnsupportedExpression, match="no rule"):
            choose_domain(expr, (X,))


# ---------------------------------------------------------------------------
# Every registered function rule, as data
# ---------------------------------------------------------------------------

def _functions():
    return [r for r in RULES.functions() if r.rate is not None and len(r.parameters) <= 1]


def _application(rule, u):
    """f(u) with the rule's parameters at a typical value."""
    args = [u]
    for name, position in rule.parameters:
        args.insert(position, {"k": sp.Integer(3), "a": sp.Rational(1, 10)}[name])
    return rule.head(*args)


ARGUMENTS = (sp.Rational(1, 3), sp.Rational(-2, 5), sp.Rational(7, 10), sp.Rational(13, 10), sp.Rational(-23, 10))


@pytest.mark.parametrize("rule", _functions(), ids=lambda r: r.name)
def test_each_function_rule_derives_f_and_f_of_g_like_sympy_diff(rule):
    for inner in (X, 3 * X + 1, X**3 / 4 - X):
        expr = _application(rule, inner)
        tree = derive(expr, X)
        assert tree.rule == (rule.name if inner == X else "chain")
        points = [{X: sp.Rational(k, 40)} for k in range(-97, 98, 6) if _defined(expr, sp.Rational(k, 40))]
        assert_tree_independently(tree, points, min_usable=3)


def _defined(expr, a):
    try:
        value = complex(to_elementary(expr).subs(X, a).evalf(30))
    except (TypeError, ValueError):
        return False
    return abs(value.imag) < 1e-20 and abs(value.real) < 1e12


@pytest.mark.parametrize("rule", [r for r in RULES.functions()], ids=lambda r: r.name)
def test_each_function_evaluates_prints_and_reads_back_the_same(rule):
    u = X if rule.name not in ("softmax", "logsumexp") else None
    if u is None:
        z = sp.symbols("z1:4", real=True)
        expr = rule.head(sp.Integer(2), *z) if rule.name == "softmax" else rule.head(*z)
        symbols = z
    else:
        expr, symbols = _application(rule, X), (X,)
    elementary = to_elementary(expr)
    assert not any(isinstance(n, CourseFunction) for n in sp.preorder_traversal(elementary))
    reference = sp.lambdify(symbols, elementary, modules="mpmath")
    fast, exact = compiled(symbols, expr, FLOAT), compiled(symbols, expr, MPMATH)
    read_back = parse_plain(plain(expr), [s.name for s in symbols])
    checked = 0
    for a in ARGUMENTS:
        args = [a + i for i in range(len(symbols))]
        if not _defined(expr.subs(dict(zip(symbols, args))), 0) if len(symbols) > 1 else not _defined(expr, a):
            continue
        with mpmath.workdps(30):
            want = reference(*[mpmath.mpf(v.p) / v.q for v in args])
            assert abs(exact(*[mpmath.mpf(v.p) / v.q for v in args]) - want) < 1e-25
            assert abs(fast(*[float(v) for v in args]) - float(want)) < 1e-12 * max(1, abs(want))
            assert abs(complex(read_back.subs(dict(zip(symbols, args))).evalf(30)) - complex(want)) < 1e-20
        checked += 1
    assert checked >= 3
    latex = tex(expr)
    assert latex and latex.count("{") == latex.count("}") and latex.count(r"\left") == latex.count(r"\right")


def test_every_function_rule_has_a_table_row_and_a_reader_name():
    for rule in RULES.functions():
        assert rule.title and rule.function and rule.derivative, rule.name
        assert rule.names, f"{rule.name}: `exgen solve` cannot read it"


@pytest.mark.parametrize("text", [
    "tan(3*x)", "sec(x)", "asin(x**2)", "arcsin(2*x)", "acos(x/2)", "arccos(x)", "atan(x**2 + 1)", "arctan(x)",
    "sqrt(3*x + 3)", "abs(x - 1)", "softplus(2*x)", "leaky_relu(3*x - 1)", "leaky_relu(x, 0.2)", "elu(x)",
    "silu(2*x)", "swish(x)",
])
def test_solve_reads_and_derives_every_new_function(text):
    run = run_main("solve", text, "--format", "json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    expr, answer = parse_plain(data["expr"], data["variables"]), parse_plain(data["answer"], data["variables"])
    reference = sp.diff(to_elementary(expr), X)
    tested = 0
    for a in ARGUMENTS:
        if _defined(expr, a) and _defined(reference, a):
            got, want = complex(answer.subs(X, a).evalf(30)), complex(reference.subs(X, a).evalf(30))
            if abs(want.imag) < 1e-20:
                assert abs(got - want) < 1e-9 * max(1, abs(want)), (text, a)
                tested += 1
    assert tested >= 2, text


def test_logsumexp_gradient_is_the_softmax():
    z = sp.symbols("z1:4", real=True)
    for j, zj in enumerate(z, 1):
        tree = derive(RULES["logsumexp"].head(*z), zj)
        assert tree.rule == "logsumexp"
        assert_tree_independently(tree, [{s: sp.Rational(v + i, 3) for i, s in enumerate(z)} for v in (-2, 0, 1, 4)])
    run = run_main("solve", "logsumexp(z1, z2, z3)", "--wrt", "z1,z2,z3")
    assert run.code == 0, run.stderr


def test_the_composer_draws_from_the_registry():
    drawn = {rule.name for rule in compose.outer_rules()}
    assert {"exp", "ln", "sin", "cos", "tan", "sqrt", "log_k", "power"} <= drawn
    assert not {"sigmoid", "asin"} & drawn  # activations and inverse trig have topics of their own
    assert all(compose.needs_positive(RULES[n]) for n in ("ln", "log_k", "sqrt"))
    assert not any(compose.needs_positive(RULES[n]) for n in ("exp", "sin", "tan", "asin"))
