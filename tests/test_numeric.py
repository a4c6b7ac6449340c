"""The raw fast path of the numeric evaluator returns the general closures' bits."""

import mpmath
import pytest
import sympy as sp

from exgen import numeric

X, Y = sp.symbols("x y", real=True)

EXPRESSIONS = [
    X**2 * sp.sin(3 * X) + sp.exp(-X**2 + 1) / (X**2 + 3)**2 - sp.log(X**2 + 1) / 2,
    sp.Rational(3, 7) * X + sp.Float("0.1") * Y - sp.tanh(X * Y) + sp.Abs(X - Y),
    sp.cos(X) ** -2 + sp.sqrt(X**2 + Y**2) + X**sp.Rational(5, 2),
    sp.log(X),  # complex where x < 0
    sp.sqrt(X - Y),  # complex where x < y
    X ** sp.Rational(1, 3) * Y,  # complex where x < 0
    (X**2 - 2) ** (-1),  # division by zero near x = 1.4142
    X**Y + 2**X,  # a power with a variable exponent
    sp.exp(sp.exp(sp.exp(X))),  # overflows for x above ~2.2
    sp.E * X + sp.pi,  # general closures only
]
POINTS = [(-2.5, 0.75), (-0.5, 1.0), (0.0, 0.0), (1.4142, -1.0), (2.0, 3.5), (3.0, 0.25)]


def _outcome(call):
    try:
        value = call()
    except Exception as exc:  # the same exception type on both paths
        return type(exc)
    return value._mpc_ if isinstance(value, mpmath.mpc) else value._mpf_


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_the_raw_path_returns_the_general_closures_bits(expr):
    symbols = (X, Y)
    general, _ = numeric._compile_both(expr, {X: 0, Y: 1})
    fn = numeric.numeric_callable(symbols, expr)
    for dps in (15, 30, 75):
        with mpmath.workdps(dps):
            for point in POINTS:
                args = tuple(mpmath.mpf(v) for v in point)
                assert _outcome(lambda: fn(*args)) == _outcome(lambda: general(args)), (dps, point)


def _replace_way(expr):
    from exgen.functions import _EXGEN_FUNCTIONS, _elementary_form
    return expr.replace(lambda e: isinstance(e, _EXGEN_FUNCTIONS), _elementary_form)


def test_to_elementary_builds_the_tree_sympys_replace_builds():
    from exgen.functions import ReLU, log_base, sigmoid, softmax, to_elementary

    s = sigmoid(2 * X + Y)
    for expr in (s * (1 - s), sigmoid(sigmoid(X)) + log_base(s, 2), ReLU(X - log_base(X**2 + 1, 3)),
                 softmax(sp.Integer(2), X, Y) * (1 - softmax(sp.Integer(2), X, Y)) - softmax(sp.Integer(1), X, Y),
                 sp.log(1 + sp.exp(-X)) * sigmoid(X)):
        assert sp.srepr(to_elementary(expr)) == sp.srepr(_replace_way(expr))
