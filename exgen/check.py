"""The oracle: every answer and every derivation step, checked numerically.

Nothing here uses the step engine or `sympy.diff`. A claimed derivative is
compared with mpmath's numeric derivative of the function at several random
points inside the problem's domain (30 significant digits, relative tolerance
1e-9). Points where either side is complex, infinite or undefined are skipped;
fewer than `MIN_POINTS` usable points is a failure, never a pass.

Most claims are right, and showing that in floats first is several times
cheaper: a five-point central difference of f in double precision accepts
at once when, at every point, the claim (at 30 digits) is within a tenth of
the tolerance of it, the difference's own error counted in
(`_agrees_in_floats`). Anything
else (a domain error, an overflow, a kink near a point, a large value with a
small slope, a disagreement) goes to mpmath, whose verdict is final; floats
never reject.

`check_contract` reads the sheet.json `check` strings back as SymPy reads
them (plain SymPy names, real symbols; `read_check_string`, else
`sympy.parse_expr`), so what is checked is exactly what a reader of the key
would check.
"""

import ast
import builtins
import functools
import math
import random
import types
from dataclasses import dataclass

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from .compose import Domain
from .registry import RULES, to_elementary
from . import numeric
from .numeric import FLOAT, MPMATH, compiled, numeric_callable

MIN_POINTS = 3
SAMPLE_POINTS = 4
DIGITS = 30
TOLERANCE = mpmath.mpf("1e-9")

Point = dict[sp.Symbol, mpmath.mpf]

# Arbitrary functions f(x), g(x), ... of the general rules are checked as
# these concrete functions (by name, in sorted order), like any CAS would.
_CONCRETE = (
    lambda t: t**2 + 1,
    lambda t: sp.exp(t / 3) + 2,
    lambda t: sp.sin(t) + 3,
    lambda t: 2 * t**3 - t + 5,
)


@functools.lru_cache(maxsize=4096)
def numeric_form(expr: sp.Expr) -> sp.Expr:
    """`expr` in SymPy's elementary functions only, arbitrary functions made
    concrete (cached: the float and the mpmath closures start from it)."""
    expr = to_elementary(expr)
    undefined = sorted({a.func for a in expr.atoms(AppliedUndef)}, key=lambda f: f.__name__)
    if not undefined:
        return expr
    # f'(g(x)) as SymPy's diff writes it, Derivative(f(g(x)), g(x)), becomes f'(u) at
    # u = g(x): with a concrete g in place SymPy cannot differentiate by g(x).
    expr = expr.replace(lambda d: isinstance(d, sp.Derivative) and not all(v.is_Symbol for v in d.variables),
                        _at_its_point)
    for i, func in enumerate(undefined):
        concrete = _CONCRETE[i % len(_CONCRETE)]
        expr = expr.replace(lambda a, func=func: isinstance(a, AppliedUndef) and a.func == func,
                            lambda a, concrete=concrete: concrete(*a.args))
    return expr.doit()


def _at_its_point(derivative: sp.Derivative) -> sp.Expr:
    ((variable, count),) = derivative.variable_count
    u = sp.Dummy("u")
    return sp.Subs(sp.Derivative(derivative.expr.xreplace({variable: u}), (u, count)), u, variable)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str = ""


def sample_points(domain: Domain, variables, rng: random.Random, n: int = SAMPLE_POINTS) -> list[Point]:
    low, high = domain.sample_interval
    return [{v: mpmath.mpf(round(rng.uniform(low, high), 4)) for v in variables} for _ in range(n)]


def _numeric(fn, args):
    try:
        value = fn(*args)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, MemoryError):
        return None
    if isinstance(value, (mpmath.mpc, complex)):
        if abs(value.imag) > 1e-20:
            return None
        value = value.real
    try:
        value = mpmath.mpf(value)
    except (TypeError, ValueError):
        return None
    return value if mpmath.isfinite(value) else None


def numeric_function(symbols, expr: sp.Expr):
    """An mpmath function of `symbols`, or None where SymPy cannot build one
    (an expression holding zoo or nan is defined nowhere)."""
    return _numeric_function(tuple(symbols), expr)


