"""Fast numeric evaluation of SymPy expressions with mpmath.

`lambdify` prints an expression to Python source and compiles it, which
costs milliseconds per expression; the oracle evaluates hundreds of small
expressions a few times each. `numeric_function` instead turns the tree into
nested closures over mpmath once, for the heads exgen's expressions use, and
falls back to `lambdify` for anything else. It evaluates; it never
differentiates.

Each node gets two closures. The general one works on mpmath numbers (real
or complex). Where every node allows it, a second one works on mpmath's raw
real values (`mpf._mpf_` tuples) with the very `mpmath.libmp` function,
precision and rounding each mpmath operation of the general one calls, so it
returns the same bits without building a number object per operation (about
three times faster). An operation whose value would be complex raises
`ComplexResult` there, and the whole evaluation is redone by the general
closures, which go on in complex arithmetic exactly as before.
"""

from typing import Callable

import mpmath
import sympy as sp
from mpmath import libmp
from mpmath.libmp import ComplexResult


# Beyond e^10000 no value is a worked example, and e^(e^(10^12)) would not fit
# in memory: such arguments stop the evaluation as an overflow.
EXP_LIMIT = 10_000
_RAW_EXP_LIMIT = libmp.from_int(EXP_LIMIT)
_RAW_ONE = libmp.from_int(1)


def _exp(value):
    if (value.real if isinstance(value, mpmath.mpc) else value) > EXP_LIMIT:
        raise OverflowError("exponential too large")
    return mpmath.exp(value)


def _raw_exp(value, prec, rnd):
    if libmp.mpf_gt(value, _RAW_EXP_LIMIT):
        raise OverflowError("exponential too large")
    return libmp.mpf_exp(value, prec, rnd)


def _power(base, exponent):
    if abs(exponent) > EXP_LIMIT and abs(base) > 1:
        raise OverflowError("power too large")
    return mpmath.power(base, exponent)


def _raw_power(base, exponent, prec, rnd):
    if (libmp.mpf_gt(libmp.mpf_abs(exponent, prec, rnd), _RAW_EXP_LIMIT)
            and libmp.mpf_gt(libmp.mpf_abs(base, prec, rnd), _RAW_ONE)):
        raise OverflowError("power too large")
    return libmp.mpf_pow(base, exponent, prec, rnd)


def _constant(value):
    return lambda env: value


# One-argument heads: (general function, raw function of (value, prec, rounding)).
_UNARY = {
    sp.exp: (_exp, _raw_exp), sp.log: (mpmath.log, libmp.mpf_log), sp.sin: (mpmath.sin, libmp.mpf_sin),
    sp.cos: (mpmath.cos, libmp.mpf_cos), sp.tanh: (mpmath.tanh, libmp.mpf_tanh), sp.Abs: (abs, libmp.mpf_abs),
}


def _compile(expr, index: dict) -> Callable:
    return _compile_both(expr, index)[0]


def _compile_both(expr, index: dict) -> tuple[Callable, Callable | None]:
    """The general closure of env (a tuple of mpmath numbers) and the raw one
    of (env of raw values, prec, rounding), or None where a node has none."""
    if expr.is_Symbol:
        position = index[expr]
        return (lambda env: env[position]), (lambda env, prec, rnd: env[position])
    if expr.is_Integer or expr.is_Float:
        value = mpmath.mpf(int(expr) if expr.is_Integer else expr)
        raw = value._mpf_
        return _constant(value), (lambda env, prec, rnd: raw)
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)
        raw_p, raw_q = libmp.from_int(p), libmp.from_int(q)
        # mpf(p) rounds p to the working precision, then / q divides by int(q).
        return ((lambda env: mpmath.mpf(p) / q),
                (lambda env, prec, rnd: libmp.mpf_div(libmp.mpf_pos(raw_p, prec, rnd), raw_q, prec, rnd)))
    if expr is sp.pi:
        return (lambda env: +mpmath.pi), None
    if expr is sp.E:
        return (lambda env: mpmath.e()), None
    if expr.is_Add:
        terms, raw_terms = zip(*(_compile_both(a, index) for a in expr.args))

        def raw_sum(env, prec, rnd):  # mpmath.fsum of real terms
            return libmp.mpf_sum([t(env, prec, rnd) for t in raw_terms], prec, rnd)
        return (lambda env: mpmath.fsum(t(env) for t in terms)), _all_raw(raw_terms, raw_sum)
    if expr.is_Mul:
        factors, raw_factors = zip(*(_compile_both(a, index) for a in expr.args))

        def product(env):
            out = mpmath.mpf(1)
            for f in factors:
                out *= f(env)
            return out

        def raw_product(env, prec, rnd):
            out = _RAW_ONE
            for f in raw_factors:
                out = libmp.mpf_mul(out, f(env, prec, rnd), prec, rnd)
            return out
        return product, _all_raw(raw_factors, raw_product)
    if expr.is_Pow:
        (base, raw_base), (exponent, raw_exponent) = _compile_both(expr.base, index), _compile_both(expr.exp, index)
        if expr.exp == sp.Rational(1, 2):
            return ((lambda env: mpmath.sqrt(base(env))),
                    _all_raw([raw_base], lambda env, prec, rnd: libmp.mpf_sqrt(raw_base(env, prec, rnd), prec, rnd)))
        if expr.exp.is_Integer:
            n = int(expr.exp)
            return ((lambda env: base(env) ** n),
                    _all_raw([raw_base], lambda env, prec, rnd: libmp.mpf_pow_int(raw_base(env, prec, rnd), n, prec, rnd)))
        return ((lambda env: _power(base(env), exponent(env))),
                _all_raw([raw_base, raw_exponent], lambda env, prec, rnd: _raw_power(
                    raw_base(env, prec, rnd), raw_exponent(env, prec, rnd), prec, rnd)))
    if type(expr) in _UNARY and len(expr.args) == 1:
        (fn, raw_fn), (arg, raw_arg) = _UNARY[type(expr)], _compile_both(expr.args[0], index)
        return ((lambda env: fn(arg(env))),
                _all_raw([raw_arg], lambda env, prec, rnd: raw_fn(raw_arg(env, prec, rnd), prec, rnd)))
    if isinstance(expr, sp.Max):
        args = [_compile(a, index) for a in expr.args]
        return (lambda env: max(a(env) for a in args)), None
    if isinstance(expr, sp.Piecewise):
        pieces = [(_compile(value, index), _condition(cond, index)) for value, cond in expr.args]

        def piecewise(env):
            for value, cond in pieces:
                if cond(env):
                    return value(env)
            raise ValueError("no piece applies")
        return piecewise, None
    raise NotImplementedError(type(expr).__name__)


def _all_raw(parts, raw: Callable) -> Callable | None:
    """`raw` where every part has a raw closure, else None."""
    return raw if all(part is not None for part in parts) else None


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
        compiled, raw = _compile_both(expr, index)
    except (NotImplementedError, KeyError):
        return sp.lambdify(symbols, expr, modules="mpmath")
    if raw is None:
        return lambda *values: compiled(values)
    context = mpmath.mp

    def evaluate(*values):
        if not all(type(v) is mpmath.mpf for v in values):
            return compiled(values)
        prec, rnd = context._prec_rounding
        try:
            return context.make_mpf(raw(tuple(v._mpf_ for v in values), prec, rnd))
        except ComplexResult:
            return compiled(values)
    return evaluate
