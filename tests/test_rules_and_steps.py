"""The step engine, rule by rule: the right rule at the root, and every node's
result equal to sympy.diff of its expression (numerically, at points chosen
here). sympy.diff is the independent reference; exgen's engine never calls it.
"""

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from exgen.errors import UnsupportedExpression
from exgen.rules.activations import ReLU, sigmoid
from exgen.rules.logarithms import log_base
from exgen.parsing import parse_user_expression
from exgen.rules import RULES
from exgen.steps import derive, solve

from helpers import X, Y, assert_derivative, assert_same_function, assert_tree_independently, spread_points

R = sp.Rational
U = sp.Symbol("u", real=True)

# (id, expression, the rule the derivation must start with)
RULE_CASES = [
    ("constant", sp.Integer(7), "constant"),
    ("constant-other-variable", Y**2 + 3, "constant"),
    ("identity", X, "identity"),
    ("linear", 5 * X, "linear"),
    ("linear-negative", -3 * X, "linear"),
    ("constant_multiple", 4 * sp.sin(X), "constant_multiple"),
    ("sum", X**3 + sp.exp(X), "sum"),
    ("difference", X**3 - sp.cos(X), "difference"),
    ("product", X**2 * sp.sin(X), "product"),
    ("quotient", sp.sin(X) / (X**2 + 1), "quotient"),
    ("power-integer", X**5, "power"),
    ("power-negative", X**-3, "power"),
    ("power-fraction", X ** R(3, 2), "power"),
    ("power-sqrt", sp.sqrt(X), "power"),
    ("power-negative-fraction", X ** R(-2, 3), "power"),
    ("chain-two-levels", sp.sin(3 * X + 1), "chain"),
    ("chain-power-of-inner", (X**2 + 1) ** 5, "chain"),
    ("chain-three-levels", sp.exp(sp.sin(X**2)), "chain"),
    ("exp", sp.exp(X), "exp"),
    ("exponential-base-2", 2**X, "exponential"),
    ("exponential-base-3", 3**X, "exponential"),
    ("ln", sp.log(X), "ln"),
    ("log_k-base-3", log_base(X, 3), "log_k"),
    ("log_k-base-10", log_base(X, 10), "log_k"),
    ("sin", sp.sin(X), "sin"),
    ("cos", sp.cos(X), "cos"),
    ("tanh", sp.tanh(X), "tanh"),
    ("sigmoid", sigmoid(X), "sigmoid"),
    ("relu", ReLU(X), "relu"),
    ("log_differentiation-x^x", X**X, "log_differentiation"),
    ("log_differentiation-x^sin", X ** sp.sin(X), "log_differentiation"),
]


def points_for(expr):
    return spread_points(sorted(sp.sympify(expr).free_symbols | {X}, key=lambda s: s.name))


def nodes(step):
    yield step
    for sub in step.substeps:
        yield from nodes(sub)