@functools.lru_cache(maxsize=4096)
def _numeric_function(symbols: tuple, expr: sp.Expr):
    """Compiled once per expression: a tree's nodes, the contract, the
    friendliness and at-point checks evaluate the same expressions again.
    The closures keep no state between calls, so sharing one changes no value."""
    return _closure(symbols, expr, MPMATH)


def float_function(symbols, expr: sp.Expr):
    """`numeric_function` in floats, or None where only mpmath can evaluate it."""
    return _float_function(tuple(symbols), expr)


@functools.lru_cache(maxsize=4096)
def _float_function(symbols: tuple, expr: sp.Expr):
    return _closure(symbols, expr, FLOAT)


def _closure(symbols: tuple, expr: sp.Expr, ops):
    """The course's functions compile directly; an expression with other
    heads (an arbitrary f(x)) goes through its elementary form first."""
    direct = compiled(symbols, expr, ops)
    if direct is not None:
        return direct
    form = numeric_form(expr)
    if form.has(sp.zoo, sp.nan):
        return None
    return numeric_callable(symbols, form, ops)


# The float screen accepts a claim only within this share of the tolerance,
# its own error included, so that whatever it accepts mpmath accepts too.
SCREEN_SHARE = 0.1
# The relative error allowed for one float evaluation of a function (about 14
# units in the last place); cancellations beyond it show in the step test.
ROUNDING = 3e-15
# Steps of the float difference, relative to max(1, |x|): truncation falls
# 4096-fold from the first to the second, rounding grows 8-fold.
SCREEN_STEPS = (1e-3, 1.25e-4)


def _agrees_in_floats(symbols: list, wrt: sp.Symbol, fn, exact_fn, claimed_exact_fn, points: list[Point]) -> bool:
    """True when, at every point, the claim's 30-digit value is within a
    tenth of the tolerance of a five-point central difference of f in
    floats, counting that difference's own error: how much it moves between
    two steps (truncation, and the noise of a cancellation inside f) plus f's
    rounding divided by the step. f's float value at the point must also
    match its 30-digit value (`exact_fn`) to within that rounding: a term
    lost to absorption, as in 10^20 ln(1 + x/10^20), would make f look flat
    in floats alone. The claim is taken at 30 digits for the same reason
    (x (1 + 10^10 ln(1 + 10^-17)) is x in floats). The second step is the
    first over sqrt(2), and at each step the three-point difference must
    agree with the five-point one to 1% (the steps resolve f), so a periodic
    f cannot alias at both. Where f curves too fast for the first pair of
    steps (e^(5x), 1/x^3 near 0), a pair eight times smaller is tried under
    the same test. False means undecided: mpmath decides."""
    index = symbols.index(wrt)
    allowed = SCREEN_SHARE * float(TOLERANCE)
    try:
        for point in points:
            args = [float(point[s]) for s in symbols]
            x = args[index]

            def at(t):
                args[index] = t
                value = fn(*args)
                if not (isinstance(value, float) and math.isfinite(value)):
                    raise ValueError("not a finite real value")
                return value

            def difference(step):
                """The five-point difference, its stencil's values, and whether
                the three-point difference agrees with it to 1%."""
                values = [at(x + k * step) for k in (-2, -1, 1, 2)]
                five = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * step)
                three = (values[2] - values[1]) / (2 * step)
                return five, values, abs(three - five) <= 0.01 * abs(five) + allowed

            center = at(x)
            got = None
            for relative_step in SCREEN_STEPS:
                h = relative_step * max(1.0, abs(x))
                h2 = h * 0.7071067811865476
                want_coarse, coarse, resolved_coarse = difference(h)
                want, fine, resolved_fine = difference(h2)
                size = max(map(abs, coarse + fine + [center]))
                if got is None:
                    exact_point = [point[s] for s in symbols]
                    with mpmath.workdps(DIGITS):
                        exact, claimed = _numeric(exact_fn, exact_point), _numeric(claimed_exact_fn, exact_point)
                    if exact is None or claimed is None or abs(center - float(exact)) > 4 * ROUNDING * size:
                        return False
                    got = float(claimed)
                # (1 + 8 + 8 + 1)/12 of the largest value's rounding, over the finer step.
                error = abs(want - want_coarse) + 1.5 * ROUNDING * size / h2
                if (resolved_coarse and resolved_fine
                        and abs(got - want) + error <= allowed * max(1.0, abs(got), abs(want))):
                    break
            else:
                return False
    except (ArithmeticError, ValueError, TypeError, KeyError):
        return False
    return len(points) >= MIN_POINTS


