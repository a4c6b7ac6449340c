"""Fast numeric evaluation of SymPy expressions with mpmath.

`lambdify` prints an expression to Python source and compiles it, which
costs milliseconds per expression; the oracle evaluates hundreds of small
expressions a few times each. `numeric_function` instead turns the tree into
nested closures over mpmath once, for the heads exgen's expressions use, and
falls back to `lambdify` for anything else. It evaluates; it never
differentiates.
"""

from typing import Callable

import mpmath
import sympy as sp


# Beyond e^10000 no value is a worked example, and e^(e^(10^12)) would not fit
# in memory: such arguments stop the evaluation as an overflow.
EXP_LIMIT = 10_000


def _exp(value):
    if (value.real if isinstance(value, mpmath.mpc) else value) > EXP_LIMIT:
        raise OverflowError("exponential too large")
    return mpmath.exp(value)


def _power(base, exponent):
    if abs(exponent) > EXP_LIMIT and abs(base) > 1:
        raise OverflowError("power too large")
    return mpmath.power(base, exponent)


def _constant(value):
    return lambda env: value


_UNARY = {
    sp.exp: _exp, sp.log: mpmath.log, sp.sin: mpmath.sin, sp.cos: mpmath.cos,
    sp.tanh: mpmath.tanh, sp.Abs: abs,
}


def _compile(expr, index: dict) -> Callable:
    if expr.is_Symbol:
        position = index[expr]
        return lambda env: env[position]
    if expr.is_Integer:
        return _constant(mpmath.mpf(int(expr)))
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)
        return lambda env: mpmath.mpf(p) / q
    if expr.is_Float:
        return _constant(mpmath.mpf(expr))
    if expr is sp.pi:
        return lambda env: +mpmath.pi
    if expr is sp.E:
        return lambda env: mpmath.e()
    if expr.is_Add:
        terms = [_compile(a, index) for a in expr.args]
        return lambda env: mpmath.fsum(t(env) for t in terms)
    if expr.is_Mul:
        factors = [_compile(a, index) for a in expr.args]

        def product(env):
            out = mpmath.mpf(1)
            for f in factors:
                out *= f(env)
            return out
        return product
    if expr.is_Pow:
        base, exponent = _compile(expr.base, index), _compile(expr.exp, index)
        if expr.exp == sp.Rational(1, 2):
            return lambda env: mpmath.sqrt(base(env))
        if expr.exp.is_Integer:
            n = int(expr.exp)
            return lambda env: base(env) ** n
        return lambda env: _power(base(env), exponent(env))
    if type(expr) in _UNARY and len(expr.args) == 1:
        fn, arg = _UNARY[type(expr)], _compile(expr.args[0], index)
        return lambda env: fn(arg(env))
    if isinstance(expr, sp.Max):
        args = [_compile(a, index) for a in expr.args]
        return lambda env: max(a(env) for a in args)
    if isinstance(expr, sp.Piecewise):
        pieces = [(_compile(value, index), _condition(cond, index)) for value, cond in expr.args]

        def piecewise(env):
            for value, cond in pieces:
                if cond(env):
                    return value(env)
            raise ValueError("no piece applies")
        return piecewise
    raise NotImplementedError(type(expr).__name__)


_RELATIONS = {
    sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
    sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
}


def _condition(cond, index: dict) -> Callable:
    if cond is sp.true:
        return lambda env: True
    if cond is sp.false:
        return lambda env: False
    if type(cond) in _RELATIONS:
        compare = _RELATIONS[type(cond)]
        left, right = _compile(cond.lhs, index), _compile(cond.rhs, index)
        return lambda env: compare(left(env), right(env))
    raise NotImplementedError(type(cond).__name__)


def numeric_callable(symbols, expr: sp.Expr) -> Callable:
    """f(*values) evaluating `expr` (SymPy's elementary functions) with mpmath."""
    index = {s: i for i, s in enumerate(symbols)}
    try:
        compiled = _compile(expr, index)
    except (NotImplementedError, KeyError):
        return sp.lambdify(symbols, expr, modules="mpmath")
    return lambda *values: compiled(values)