@pytest.mark.parametrize("expr, rule", [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_rule_at_root_and_every_node_agrees_with_sympy_diff(expr, rule):
    tree = derive(expr, X)
    assert tree.rule == rule
    assert tree.wrt == X
    assert tree.expr == expr
    assert all(node.rule in RULES for node in nodes(tree))
    assert_tree_independently(tree, points_for(expr))


@pytest.mark.parametrize("expr, rule", [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_solve_tidies_without_changing_the_derivative(expr, rule):
    tree = solve(expr, X)
    body = tree.substeps[0] if tree.rule == "simplify" else tree
    assert body.rule == rule
    if tree.rule == "simplify":
        assert tree.substeps[0].result != tree.result, "a simplify step must change something"
    assert_tree_independently(tree, points_for(expr))


def test_the_course_rules_are_registered_as_data():
    # Issue 2: constant, x, x^n, kx, kf, sum, difference, product, quotient,
    # e^x, a^x, ln, log_k, sin, cos and the chain rule; plus tanh, sigma, ReLU.
    required = {rule for _, _, rule in RULE_CASES}
    assert required <= set(RULES), f"missing rule rows: {sorted(required - set(RULES))}"


def test_every_rule_row_has_a_title_and_formula():
    for name, row in RULES.items():
        assert row.name == name and row.title
        if name != "simplify":
            assert row.function and row.derivative, name


def test_exponential_rule_is_a_to_the_x_times_ln_a():
    tree = derive(2**X, X)
    # The a^x rule, not e^x: the result carries ln 2.
    assert tree.result.has(sp.log(2))
    assert_derivative(2**X, X, tree.result, points_for(X))


def test_power_rule_binds_the_exponent():
    for n in (5, -3, R(3, 2), R(-1, 2)):
        tree = derive(X**n, X)
        assert dict(tree.parts).get("n") == n


def test_product_and_quotient_name_their_parts():
    f, g = X**2, sp.sin(X)
    parts = dict(derive(f * g, X).parts)
    assert {parts["f"], parts["g"]} == {f, g}
    parts = dict(derive(sp.sin(X) / (X**2 + 1), X).parts)
    assert parts["f"] == sp.sin(X) and parts["g"] == X**2 + 1


def test_partial_derivatives_hold_other_variables_constant():
    expr = 3 * X**2 * Y + 2 * Y**3
    points = spread_points([X, Y])
    for wrt in (X, Y):
        tree = solve(expr, wrt)
        assert tree.wrt == wrt
        assert_tree_independently(tree, points)


# ---------------------------------------------------------------------------
# Tricky inputs of issue 3, read as a user types them
# ---------------------------------------------------------------------------

TRICKY = [
    "exp(sin(x**2))",                     # chain, three levels
    "sin(cos(exp(2*x)))",                 # chain, four functions deep
    "sqrt(log(x**2 + 1) + 1)",
    "(x**2*sin(x))/(exp(x)*(x + 3))",     # quotient of products
    "(x*exp(x))/((x**2 + 1)*(x**2 + 2))",
    "x**(-3)",
    "x**(-1/2)",
    "1/sqrt(x)",
    "(x**2 + 1)**(3/2)",
    "x**(2/3)",
    "3*(2*x + 1)**(-2)",
    "2**x",                               # the a^x = a^x ln a rule
    "3**(x**2)",
    "10**(sin(x))",
    "log(x, 3)",                          # log_k
    "log(x**2 + 1, 2)",
    "x**x",                               # logarithmic differentiation
    "x**sin(x)",
    "sigmoid(2*x + 1)*tanh(x)",
    "relu(3*x - 1)",
    "exp(-x)/x + 2*x**5 - 7",
    "-x**2 + sin(x)",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_inputs_every_node_checks(text):
    expr, variables = parse_user_expression(text)
    assert variables == (X,)
    tree = solve(expr, X)
    assert_tree_independently(tree, spread_points([X]))


def test_tricky_shapes_use_the_expected_rules():
    def body(text):
        tree = derive(parse_user_expression(text)[0], X)
        while tree.rule == "constant_multiple":
            tree = tree.substeps[0]
        return tree

    assert body("2**x").rule == "exponential"
    assert body("log(x, 3)").rule == "log_k"
    assert dict(body("log(x, 3)").parts)["k"] == 3
    assert body("x**x").rule == "log_differentiation"
    quotient = body("(x*exp(x))/((x**2 + 1)*(x**2 + 2))")
    assert quotient.rule == "quotient"
    parts = dict(quotient.parts)
    assert parts["f"].is_Mul and parts["g"].is_Mul, "a quotient of products keeps both products whole"
    # Three chain levels: sin(u), u = cos(v), v = exp(w), w = 2x.
    depth, tree = 0, body("sin(cos(exp(2*x)))")
    while tree.rule == "chain":
        depth += 1
        tree = tree.substeps[1]
    assert depth == 3


def test_log_of_base_k_through_the_parser_is_log_k_not_ln():
    expr, _ = parse_user_expression("log(x, 2)")
    assert isinstance(expr, log_base)
    ln_expr, _ = parse_user_expression("log(x)")
    assert ln_expr == sp.log(X)
    assert derive(ln_expr, X).rule == "ln"


# ---------------------------------------------------------------------------
# Unsupported sub-expressions are named
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("expr, named", [
    (sp.sinh(X), "sinh(x)"),
    (sp.erf(X), "erf(x)"),
    (X**2 * sp.cot(3 * X), "cot(3*x)"),
    (sp.exp(sp.acot(X)), "acot(x)"),
    (sp.sin(X) + sp.sinh(X - 1), "sinh(x - 1)"),
])
def test_unsupported_subexpression_is_named(expr, named):
    with pytest.raises(UnsupportedExpression) as info:
        solve(expr, X)
    assert named in str(info.value)


def test_logarithm_with_a_variable_base_is_refused_clearly():
    with pytest.raises(UnsupportedExpression) as info:
        derive(log_base(X, X + 1), X)
    assert "base" in str(info.value)


# ---------------------------------------------------------------------------
# Chain nodes
# ---------------------------------------------------------------------------

CHAINS = [sp.sin(3 * X + 1), sp.exp(sp.sin(X**2)), (X**2 + 1) ** 5, log_base(X**2 + 1, 2),
          sp.sqrt(sp.log(X**2 + 2)), sigmoid(sp.cos(2 * X)), 3 ** (X**2), sp.sin(U * X)]


@pytest.mark.parametrize("expr", CHAINS, ids=[sp.sstr(e) for e in CHAINS])
def test_chain_outer_step_differentiates_by_its_own_variable(expr):
    tree = derive(expr, X)
    chains = [n for n in nodes(tree) if n.rule == "chain"]
    assert chains
    for node in chains:
        parts = dict(node.parts)
        u, outer, inner = parts["u"], parts["outer"], parts["inner"]
        outer_step, inner_step = node.substeps
        assert outer_step.wrt == u and u != X
        assert u not in expr.free_symbols, "the chain variable must not clash with the problem's"
        assert outer_step.expr == outer
        assert inner_step.wrt == node.wrt and inner_step.expr == inner
        # outer(inner) is the node's expression
        assert_same_function(outer.subs(u, inner), node.expr, spread_points(sorted(
            node.expr.free_symbols | {X}, key=lambda s: s.name)), context="outer(inner)")
    assert_tree_independently(tree, spread_points(sorted(expr.free_symbols | {X}, key=lambda s: s.name)))


def test_nested_chains_use_distinct_variables():
    tree = derive(sp.sin(sp.cos(sp.exp(2 * X))), X)
    letters = [dict(n.parts)["u"] for n in nodes(tree) if n.rule == "chain"]
    assert len(letters) == 3 and len(set(letters)) == 3


# ---------------------------------------------------------------------------
# rule_count: the measured difficulty
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("expr, count", [
    (5 * sp.cos(X), 1),                 # cosine (the constant factor is carried along)
    (X**2 * sp.sin(X), 3),              # product, power, sine
    (sp.exp(X**3), 3),                  # chain, exp, power
    (X**3 + sp.exp(X), 3),              # sum, power, exp
    (sp.sin(sp.exp(X**2)), 5),          # chain, sine, chain, exp, power
    (X**5, 1),
    (sp.sin(3 * X), 2),                 # chain, sine (3x read off at sight)
    (3 * X**2 + 5 * X - 2, 2),          # sum, power (5x and -2 at sight)
    (4 * X - 7, 1),                     # a linear function: the linear rule
    (sp.log(X**2 + 1), 4),              # chain, ln, sum, power
    (7 * sp.Integer(1), 0),             # a constant: nothing to apply
])
def test_rule_count_counts_rule_applications(expr, count):
    assert derive(expr, X).rule_count == count
    assert solve(expr, X).rule_count == count


def test_simplify_is_shown_only_when_it_changes_something_and_is_not_counted():
    expressions = [e for _, e, _ in RULE_CASES] + [parse_user_expression(t)[0] for t in TRICKY]
    simplified = 0
    for expr in expressions:
        raw, tidy = derive(expr, X), solve(expr, X)
        assert tidy.rule_count == raw.rule_count, sp.sstr(expr)
        if tidy.rule == "simplify":
            simplified += 1
            assert tidy.result != raw.result
            assert tidy.substeps[0].rule == raw.rule
        else:
            assert tidy.result == raw.result
    assert simplified > 0, "no case exercised the simplify step"


# ---------------------------------------------------------------------------
# Property: any composition of supported functions derives and checks
# ---------------------------------------------------------------------------

def _leaves():
    k = st.integers(-4, 5).filter(lambda v: v != 0)
    return st.one_of(
        st.just(X),
        k.map(lambda c: c * X),
        st.sampled_from([2, 3, -1, -2, R(1, 2)]).map(lambda n: X**n),
        st.sampled_from([sp.sin(X), sp.cos(X), sp.exp(X), sp.tanh(X)]),
    )


def _combine(children):
    unary = st.sampled_from([
        # Every outer function keeps values moderate (no exp(exp(exp(x)))),
        # so the numeric reference stays cheap; all are defined everywhere.
        sp.sin, sp.cos, sp.tanh, sigmoid,
        lambda u: sp.exp(sp.sin(u)),
        lambda u: sp.log(u**2 + 1),
        lambda u: log_base(u**2 + 2, 3),
        lambda u: sp.sqrt(u**2 + 1),
        lambda u: u**3,
        lambda u: 2 ** sp.cos(u),
    ])
    return st.one_of(
        st.tuples(unary, children).map(lambda p: p[0](p[1])),
        st.tuples(children, children).map(lambda p: p[0] + p[1]),
        st.tuples(children, children).map(lambda p: p[0] - 2 * p[1]),
        st.tuples(children, children).map(lambda p: p[0] * p[1]),
        st.tuples(children, children).map(lambda p: p[0] / (p[1] ** 2 + 1)),
    )


compositions = st.recursive(_leaves(), _combine, max_leaves=5)


@settings(max_examples=60)
@given(compositions)
def test_any_supported_composition_derives_and_every_node_checks(expr):
    expr = sp.sympify(expr)
    tree = solve(expr, X)
    # A constant's derivative is no rule a student applies (it is folded into the line that needs it).
    assert tree.rule_count >= (1 if expr.has(X) else 0)
    assert_tree_independently(tree, spread_points([X]))


def test_the_independent_reference_rejects_a_wrong_node():
    """The harness above can fail: a tree with one wrong inner node is caught."""
    import dataclasses

    tree = derive(sp.exp(sp.sin(X**2)), X)
    inner_chain = tree.substeps[1]
    wrong_power = dataclasses.replace(inner_chain.substeps[1], result=3 * X)   # d/dx x^2 != 3x
    broken = dataclasses.replace(tree, substeps=(tree.substeps[0], dataclasses.replace(
        inner_chain, substeps=(inner_chain.substeps[0], wrong_power))))
    with pytest.raises(AssertionError):
        assert_tree_independently(broken, spread_points([X]))
    wrong_outer = dataclasses.replace(tree, substeps=(dataclasses.replace(
        tree.substeps[0], result=-sp.exp(tree.substeps[0].wrt)), tree.substeps[1]))
    with pytest.raises(AssertionError):
        assert_tree_independently(wrong_outer, spread_points([X]))


V = sp.Symbol("v", real=True)


def test_chain_letter_never_reuses_a_variable_of_the_problem():
    expr = sp.sin(V * X) * sp.exp(U)
    tree = solve(expr, X)
    letters = [dict(n.parts)["u"] for n in nodes(tree) if n.rule == "chain"]
    assert letters
    assert not [u for u in letters if u.name in {s.name for s in expr.free_symbols}]


@pytest.mark.parametrize("expr, expected", [
    (sp.log(X**2 + 1), "real"),
    (sp.log(X) + X, "positive"),
    (1 / (sp.sin(X) - 1) ** 2, None),  # touches zero at pi/2, between grid points
    (1 / ((X - sp.Rational(1, 3)) ** 2 + sp.Rational(1, 10**5)), "real"),  # dips to 1e-5: for mpmath to decide
    (1 / ((X - sp.Rational(1, 3)) ** 2 + sp.Rational(1, 10**7)), None),  # dips to 1e-7: as good as zero
    (sp.sqrt(X - 2), None),
])
def test_domain_choice_with_and_without_the_float_screen(monkeypatch, expr, expected):
    from exgen import compose

    def name(domain):
        return None if domain is None else "positive" if domain.positive else "real"

    # All reals or x > 0 (the intervals around 0 that come after are tried in the next test).
    candidates = (compose.Domain(), compose.Domain(positive=True))
    assert name(compose.choose_domain(expr, (X,), candidates)) == expected
    monkeypatch.setattr(compose, "compiled", lambda *args: None)  # mpmath alone
    assert name(compose.choose_domain(expr, (X,), candidates)) == expected


@pytest.mark.parametrize("expr, bound", [
    (sp.tan(X), 1),                   # poles at +-pi/2
    (sp.tan(3 * X), sp.Rational(1, 2)),  # poles at +-pi/6 ~ 0.52
    (sp.asin(2 * X), sp.Rational(1, 2)),  # |2x| < 1
    (sp.acos(4 * X), sp.Rational(1, 4)),
    (1 / (sp.sin(X) - 1) ** 2, 1),    # sin x = 1 only at pi/2
])
def test_domain_choice_narrows_to_an_interval_around_zero(expr, bound):
    from exgen.compose import choose_domain

    domain = choose_domain(expr, (X,))
    assert domain is not None and not domain.positive and domain.bound == bound


@pytest.mark.parametrize("expr", [sp.asin(5 * X + 3), sp.tan(X) / X, sp.log(sp.cos(X) - 2)])
def test_no_domain_where_a_condition_fails_everywhere_near_zero(expr):
    from exgen.compose import choose_domain

    assert choose_domain(expr, (X,)) is None


def test_domain_choice_survives_astronomical_values():
    """Values far beyond a double (e^(e^(x^-6)) near 0) are no exception, and
    the domain chosen never contains a point where the function is undefined."""
    from exgen.compose import Domain, choose_domain

    def kind(expr):
        domain = choose_domain(expr, (X,))
        assert domain is None or isinstance(domain, Domain), domain
        return None if domain is None else "unit" if domain.unit else "positive" if domain.positive else "real"

    # Defined everywhere, astronomically large at x = 2.5: all real numbers.
    assert kind(sp.exp(sp.exp(sp.exp(X)))) == "real"
    # Undefined at 0 only: x > 0.
    assert kind(sp.exp(sp.exp(X**-4))) == "positive"
    # Undefined at 0, and about e^(e^(10^6)) at the smallest grid points: no
    # domain, or x > 0; never all reals.
    assert kind(sp.log(sp.exp(sp.exp(X**-6)))) in (None, "positive")