def _partial(fn, args: list, index: int):
    """mpmath's numeric derivative of fn along argument `index` at `args`, or None."""
    def along(t):
        shifted = list(args)
        shifted[index] = t
        return fn(*shifted)

    return _numeric(lambda t: mpmath.diff(along, t), [args[index]])


def _close(got, want) -> bool:
    return abs(got - want) <= TOLERANCE * max(1, abs(got), abs(want))


def _where(point: Point) -> str:
    """The point as a failure message names it (built only on failure: it costs
    more than the check itself)."""
    return ", ".join(f"{s}={mpmath.nstr(v, 6)}" for s, v in point.items())


def derivative_agrees(expr: sp.Expr, wrt: sp.Symbol, claimed: sp.Expr, points: list[Point]) -> Verdict:
    """Does `claimed` equal d/d`wrt` `expr` at the points (numerically)?"""
    symbols = sorted({wrt} | set(points[0]) | expr.free_symbols | claimed.free_symbols,
                     key=lambda s: s.name)
    fn, claimed_fn = numeric_function(symbols, expr), numeric_function(symbols, claimed)
    fast = float_function(symbols, expr)
    if None not in (fn, fast, claimed_fn) and _agrees_in_floats(symbols, wrt, fast, fn, claimed_fn, points):
        return Verdict(True)
    if fn is None or claimed_fn is None:
        return Verdict(False, "the expression is undefined (it holds a division by zero)")
    index = symbols.index(wrt)
    return _compared(expr, symbols, fn, claimed_fn, points, lambda args: _partial(fn, args, index))


def _compared(expr, symbols, fn, claimed_fn, points: list[Point], wanted) -> Verdict:
    """The claim against `wanted(args)` (the numeric derivative, None where
    the function has none) at every point inside the function's domain; at
    least MIN_POINTS of them usable."""
    usable = 0
    with mpmath.workdps(DIGITS):
        for point in points:
            args = [point.get(s) for s in symbols]
            if any(a is None for a in args):
                return Verdict(False, f"no value for a free symbol of {sp.sstr(expr)}")
            if _numeric(fn, args) is None:
                continue  # outside the function's domain
            want = wanted(args)
            if want is None:
                continue  # not differentiable here (a kink or an edge of the domain)
            got = _numeric(claimed_fn, args)
            if got is None:
                # The function has a derivative here; an answer without a value is wrong.
                return Verdict(False, f"at {_where(point)}: the claimed derivative is undefined or complex, "
                                      f"numeric {mpmath.nstr(want, 12)}")
            usable += 1
            if not _close(got, want):
                return Verdict(False, f"at {_where(point)}: claimed {mpmath.nstr(got, 12)}, numeric {mpmath.nstr(want, 12)}")
    if usable < MIN_POINTS:
        return Verdict(False, f"only {usable} usable points (need {MIN_POINTS})")
    return Verdict(True)


def higher_derivative_agrees(expr: sp.Expr, wrts: tuple[sp.Symbol, ...], claimed: sp.Expr,
                             points: list[Point]) -> Verdict:
    """Does `claimed` equal d^n expr / d wrts[0] ... d wrts[-1] at the points?

    Against the function itself (mpmath's numeric derivative of the given
    order, a second difference at 30 digits for f''), never against the
    engine's own first derivative."""
    if len(wrts) == 1:
        return derivative_agrees(expr, wrts[0], claimed, points)
    symbols = sorted(set(wrts) | set(points[0]) | expr.free_symbols | claimed.free_symbols, key=lambda s: s.name)
    fn, claimed_fn = numeric_function(symbols, expr), numeric_function(symbols, claimed)
    if fn is None or claimed_fn is None:
        return Verdict(False, "the expression is undefined (it holds a division by zero)")
    varied = sorted(set(wrts), key=lambda s: s.name)
    orders = tuple(wrts.count(v) for v in varied)
    positions = [symbols.index(v) for v in varied]

    def wanted(args):
        def along(*values):
            shifted = list(args)
            for position, value in zip(positions, values):
                shifted[position] = value
            return fn(*shifted)

        try:
            return _numeric(lambda: mpmath.diff(along, tuple(args[i] for i in positions), orders), [])
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return None

    return _compared(expr, symbols, fn, claimed_fn, points, wanted)


