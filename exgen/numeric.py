"""Fast numeric evaluation of SymPy expressions, with mpmath or with floats.

`lambdify` prints an expression to Python source and compiles it, which
costs milliseconds per expression; the oracle evaluates hundreds of small
expressions a few times each. `numeric_callable` instead turns the tree into
nested closures once: arithmetic here, every function of the rule tables by
its rule's `numeric` evaluators (or its elementary form) from the registry,
and falls back to `lambdify` for anything else. It evaluates; it never
differentiates.

The mpmath closures give the oracle's verdicts. The float closures (`FLOAT`)
are about ten times faster and only ever let the oracle accept sooner
(`check.py`): on any domain error, complex value or overflow they raise, and
the mpmath closures decide.
"""

import functools
import math
from dataclasses import dataclass
from typing import Callable

import mpmath
import sympy as sp

from .registry import RULES


# Beyond e^10000 no value is a worked example, and e^(e^(10^12)) would not fit
# in memory: such arguments stop the evaluation as an overflow.
EXP_LIMIT = 10_000


def mp_exp(value):
    if (value.real if isinstance(value, mpmath.mpc) else value) > EXP_LIMIT:
        raise OverflowError("exponential too large")
    return mpmath.exp(value)


def _power(base, exponent):
    if abs(exponent) > EXP_LIMIT and abs(base) > 1:
        raise OverflowError("power too large")
    return mpmath.power(base, exponent)


def float_exp(value: float) -> float:
    if value > EXP_LIMIT:
        raise OverflowError("exponential too large")
    return math.exp(value)


def _float_power(base: float, exponent: float) -> float:
    if abs(exponent) > EXP_LIMIT and abs(base) > 1:
        raise OverflowError("power too large")  # as in mpmath, so both skip the same points
    value = base ** exponent
    if isinstance(value, complex):  # a negative base to a fractional power
        raise ValueError("complex power")
    return value


def _float_mul(values) -> float:
    out = 1.0
    for value in values:
        out *= value
    return out


def _mp_mul(values):
    out = mpmath.mpf(1)
    for value in values:
        out *= value
    return out


@dataclass(frozen=True, eq=False)  # hashed by identity: a key of the compile cache
class Arithmetic:
    """What the compiled closures compute with; `name` picks each function
    rule's evaluator ("float" or "mpmath", the fields of `registry.Numeric`)."""

    name: str
    number: Callable  # (p, q) -> the value of p/q
    sum: Callable
    product: Callable
    sqrt: Callable
    power: Callable
    pi: Callable
    e: Callable
    sign: Callable


MPMATH = Arithmetic(
    name="mpmath", number=lambda p, q: mpmath.mpf(p) / q if q != 1 else mpmath.mpf(p),
    sum=mpmath.fsum, product=_mp_mul, sqrt=mpmath.sqrt, power=_power,
    pi=lambda: +mpmath.pi, e=mpmath.e, sign=mpmath.sign,
)

FLOAT = Arithmetic(
    name="float", number=lambda p, q: p / q, sum=math.fsum, product=_float_mul, sqrt=math.sqrt,
    power=_float_power, pi=lambda: math.pi, e=lambda: math.e,
    sign=lambda v: float((v > 0) - (v < 0)),
)


def _constant(value):
    return lambda env: value


