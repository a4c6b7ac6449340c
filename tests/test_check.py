"""The numeric oracle (`exgen.check`): it must accept right derivatives and
reject wrong ones, and never pass on too little evidence. Right answers come
from sympy.diff; wrong ones are right answers damaged the way students (and
buggy rules) damage them.
"""

import dataclasses
import random

import mpmath
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from exgen import check
from exgen.check import MIN_POINTS, check_contract, check_tree, derivative_agrees, sample_points
from exgen.compose import Domain
from exgen.steps import derive

from helpers import X, Y, compare, parse_plain, spread_points

# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

coefficients = st.integers(-6, 6)
polynomials = st.lists(coefficients, min_size=2, max_size=5).map(
    lambda cs: sp.Add(*(c * X**i for i, c in enumerate(cs))))
WRAPS = (
    lambda p: p,
    lambda p: sp.sin(p),
    lambda p: sp.exp(p / 4),
    lambda p: p * sp.cos(X),
    lambda p: sp.log(p**2 + 1),
    lambda p: p / (X**2 + 1),
)
functions = st.tuples(st.sampled_from(range(len(WRAPS))), polynomials).map(lambda t: WRAPS[t[0]](t[1]))
point_sets = st.lists(st.integers(-2500, 2500).map(lambda v: v / 1000), min_size=4, max_size=4,
                      unique=True)


def as_points(values, symbol=X):
    return [{symbol: mpmath.mpf(v)} for v in values]


def spread(expr, values):
    """Largest |expr| at the values (to skip examples where damage is invisible)."""
    f = sp.lambdify(X, expr, "mpmath")
    return max(abs(f(mpmath.mpf(v))) for v in values)


# ---------------------------------------------------------------------------
# Right answers pass, wrong ones fail
# ---------------------------------------------------------------------------

@settings(max_examples=80)
@given(functions, point_sets)
def test_accepts_the_right_derivative(f, values):
    assert derivative_agrees(f, X, sp.diff(f, X), as_points(values)).ok


@settings(max_examples=80)
@given(functions, point_sets, st.sampled_from(["double", "sign", "plus-one", "half", "off-by-tiny", "off-by-1e-8"]))
def test_rejects_a_damaged_derivative(f, values, damage):
    right = sp.diff(f, X)
    assume(spread(right, values) > 1e-3)
    wrong = {
        "double": 2 * right,
        "sign": -right,
        "plus-one": right + 1,
        "half": right / 2,
        "off-by-tiny": right * (1 + sp.Rational(1, 10**6)),
        # Inside what floats can resolve, outside the 1e-9 tolerance.
        "off-by-1e-8": right * (1 + sp.Rational(1, 10**8)),
    }[damage]
    verdict = derivative_agrees(f, X, wrong, as_points(values))
    assert not verdict.ok
    assert verdict.detail