def check_tree(step, points: list[Point], passed: set | None = None) -> Verdict:
    """Every node's result must equal the derivative of its expression.

    `passed`: (node, points) pairs already checked, shared by the trees of
    one problem (a network's gradients share the backward pass below each
    unit), so a shared subtree is checked once at the same points."""
    if passed is not None:
        key = (id(step), tuple(tuple(point.items()) for point in points))
        if key in passed:
            return Verdict(True)
    verdict = derivative_agrees(step.expr, step.wrt, step.result, points)
    if not verdict.ok:
        return Verdict(False, f"{step.rule} step on {sp.sstr(step.expr)}: {verdict.detail}")
    if step.rule == "simplify" and "via" in dict(step.parts):
        verdict = expressions_agree(dict(step.parts)["via"], step.result, points)
        if not verdict.ok:
            return Verdict(False, f"simplify step: the intermediate form is not the result: {verdict.detail}")
    for left, right in zip(IDENTITY_CHAINS.get(step.rule, ()), IDENTITY_CHAINS.get(step.rule, ())[1:]):
        parts = dict(step.parts)
        verdict = expressions_agree(parts[left], parts[right], _with_h(parts, points))
        if not verdict.ok:
            return Verdict(False, f"{step.rule} step: {left} and {right} differ: {verdict.detail}")
    sub_points = _bound_points(step.bindings, points) if step.bindings else points
    for sub in step.substeps:
        verdict = check_tree(sub, sub_points, passed)
        if not verdict.ok:
            return verdict
    if passed is not None:
        passed.add(key)
    return Verdict(True)


# Rewritings a step shows as equal (first principles: the difference quotient,
# expanded, then cancelled); each consecutive pair is checked numerically.
IDENTITY_CHAINS = {"first_principles": ("quotient", "expanded", "simplified")}


def _with_h(parts: dict, points: list[Point]) -> list[Point]:
    h = parts.get("h")
    if h is None:
        return points
    return [{**p, h: mpmath.mpf(0.05 + 0.1 * i)} for i, p in enumerate(points)]


def expressions_agree(left: sp.Expr, right: sp.Expr, points: list[Point]) -> Verdict:
    symbols = sorted(set(points[0]) | left.free_symbols | right.free_symbols, key=lambda s: s.name)
    f = numeric_function(symbols, left)
    g = numeric_function(symbols, right)
    if f is None or g is None:
        return Verdict(False, "the expression is undefined (it holds a division by zero)")
    usable = 0
    with mpmath.workdps(DIGITS):
        for point in points:
            args = [point.get(s) for s in symbols]
            if any(a is None for a in args):
                return Verdict(False, "a free symbol has no value")
            a, b = _numeric(f, args), _numeric(g, args)
            if a is None or b is None:
                continue
            usable += 1
            if not _close(a, b):
                return Verdict(False, f"{mpmath.nstr(a, 12)} != {mpmath.nstr(b, 12)}")
    return Verdict(usable >= MIN_POINTS, "" if usable >= MIN_POINTS else "too few usable points")


def _bound_points(bindings, points: list[Point]) -> list[Point]:
    """Points for a node's substeps: each bound variable (the chain rule's u,
    the multivariable chain's x and y) takes its expression's value there."""
    symbols = sorted(points[0], key=lambda s: s.name)
    functions = [(symbol, numeric_function(symbols, value))
                 for symbol, value in bindings]
    out = []
    with mpmath.workdps(DIGITS):
        for point in points:
            args = [point[s] for s in symbols]
            values = {symbol: _numeric(fn, args) for symbol, fn in functions}
            if all(v is not None for v in values.values()):
                out.append({**point, **values})
    return out or points


