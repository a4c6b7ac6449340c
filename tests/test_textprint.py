"""The terminal's notation (exgen solve): the course's symbols in plain
Unicode, and LaTeX rows broken, never shrunk, where they are too wide."""

import pytest
import sympy as sp

from exgen.rules.activations import ReLU, sigmoid
from exgen.rules.logarithms import log_base
from exgen.rules.vectors import softmax
from exgen.narrate import Dot, InOrder
from exgen.textprint import text
from exgen.writers import ROW, broken, width

from helpers import X

U = sp.Symbol("u", real=True)
YHAT = sp.Symbol("yhat", real=True)
Y = sp.Symbol("y", real=True)


@pytest.mark.parametrize("expr, printed", [
    (sigmoid(3 * X + 1), "σ(3x + 1)"),
    (ReLU(X), "ReLU(x)"),
    (sp.Piecewise((0, X <= 0), (1, True)), "0 if x ≤ 0, 1 if x > 0"),
    (sp.Piecewise((3, 3 * X + 1 > 0), (0, True)), "3 if x > -1/3, 0 if x ≤ -1/3"),
    (sp.log(X**2 + 1), "ln(x² + 1)"),
    (sp.log(X), "ln x"),
    (log_base(2 * X + 2, 3), "log₃(2x + 2)"),
    (log_base(X, 3) ** 4, "(log₃ x)⁴"),
    (X**2 * sp.sin(3 * X), "x² sin(3x)"),
    (2 * X / (X**2 + 1), "2x/(x² + 1)"),
    (1 / (U * sp.log(3)), "1/(u ln 3)"),
    ((YHAT - Y) / (YHAT * (1 - YHAT)), "(ŷ - y)/(ŷ(1 - ŷ))"),
    (2 * X * sigmoid(X**2 + 3) * (1 - sigmoid(X**2 + 3)), "2x σ(x² + 3)(1 - σ(x² + 3))"),
    (sp.tanh(2 * X) ** 2, "tanh²(2x)"),
    (sp.exp(-2 / (X**2 + 1)), "e^(-2/(x² + 1))"),
    (sp.Function("f")(X), "f(x)"),
    (sp.Derivative(sp.Function("f")(X), X), "f'(x)"),
    (softmax(2, *sp.symbols("z1 z2 z3", real=True)), "σ(z₂)"),
    (Dot(sigmoid(U) * (1 - sigmoid(U)), 2 * X), "σ(u)(1 - σ(u)) · 2x"),
    (InOrder(X, sp.Symbol("h")), "x + h"),
])
def test_the_course_notation_in_plain_unicode(expr, printed):
    assert text(expr) == printed


def test_no_sympy_internals_in_the_text():
    for expr in (sigmoid(X), ReLU(X), sp.log(X), X**3, sp.sqrt(X + 1)):
        shown = text(expr)
        assert not any(internal in shown for internal in ("exp(-(", "Max(", "Piecewise", "**", "log(", "sqrt("))


def test_a_long_sum_breaks_at_plus_and_minus_into_rows_that_fit():
    terms = " + ".join(r"\frac{%d x^{%d}}{\left(x + %d\right)^{2}}" % (k, k, k) for k in range(2, 14))
    rows = broken(terms, ROW - 10)
    assert len(rows) > 1 and "".join(rows).replace(" ", "") == terms.replace(" ", "")
    assert all(width(row) <= ROW - 6 for row in rows)
    assert all(row.startswith("+") for row in rows[1:])


def test_what_cannot_be_broken_stays_whole():
    fraction = r"\frac{%s}{x}" % " + ".join(f"x^{{{k}}}" for k in range(40))
    assert broken(fraction, 20) == [fraction]


def test_width_counts_a_fraction_by_its_wider_half():
    assert width(r"\frac{a + b + c}{d}") < width("a + b + c + d")
    assert width(r"x^{2}") < width("x2 2")