@functools.lru_cache(maxsize=16384)
def _compile(expr, symbols: tuple, ops: Arithmetic) -> Callable:
    """Cached per subtree: a derivation's nodes, their claims and the check
    strings share most of their subexpressions, and a closure keeps no state
    (nor a precision: mpmath constants are rounded when called)."""
    if expr.is_Symbol:
        position = symbols.index(expr)
        return lambda env: env[position]
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)
        if ops is FLOAT or (q == 1 and abs(p) < 2**53):
            return _constant(ops.number(p, q))  # a float, or an integer exact at any precision
        # mpmath rounds p/q (and 3^40) to the precision of the moment of each
        # call: the closure may be compiled outside the 30-digit context.
        return lambda env: ops.number(p, q)
    if expr.is_Float:
        if ops is FLOAT:
            return _constant(float(expr))
        digits = expr._mpf_  # all of the Float's own precision, rounded when called
        return lambda env: mpmath.mpf(digits)
    if expr is sp.pi:
        return lambda env: ops.pi()
    if expr is sp.E:
        return lambda env: ops.e()
    if expr.is_Add:
        terms = [_compile(a, symbols, ops) for a in expr.args]
        if len(terms) == 2 and ops is FLOAT:
            # a + b is the correctly rounded sum, as fsum's is: the same value, without the call.
            first, second = terms
            return lambda env: first(env) + second(env)
        total = ops.sum
        return lambda env: total([t(env) for t in terms])
    if expr.is_Mul:
        factors = [_compile(a, symbols, ops) for a in expr.args]
        # The products multiply left to right, as `ops.product` does.
        if len(factors) == 2:
            first, second = factors
            return lambda env: first(env) * second(env)
        if len(factors) == 3:
            first, second, third = factors
            return lambda env: first(env) * second(env) * third(env)
        product = ops.product
        return lambda env: product([f(env) for f in factors])
    if expr.is_Pow:
        base, exponent = _compile(expr.base, symbols, ops), _compile(expr.exp, symbols, ops)
        if expr.exp == sp.Rational(1, 2):
            sqrt = ops.sqrt
            return lambda env: sqrt(base(env))
        if expr.exp.is_Integer:
            n = int(expr.exp)
            return lambda env: base(env) ** n
        power = ops.power
        return lambda env: power(base(env), exponent(env))
    rule = RULES.function_for(type(expr))
    if rule is not None:
        evaluate = getattr(rule.numeric, ops.name)
        if evaluate is None:
            return _compile(rule.to_elementary(expr), symbols, ops)
        args = [_compile(a, symbols, ops) for a in expr.args]
        if len(args) == 1:
            (arg,) = args
            return lambda env: evaluate(arg(env))
        return lambda env: evaluate(*[a(env) for a in args])
    if isinstance(expr, sp.sign) and len(expr.args) == 1:  # |u|' = sign u
        sign, arg = ops.sign, _compile(expr.args[0], symbols, ops)
        return lambda env: sign(arg(env))
    if isinstance(expr, sp.Max):
        args = [_compile(a, symbols, ops) for a in expr.args]
        return lambda env: max(a(env) for a in args)
    if isinstance(expr, sp.Piecewise):
        pieces = [(_compile(value, symbols, ops), _condition(cond, symbols, ops)) for value, cond in expr.args]

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


def _condition(cond, symbols: tuple, ops: Arithmetic) -> Callable:
    if cond is sp.true:
        return lambda env: True
    if cond is sp.false:
        return lambda env: False
    if type(cond) in _RELATIONS:
        compare = _RELATIONS[type(cond)]
        left, right = _compile(cond.lhs, symbols, ops), _compile(cond.rhs, symbols, ops)
        return lambda env: compare(left(env), right(env))
    raise NotImplementedError(type(cond).__name__)


def compiled(symbols, expr: sp.Expr, ops: Arithmetic) -> Callable | None:
    """f(*values) evaluating `expr` with `ops`, or None for a head the
    compiler does not know (an arbitrary f(x), a Derivative, zoo)."""
    try:
        compiled = _compile(expr, tuple(symbols), ops)
    except (NotImplementedError, KeyError, ValueError, OverflowError):  # OverflowError: 10^400 has no float
        return None
    return lambda *values: compiled(values)


def numeric_callable(symbols, expr: sp.Expr, ops: Arithmetic = MPMATH) -> Callable | None:
    """f(*values) evaluating `expr` (SymPy's elementary functions) with `ops`.
    With floats, None for an expression of other heads: only the mpmath
    closures have `lambdify` to fall back on."""
    fn = compiled(symbols, expr, ops)
    if fn is None and ops is MPMATH:
        return sp.lambdify(symbols, expr, modules="mpmath")
    return fn


def forget() -> None:
    """Drop the compiled closures (see `forms.forget`)."""
    _compile.cache_clear()