@functools.cache
def _parse_globals() -> dict:
    """The namespace `parse_expr` builds on every call when given none (`from
    sympy import *`, the builtin functions, Max and Min as max and min): the
    same names, built once; it is most of a short string's parsing time."""
    namespace: dict = {}
    exec("from sympy import *", namespace)
    namespace.update((name, obj) for name, obj in vars(builtins).items()
                     if isinstance(obj, types.BuiltinFunctionType))
    namespace["max"], namespace["min"] = sp.Max, sp.Min
    return namespace


def parse_check_string(text: str, names) -> sp.Expr:
    """The string as SymPy reads it: `read_check_string`, or `parse_expr` for
    what that does not read (an arbitrary f(x), a Derivative, a decimal)."""
    symbols = {n: sp.Symbol(n, real=True) for n in names}
    try:
        return read_check_string(text, symbols)
    except _Unreadable:
        # A copy: evaluating the parsed code may add names to its globals.
        return sp.parse_expr(text, local_dict=symbols, global_dict=dict(_parse_globals()))


class _Unreadable(Exception):
    """The string uses something `read_check_string` leaves to `parse_expr`."""


# The functions of the course's check strings with SymPy's meaning, each
# called with its arguments already read: every function rule whose head is
# one of SymPy's own (its check string names it), log(a, b) as SymPy reads it
# (log(a)/log(b)), sqrt, and the heads answers use (sign).
def _read_calls() -> dict:
    calls = {}
    for rule in RULES.functions():
        if rule.elementary is None:  # SymPy's own function: the check strings name it
            arity = len(rule.parameters) + 1
            calls[(rule.head.__name__, arity)] = lambda *a, head=rule.head: head(*a, evaluate=False)
    calls[("log", 2)] = lambda a, b: _product(sp.log(a, evaluate=False), _reciprocal(sp.log(b, evaluate=False)))
    calls[("sqrt", 1)] = lambda a: sp.Pow(a, sp.S.Half, evaluate=False)
    calls[("sign", 1)] = lambda a: sp.sign(a, evaluate=False)
    return calls


_READ_CALLS: dict = {}  # registry version -> _read_calls()


_READ_CONSTANTS = {"E": sp.E, "pi": sp.pi}
_READ_RELATIONS = {ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan, ast.Gt: sp.StrictGreaterThan,
                   ast.GtE: sp.GreaterThan}


