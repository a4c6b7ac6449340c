"""The LaTeX printer's shortcuts print exactly what SymPy's slow way prints."""

import pytest
import sympy as sp

from exgen import forms
from exgen.rules.activations import ReLU, sigmoid
from exgen.rules.logarithms import log_base
from exgen.rules.vectors import softmax

X, Y = sp.symbols("x y", real=True)
f = sp.Function("f")

EXPRESSIONS = [
    sp.exp(-X**2 - 1),
    X**2 * sp.sin(3 * X) - sp.Rational(1, 2) * sp.log(X) / (X + 1)**2,
    sp.Mul(2, 1 - sp.tanh(X)**2, evaluate=False),
    sp.Add(X, 2, evaluate=False),
    sigmoid(2 * X + 1) * (1 - sigmoid(2 * X + 1)),
    log_base(X**2 + 1, 3) + sp.sqrt(X) * Y,
    softmax(sp.Integer(1), X, Y) * (1 - softmax(sp.Integer(2), X, Y)),
    f(X) * sp.Derivative(f(X), X),  # a head outside the fast path
    ReLU(X - Y),
    sp.Piecewise((0, X <= 0), (1, True)),
    sp.Symbol("x") * X,  # the same name with and without assumptions
]


def _sympy_way(expr):
    with sp.evaluate(False):
        return expr.xreplace({s: sp.Symbol(s.name) for s in expr.free_symbols
                              if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy)})


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_the_assumption_free_copy_is_the_tree_sympy_builds(expr):
    copy = forms._without_assumptions(expr)
    assert sp.srepr(copy) == sp.srepr(_sympy_way(expr))
    assert all(s == sp.Symbol(s.name) for s in copy.free_symbols)


def test_remembered_sub_expressions_print_as_a_fresh_printer_prints_them():
    # Printed in both orders: the parts first, then the whole, and back.
    parts = [a for e in EXPRESSIONS for a in sp.preorder_traversal(_sympy_way(e))]
    parts += [sp.Float("0.50"), sp.Float("0.50") * X]  # a Float's str() depends on its depth
    for order in (parts, parts[::-1]):
        latex, plain = forms.TextbookLatexPrinter(), forms._PlainPrinter()
        for expr in order:
            assert latex.doprint(expr) == forms.TextbookLatexPrinter().doprint(expr)
            assert plain.doprint(expr) == sp.sstr(expr)