def mpmath_only(expr, wrt, claimed, points, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(check, "_agrees_in_floats", lambda *args: False)
        return derivative_agrees(expr, wrt, claimed, points)


# Damage just past the tolerance, where a float difference's own error could
# hide it; added as a constant and as a factor.
BAND = [sp.Rational(12, 10**10), sp.Rational(2, 10**9), sp.Rational(5, 10**9)]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(functions, st.sampled_from([0, 10**2, 10**4, 10**6, 10**7]), point_sets,
       st.sampled_from([0, 1, sp.Rational(1, 10**7), sp.Rational(1, 10**10)] + BAND), st.booleans())
def test_floats_accept_only_what_mpmath_accepts(monkeypatch, g, lift, values, damage, relative):
    """The float screen is a shortcut to mpmath's verdict, never a different
    one, also for a large value with a small slope (10^6 + sin x), where a
    float difference quotient is only good to about 1e-9."""
    f = g + lift
    claimed = sp.diff(f, X) * (1 + damage) if relative else sp.diff(f, X) + damage
    points = as_points(values)
    symbols = [X]
    fast, exact = check.float_function(symbols, f), check.numeric_function(symbols, f)
    claimed_exact = check.numeric_function(symbols, claimed)
    if None not in (fast, exact, claimed_exact) and check._agrees_in_floats(symbols, X, fast, exact, claimed_exact,
                                                                            points):
        assert mpmath_only(f, X, claimed, points, monkeypatch).ok


@pytest.mark.parametrize("f, values", [
    (10**20 * sp.log(1 + X / 10**20), [1.1, 2.2, 3.3, 4.4]),  # 1 + x/10^20 is 1 in floats
    (10**20 * (sp.exp(X / 10**20) - 1), [1.1, 2.2, 3.3, 4.4]),
    (sp.exp(30 * X) * sp.log(1 + sp.exp(-40 * X)), [1.1, 1.2, 1.3, 1.4]),
    (sp.sin(2000 * sp.pi * X), [0.0011, 0.0023, 0.0031, 0.0047]),  # its period divides the step
    (sp.sin(4000 * sp.pi * X), [0.0011, 0.0023, 0.0031, 0.0047]),
    (sp.sin(X) / X, [0.0, 0.0, 0.0, 0.0]),  # undefined at the points themselves
])
def test_what_floats_cannot_see_is_left_to_mpmath(f, values):
    """Found by a review: functions that look flat or undefined-free in
    floats. A zero slope claimed for them is wrong, and must be rejected."""
    assert not derivative_agrees(f, X, sp.Integer(0), as_points(values)).ok


@pytest.mark.parametrize("claimed", [
    X * (1 + 10**10 * sp.log(1 + sp.Rational(1, 10**17))),  # x (1 + 1e-7), but x in floats
    X + 10**9 * sp.log(1 + X / 10**16),
    X * sp.exp(sp.Rational(1, 10**7)),
])
def test_a_claim_whose_error_floats_round_away_is_rejected(claimed):
    """Found by a review: the screen took the claim's float value, in which
    the 1e-7 error of these claims is lost; it takes the 30-digit one."""
    points = as_points([0.3141, 0.7, 1.2345, 1.9])
    assert not derivative_agrees(X**2 / 2, X, claimed, points).ok


def test_a_sine_whose_differences_are_equally_wrong_at_both_steps_is_rejected():
    """Found by a review: at s = omega h near 5.1394 the five-point difference
    of sin(omega x) is off by the same factor (-0.2117) at h and h/sqrt(2),
    so both steps agree on a wrong slope (at points where omega x is exact in
    floats). The three-point difference disagrees with it there: left to mpmath."""
    mpmath.mp.dps = 40
    try:
        ratio = lambda s: (8 * mpmath.sin(s) - mpmath.sin(2 * s)) / (6 * s)  # noqa: E731
        s0 = mpmath.findroot(lambda t: ratio(t) - ratio(t / mpmath.sqrt(2)), 5.14)
        factor = sp.Rational(float(ratio(s0 / mpmath.sqrt(2))))
        omegas = [sp.Rational(float(s0 / mpmath.mpf(step))) for step in check.SCREEN_STEPS]
    finally:
        mpmath.mp.dps = 15
    points = as_points([0.5, 0.25, 0.0625, 0.125])
    for omega in omegas:
        f = sp.sin(omega * X)
        assert not derivative_agrees(f, X, factor * sp.diff(f, X), points).ok


def test_large_integer_constants_are_exact_at_30_digits():
    """Found by a review: closures compiled outside the 30-digit context kept
    3^40 at 53 bits."""
    fn = check.numeric_function([X], 3**40 * X + 1)
    with mpmath.workdps(30):
        assert fn(mpmath.mpf(1)) == 3**40 + 1


@pytest.mark.parametrize("lift", [10**4, 10**5, 10**7])
@pytest.mark.parametrize("damage", BAND)
def test_a_claim_just_past_the_tolerance_is_rejected_however_large_the_function(lift, damage):
    rng = random.Random(lift)
    f = lift + sp.sin(X)
    for _ in range(300):
        points = as_points([round(rng.uniform(-2.5, 2.5), 4) for _ in range(4)])
        assert not derivative_agrees(f, X, sp.cos(X) + damage, points).ok


@pytest.mark.parametrize("f, values", [
    (sp.exp(5 * X), [1.3, 1.7, 2.1, 2.4]),
    (1 / X**3, [0.21, 0.33, 0.47, 0.62]),
    (sp.sin(4 * X**2), [1.1, 1.6, 2.2, 2.45]),
])
def test_a_fast_curving_function_is_screened_at_the_smaller_step_and_damage_still_fails(monkeypatch, f, values):
    points = as_points(values)
    symbols = [X]
    right = sp.diff(f, X)

    def screened(claimed):
        return check._agrees_in_floats(symbols, X, check.float_function(symbols, f), check.numeric_function(symbols, f),
                                       check.numeric_function(symbols, claimed), points)

    assert screened(right)
    with monkeypatch.context() as patch:
        patch.setattr(check, "SCREEN_STEPS", check.SCREEN_STEPS[:1])
        assert not screened(right), "the first step alone should be too coarse for this function"
    for damage in BAND:
        assert not screened(right * (1 + damage))
        assert not derivative_agrees(f, X, right * (1 + damage), points).ok


@pytest.mark.parametrize("seed", range(4))
def test_every_check_floats_decide_mpmath_decides_the_same(monkeypatch, seed):
    from exgen.sheet import SheetOptions, build_sheet

    screened, decided = [], []
    real_screen, real_agrees = check._agrees_in_floats, check.derivative_agrees

    def screen(*args):
        screened.append(real_screen(*args))
        return screened[-1]

    def recording(expr, wrt, claimed, points):
        screened.clear()
        verdict = real_agrees(expr, wrt, claimed, points)
        if screened == [True]:
            decided.append((expr, wrt, claimed, points))
        return verdict

    monkeypatch.setattr(check, "derivative_agrees", recording)
    monkeypatch.setattr(check, "_agrees_in_floats", screen)
    for difficulty in ("easy", "medium", "hard"):
        build_sheet(SheetOptions(count=6, seed=1000 + seed, difficulty=difficulty))
    assert len(decided) > 50, "the float screen decides most checks"
    monkeypatch.setattr(check, "_agrees_in_floats", lambda *args: False)
    for expr, wrt, claimed, points in decided:
        assert real_agrees(expr, wrt, claimed, points).ok, (expr, wrt, claimed)


@settings(max_examples=60)
@given(functions, functions, point_sets)
def test_rejects_a_missing_term(f, g, values):
    assume(spread(sp.diff(g, X), values) > 1e-3)
    assert not derivative_agrees(f + g, X, sp.diff(f, X), as_points(values)).ok


@settings(max_examples=60)
@given(functions, functions, point_sets)
def test_rejects_the_classic_product_rule_mistake(f, g, values):
    right = sp.diff(f * g, X)
    wrong = sp.diff(f, X) * sp.diff(g, X)          # (fg)' = f'g'
    assume(spread(right - wrong, values) > 1e-3)
    assert not derivative_agrees(f * g, X, wrong, as_points(values)).ok
    assert derivative_agrees(f * g, X, right, as_points(values)).ok


def test_partial_derivative_is_checked_along_its_own_variable():
    points = [{X: mpmath.mpf(a), Y: mpmath.mpf(b)} for a, b in [(0.3, 1.7), (-1.2, 0.4), (2.1, -0.9), (0.8, 2.2)]]
    expr = X * Y**2 + sp.sin(X)
    assert derivative_agrees(expr, Y, 2 * X * Y, points).ok
    assert derivative_agrees(expr, X, Y**2 + sp.cos(X), points).ok
    assert not derivative_agrees(expr, Y, Y**2 + sp.cos(X), points).ok   # d/dx given for d/dy
    assert not derivative_agrees(expr, X, 2 * X * Y, points).ok


# ---------------------------------------------------------------------------
# Too little evidence is a failure, never a pass
# ---------------------------------------------------------------------------

def test_a_function_defined_nowhere_on_the_points_fails():
    expr = sp.log(-X**2 - 1)
    verdict = derivative_agrees(expr, X, sp.diff(expr, X), as_points([-2.0, -0.5, 0.7, 1.9]))
    assert not verdict.ok


def test_needs_at_least_three_usable_points():
    assert MIN_POINTS >= 3
    f = sp.sqrt(X)
    # sqrt is real at two of the four points only: not enough evidence.
    assert not derivative_agrees(f, X, sp.diff(f, X), as_points([-1.5, -0.3, 0.6, 2.2])).ok
    # three usable points suffice
    assert derivative_agrees(f, X, sp.diff(f, X), as_points([-1.5, 0.3, 0.6, 2.2])).ok


def test_an_answer_not_real_where_the_function_is_differentiable_fails():
    # 2x log(x^3) / (3 log x) is 2x for x > 0 but complex for x < 0, where
    # d/dx x^2 = 2x exists: at x = -2 the claim is simply wrong.
    claimed = 2 * X * sp.log(X**3) / (3 * sp.log(X))
    verdict = derivative_agrees(X**2, X, claimed, as_points([-2.0, 0.5, 1.5, 2.5]))
    assert not verdict.ok


# ---------------------------------------------------------------------------
# sample_points and check_contract
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("domain, inside", [
    (Domain(positive=False), lambda v: True),
    (Domain(positive=True), lambda v: v > 0),
])
def test_sample_points_lie_inside_the_domain(domain, inside):
    for seed in range(20):
        points = sample_points(domain, [X, Y], random.Random(seed))
        assert len(points) >= MIN_POINTS
        for point in points:
            assert set(point) == {X, Y}
            assert all(inside(v) for v in point.values())


def test_check_contract_reads_the_strings_alone():
    domain = Domain(positive=True)
    rng = random.Random(3)
    good = {"variables": ["x"], "expr": "x**2*log(x)", "wrt": "x", "answer": "2*x*log(x) + x"}
    assert check_contract(good, domain, rng).ok
    bad = dict(good, answer="2*x*log(x)")
    assert not check_contract(bad, domain, rng).ok
    several = {"variables": ["x", "y"], "expr": "3*x**2*y + 2*y**3", "wrt": ["x", "y"],
               "answer": ["6*x*y", "3*x**2 + 6*y**2"]}
    assert check_contract(several, Domain(positive=False), rng).ok
    swapped = dict(several, answer=list(reversed(several["answer"])))
    assert not check_contract(swapped, Domain(positive=False), rng).ok


# The check strings are read into unevaluated trees (`read_check_string`);
# each must mean what `parse_expr` makes of it, precedence and exact numbers
# included. Cases a printer could produce, and a few it should not.
READ_BACK = [
    "-x**2", "2**-1*x", "x**(5/2)", "1/2*x", "x/2/3", "2*x - (3 - x)", "-(x - 1)**3", "x - -x", "+x",
    "log(x, 3)", "log(x + 1)/log(10)", "-log(1 - x, 2)", "E**x", "(-2)**3*x", "exp(-(x))", "x**-2",
    "sqrt(x)*tanh(x)", "-x**(1/3)", "2**(1/2)*x", "3*pi*sin(x)", "Abs(x - 1)", "cos(x)**2 + sin(x)**2",
    "Piecewise((7, x > 2/7), (0, True))", "Piecewise((0, x <= 0), (1, True))", "Max(0, 7*x - 2)",
    "5*Piecewise((0, x < -1), (x, x >= -1))", "Min(x, 1) + tan(x)", "(1/(1 + exp(-(3*x + 3))))/x**3",
]


@pytest.mark.parametrize("text", READ_BACK)
def test_check_strings_read_back_as_parse_expr_reads_them(text):
    read = check.read_check_string(text, {"x": sp.Symbol("x", real=True)})
    usable, bad = compare(read, parse_plain(text, ["x"]), spread_points([X]))
    assert not bad, (text, sp.srepr(read), bad)
    assert usable >= 3, text


@pytest.mark.parametrize("text", ["Matrix([x**2, exp(-x)/2])", "Matrix([[1/4, -x], [-(x - 1)**2, log(x, 3)]])"])
def test_a_matrix_reads_back_entry_by_entry(text):
    read = check.read_check_string(text, {"x": sp.Symbol("x", real=True)})
    parsed = parse_plain(text, ["x"])
    assert read.shape == parsed.shape
    for mine, theirs in zip(read, parsed):
        usable, bad = compare(mine, theirs, spread_points([X]))
        assert not bad and usable >= 3, (text, mine, theirs, bad)


def test_check_strings_keep_exact_numbers():
    def read(text):
        return check.read_check_string(text, {})
    assert read("2/7") == sp.Rational(2, 7)
    assert read("2**-1") == sp.Rational(1, 2)
    assert read("-3/6") == sp.Rational(-1, 2)
    assert read("1/0").has(sp.zoo)
    assert read("(1 + E)/2").has(sp.E)


@pytest.mark.parametrize("text", [
    "Derivative(f(x), x)/f(x)", "Matrix([[x, 1], [2]])", "0.5*x", "f(x)", "x if x > 0 else 1", "log(x, 2, 3)",
    "x.real", "[x]", "y + x", "sin(x=1)", "x < 1", "Matrix(x)",
])
def test_strings_beyond_the_reader_go_to_parse_expr(text):
    symbols = {"x": sp.Symbol("x", real=True)}
    with pytest.raises(check._Unreadable):
        check.read_check_string(text, symbols)
    if text in ("Derivative(f(x), x)/f(x)", "0.5*x"):
        assert check.parse_check_string(text, ["x"]) == parse_plain(text, ["x"])


def test_every_check_string_of_every_topic_reads_back_as_parse_expr_reads_it():
    from exgen.sheet import SheetOptions, build_versions
    from exgen.topics import TOPICS

    read_count = 0
    for name in sorted(TOPICS):
        for level in TOPICS[name].levels:
            for seed in range(3):
                for at_point in (False, True):
                    sheet = build_versions(SheetOptions(count=2, seed=seed, topics=(name,), difficulty=level,
                                                        at_point=at_point))[0]
                    for problem in sheet.problems:
                        names = problem.check["variables"]
                        answers = problem.check["answer"]
                        texts = [problem.check["expr"], *(answers if isinstance(answers, list) else [answers])]
                        symbols = [sp.Symbol(n, real=True) for n in names]
                        points = sample_points(problem.exercise.domain, symbols, random.Random(seed))
                        for text in texts:
                            try:
                                read = check.read_check_string(text, dict(zip(names, symbols)))
                            except check._Unreadable:
                                continue
                            read_count += 1
                            parsed = parse_plain(text, names)
                            if isinstance(parsed, sp.MatrixBase):
                                assert read.shape == parsed.shape, text
                                pairs = list(zip(read, parsed))
                            else:
                                pairs = [(read, parsed)]
                            for mine, theirs in pairs:
                                usable, bad = compare(mine, theirs, points)
                                assert not bad and usable >= 3, (name, level, text, bad)
    assert read_count > 300  # the reader, not parse_expr, reads almost all of them


def test_a_misread_power_would_be_rejected():
    domain = Domain(positive=False)
    right = {"variables": ["x"], "expr": "-x**3/3", "wrt": "x", "answer": "-x**2"}
    assert check_contract(right, domain, random.Random(2)).ok
    assert not check_contract(dict(right, answer="(-x)**2"), domain, random.Random(2)).ok
    assert not check_contract(dict(right, answer="-x**2/1/2"), domain, random.Random(2)).ok


def test_check_tree_catches_one_wrong_node():
    tree = derive(sp.exp(sp.sin(X**2)) * X**3, X)
    points = sample_points(Domain(positive=False), [X], random.Random(1))
    assert check_tree(tree, points).ok
    # Damage the deepest power-rule node: d/dx x^2 claimed as x^2.
    def damage(step):
        if step.rule == "power" and step.expr == X**2:
            return dataclasses.replace(step, result=X**2)
        return dataclasses.replace(step, substeps=tuple(damage(s) for s in step.substeps))
    broken = damage(tree)
    assert broken != tree
    assert not check_tree(broken, points).ok


@pytest.mark.parametrize("check, right", [
    ({"variables": ["x"], "expr": "x**3", "wrt": "x", "answer": "12", "at": {"x": 2}}, True),
    ({"variables": ["x"], "expr": "x**3", "wrt": "x", "answer": "8", "at": {"x": 2}}, False),
    ({"variables": ["x"], "expr": "exp(x)", "wrt": "x", "answer": "exp(1/2)", "at": {"x": "1/2"}}, True),
    ({"variables": ["z1", "z2"], "expr": "Matrix([exp(z1)/(exp(z1) + exp(z2)), exp(z2)/(exp(z1) + exp(z2))])",
      "wrt": ["z1", "z2"], "answer": "Matrix([[1/4, -1/4], [-1/4, 1/4]])", "at": {"z1": 0, "z2": 0}}, True),
    ({"variables": ["z1", "z2"], "expr": "Matrix([exp(z1)/(exp(z1) + exp(z2)), exp(z2)/(exp(z1) + exp(z2))])",
      "wrt": ["z1", "z2"], "answer": "Matrix([[1/4, 1/4], [-1/4, 1/4]])", "at": {"z1": 0, "z2": 0}}, False),
])
def test_the_contract_check_reads_values_at_the_stated_point(check, right):
    assert check_contract(check, Domain(), random.Random(0)).ok is right