def read_check_string(text: str, symbols: dict) -> sp.Expr:
    """A check string read by Python's own parser into an unevaluated SymPy
    tree: the same value as `parse_expr`'s, which spends most of its time
    evaluating (canonical ordering, assumptions) what the oracle only needs
    numerically. Numbers stay exact (1/2 is a Rational, as with `parse_expr`).
    Raises `_Unreadable` for anything outside the arithmetic, functions,
    Piecewise/Max and Matrix of the course."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise _Unreadable from None
    return _read(tree.body, symbols)


def _read(node, symbols: dict):
    if isinstance(node, ast.Constant):
        if type(node.value) is int:
            return sp.Integer(node.value)
        raise _Unreadable  # a decimal: parse_expr decides its precision
    if isinstance(node, ast.Name):
        found = symbols.get(node.id, _READ_CONSTANTS.get(node.id))
        if found is None:
            raise _Unreadable
        return found
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _read(node.operand, symbols)
        return operand if isinstance(node.op, ast.UAdd) else _negated(operand)
    if isinstance(node, ast.BinOp):
        left, right = _read(node.left, symbols), _read(node.right, symbols)
        if isinstance(node.op, ast.Add):
            return _sum(left, right)
        if isinstance(node.op, ast.Sub):
            return _sum(left, _negated(right))
        if isinstance(node.op, ast.Mult):
            return _product(left, right)
        if isinstance(node.op, ast.Div):
            return _product(left, _reciprocal(right))
        if isinstance(node.op, ast.Pow):
            if left.is_Rational and right.is_Integer and abs(right) <= 64:
                return left ** right
            return sp.Pow(left, right, evaluate=False)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name == "Piecewise":
            return sp.Piecewise(*(_piece(arg, symbols) for arg in node.args), evaluate=False)
        if name == "Matrix" and len(node.args) == 1 and isinstance(node.args[0], ast.List):
            try:
                return sp.ImmutableMatrix([_row(element, symbols) for element in node.args[0].elts])
            except ValueError:  # ragged rows: parse_expr says what is wrong
                raise _Unreadable from None
        args = [_read(arg, symbols) for arg in node.args]
        if name in ("Max", "Min") and args:
            return (sp.Max if name == "Max" else sp.Min)(*args, evaluate=False)
        calls = _READ_CALLS.get(RULES.version)
        if calls is None:
            _READ_CALLS.clear()
            calls = _READ_CALLS[RULES.version] = _read_calls()
        build = calls.get((name, len(args)))
        if build is not None:
            return build(*args)
    raise _Unreadable


def _row(node, symbols: dict) -> list:
    """A row of Matrix([[a, b], [c, d]]), or the one entry of a row of Matrix([a, b])."""
    if isinstance(node, ast.List):
        return [_read(element, symbols) for element in node.elts]
    return [_read(node, symbols)]


def _piece(node, symbols: dict) -> tuple:
    if not (isinstance(node, ast.Tuple) and len(node.elts) == 2):
        raise _Unreadable
    value, condition = node.elts
    if isinstance(condition, ast.Compare) and len(condition.ops) == 1 and type(condition.ops[0]) in _READ_RELATIONS:
        relation = _READ_RELATIONS[type(condition.ops[0])]
        condition = relation(_read(condition.left, symbols), _read(condition.comparators[0], symbols),
                             evaluate=False)
    elif isinstance(condition, ast.Constant) and condition.value is True:
        condition = sp.true
    else:
        raise _Unreadable
    return _read(value, symbols), condition


# Exact numbers combine at once (2/7 is the Rational 2/7); anything with a
# symbol stays as written, one flat sum or product per run of + or *.
def _sum(left, right):
    if left.is_Rational and right.is_Rational:
        return left + right
    return sp.Add(*_flat(sp.Add, left), *_flat(sp.Add, right), evaluate=False)


def _product(left, right):
    if left.is_Rational and right.is_Rational:
        return left * right
    return sp.Mul(*_flat(sp.Mul, left), *_flat(sp.Mul, right), evaluate=False)


def _negated(value):
    return -value if value.is_Rational else _product(sp.S.NegativeOne, value)


def _reciprocal(value):
    if value.is_Rational:
        return 1 / value  # zoo for 1/0, as SymPy reads it
    return sp.Pow(value, sp.S.NegativeOne, evaluate=False)


def _flat(head, value) -> tuple:
    return value.args if type(value) is head else (value,)


def check_contract(check: dict, domain: Domain, rng: random.Random) -> Verdict:
    """Check a sheet.json `check` object from its strings alone.

    With `"order": n` (2 or 3) and one variable, `answer` is the n-th
    derivative; with order 2 and a list `wrt`, it is the Hessian Matrix of
    second partials (entry (i, j) is d^2 f / d wrt_i d wrt_j)."""
    names = list(check["variables"])
    expr = parse_check_string(check["expr"], names)
    wrt_names = [check["wrt"]] if isinstance(check["wrt"], str) else list(check["wrt"])
    order = int(check.get("order", 1))
    if order > 1 and len(wrt_names) > 1:
        hessian = parse_check_string(check["answer"], names)
        if not isinstance(hessian, sp.MatrixBase) or hessian.shape != (len(wrt_names), len(wrt_names)):
            return Verdict(False, f"the answer is not the {len(wrt_names)} x {len(wrt_names)} Hessian Matrix")
        pairs = [(expr, (a, b), hessian[i, j]) for i, a in enumerate(wrt_names) for j, b in enumerate(wrt_names)]
    elif order > 1:
        pairs = [(expr, tuple(wrt_names) * order, parse_check_string(check["answer"], names))]
    elif isinstance(expr, sp.MatrixBase):
        # A Jacobian: entry (i, j) is d component_i / d wrt_j.
        jacobian = parse_check_string(check["answer"], names)
        if not isinstance(jacobian, sp.MatrixBase) or jacobian.shape != (len(expr), len(wrt_names)):
            return Verdict(False, f"the answer is not a {len(expr)} x {len(wrt_names)} Matrix")
        pairs = [(component, (name,), jacobian[i, j]) for i, component in enumerate(expr)
                 for j, name in enumerate(wrt_names)]
    else:
        answers = [check["answer"]] if isinstance(check["wrt"], str) else list(check["answer"])
        pairs = [(expr, (name,), parse_check_string(answer, names))
                 for name, answer in zip(wrt_names, answers, strict=True)]
    if "at" in check:
        # Values at a point: each is the derivative there (exact values, so the point is exact too).
        point = {sp.Symbol(n, real=True): sp.Rational(parse_check_string(str(v), ())) for n, v in check["at"].items()}
        for function, by, answer in pairs:
            if not value_agrees(function, tuple(sp.Symbol(n, real=True) for n in by), answer, point):
                return Verdict(False, f"d/d{''.join(by)} {sp.sstr(function)} at {check['at']}: "
                                      f"the value {answer} is wrong")
        return Verdict(True)
    variables = [sp.Symbol(n, real=True) for n in names]
    points = sample_points(domain, variables, rng)
    for function, by, answer in pairs:
        verdict = higher_derivative_agrees(function, tuple(sp.Symbol(n, real=True) for n in by), answer, points)
        if not verdict.ok:
            return Verdict(False, f"d/d{''.join(by)} {sp.sstr(function)}: {verdict.detail}")
    return Verdict(True)


def value_agrees(expr: sp.Expr, wrt, value: sp.Expr, point: dict) -> bool:
    """Is `value` the derivative of `expr` at `point` (numerically, 30 digits)?
    `wrt`: the variable, or a tuple of variables for a higher derivative."""
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    exact = {s: sp.Rational(v) for s, v in point.items()}
    symbols = sorted(set(exact) | expr.free_symbols, key=lambda s: s.name)
    if any(s not in exact for s in symbols):
        return False
    fn = numeric_function(symbols, expr)
    varied = sorted(set(wrts), key=lambda s: s.name)
    with mpmath.workdps(DIGITS):
        mp_point = {s: mpmath.mpf(v.p) / v.q for s, v in exact.items()}
        args = [mp_point[s] for s in symbols]
        if len(wrts) == 1:
            want = _partial(fn, args, symbols.index(wrts[0]))
        else:
            positions = [symbols.index(v) for v in varied]

            def along(*values):
                shifted = list(args)
                for position, v in zip(positions, values):
                    shifted[position] = v
                return fn(*shifted)

            want = _numeric(lambda: mpmath.diff(along, tuple(args[i] for i in positions),
                                                tuple(wrts.count(v) for v in varied)), [])
        got = _numeric(numeric_function([], value), [])
    return want is not None and got is not None and _close(got, want)


def magnitude_at(expr: sp.Expr, variables, point: Point, exact_near: float | None = None) -> float:
    """|expr| at the point (infinity where it is not a finite real number).
    In floats where they suffice; at 30 digits where floats fail, or where the
    value is within a factor 2 of `exact_near` (a threshold the caller
    compares with: neither a machine's last-digit rounding nor a cancellation
    inside the expression may tip it)."""
    symbols = sorted(variables, key=lambda s: s.name)
    fast = float_function(symbols, expr)
    if fast is not None:
        try:
            value = fast(*(float(point[s]) for s in symbols))
        except (ArithmeticError, ValueError, TypeError):
            value = None
        if isinstance(value, float) and math.isfinite(value) and (
                exact_near is None or not exact_near / 2 < abs(value) < 2 * exact_near):
            return abs(value)
    fn = numeric_function(symbols, expr)
    with mpmath.workdps(DIGITS):
        value = _numeric(fn, [point[s] for s in symbols])
    return float("inf") if value is None else float(abs(value))


def forget() -> None:
    """Drop the compiled numeric functions (see `forms.forget`)."""
    for remembered in (numeric_form, _numeric_function, _float_function):
        remembered.cache_clear()
    numeric.forget()
