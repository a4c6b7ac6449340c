"""Arithmetic as written: sums and products with their numbers combined and
nothing else evaluated.

SymPy evaluates every sum and product it builds, and evaluating asks
questions of the operands (is it zero, positive, real?) that for a long
exact number such as sigma(2 sigma(1.1) - 0.4) cost milliseconds each (it
evaluates the number to answer). A network's loss, its backward pass and
their exact values are built here instead; the oracle evaluates them
numerically, so nothing depends on SymPy's canonical forms.
"""

import sympy as sp


def total(terms) -> sp.Expr:
    """The sum of `terms`: its numbers added, zero dropped, the rest as given."""
    terms = [sp.sympify(t) for t in terms]
    number = sum((t for t in terms if t.is_Rational), sp.Integer(0))
    rest = [t for t in terms if not t.is_Rational]
    parts = rest + ([number] if number != 0 or not rest else [])
    return parts[0] if len(parts) == 1 else sp.Add(*parts, evaluate=False)


def product(factors) -> sp.Expr:
    """The product of `factors`: its numbers multiplied (first), 1 dropped, 0 if any is 0."""
    factors = [sp.sympify(f) for f in factors]
    number = sp.Mul(*(f for f in factors if f.is_Rational))
    rest = [f for f in factors if not f.is_Rational]
    if number == 0 or not rest:
        return number
    parts = ([number] if number != 1 else []) + rest
    return parts[0] if len(parts) == 1 else sp.Mul(*parts, evaluate=False)


def difference(a, b) -> sp.Expr:
    return total((a, product((-1, b))))


def power(base, exponent) -> sp.Expr:
    base = sp.sympify(base)
    return base ** exponent if base.is_Rational else sp.Pow(base, exponent, evaluate=False)


def substituted(expr: sp.Expr, values: dict) -> sp.Expr:
    """`expr` with symbols replaced by `values`, rebuilt as written (see the module docstring)."""
    if not isinstance(expr, sp.Basic):
        return expr
    if isinstance(expr, sp.Symbol):
        return values.get(expr, expr)
    if not expr.args or not (expr.free_symbols & values.keys()):
        return expr
    args = [substituted(a, values) for a in expr.args]
    if expr.is_Add:
        return total(args)
    if expr.is_Mul:
        return product(args)
    if expr.is_Pow:
        return power(*args)
    if isinstance(expr, sp.Function):
        return expr.func(*args, evaluate=False)
    return expr.func(*args)
