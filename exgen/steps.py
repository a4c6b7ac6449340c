"""The step engine: derivatives by applying the course's rule tables.

`derive(expr, x)` returns a tree of `Step`s, one node per rule application,
computed from the rules themselves (never by calling `sympy.diff` and
narrating afterwards). Each node names the parts it binds (f and g for a
product, outer and inner for a chain) and its result is built from its
children's results by the rule's formula.

Dispatch is on the expression's head: `@handles(sympy.Add)` registers the
handler for sums, and so on. Single-argument functions (exp, ln, sin, ...)
are rows of `OUTER_RULES`; an argument other than the variable itself goes
through the chain rule, whose outer node differentiates with respect to its
own variable u (and says so in `wrt`).

To teach the engine a new function: register its `Rule` in `rules.py` and add
a row to `OUTER_RULES` (or a `@handles` handler for other shapes).
"""

import functools
import itertools
from dataclasses import dataclass
from typing import Callable, Iterator

import sympy as sp
from sympy.core.function import AppliedUndef

from .errors import UnsupportedExpression
from .functions import ReLU, log_base, sigmoid, softmax
from .rules import RULES
from .forms import tidy


@dataclass(frozen=True)
class Step:
    """d/d`wrt` of `expr` is `result`, by rule `rule`."""

    rule: str
    expr: sp.Expr
    wrt: sp.Symbol
    result: sp.Expr
    parts: tuple[tuple[str, sp.Expr], ...] = ()
    substeps: tuple["Step", ...] = ()
    # Variables the substeps use that stand for expressions of this node's
    # variable: the chain rule's u = g(x), the multivariable chain's x = x(t).
    bindings: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()

    def walk(self) -> Iterator["Step"]:
        yield self
        for sub in self.substeps:
            yield from sub.walk()

    @property
    def rule_count(self) -> int:
        """Rule applications a student performs (the measured difficulty)."""
        return sum(1 for node in self.walk() if RULES[node.rule].counted)

    @property
    def rules_used(self) -> tuple[str, ...]:
        """Counted rule names, in order of first use (pre-order)."""
        seen: dict[str, None] = {}
        for node in self.walk():
            if RULES[node.rule].counted:
                seen.setdefault(node.rule, None)
        return tuple(seen)


@dataclass(frozen=True)
class Context:
    """Where a derivation is: the chain-nesting depth (which letter comes
    next) and every variable name already in use in the whole problem."""

    depth: int = 0
    taken: frozenset = frozenset()

    def inside_chain(self, letter: str) -> "Context":
        return Context(self.depth + 1, self.taken | {letter})


Handler = Callable[[sp.Expr, sp.Symbol, Context], Step]
_HANDLERS: dict[type, Handler] = {}

# Letters for the chain rule's inner variable, one per nesting level, so a
# three-level chain reads u, v, w as a tutor would write it.
_CHAIN_LETTERS = ("u", "v", "w", "s", "r", "q")


def handles(*heads: type) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for head in heads:
            if head in _HANDLERS:
                raise ValueError(f"a handler for {head.__name__} is registered twice")
            _HANDLERS[head] = handler
        return handler

    return register


def derive(expr: sp.Expr, wrt: sp.Symbol, ctx: Context | None = None) -> Step:
    """The rule-by-rule derivation of d/d`wrt` `expr`."""
    expr = sp.sympify(expr)
    if ctx is None:
        ctx = Context(0, frozenset(s.name for s in expr.free_symbols | {wrt}))
    if not expr.has(wrt):
        return Step("constant", expr, wrt, sp.Integer(0))
    if expr == wrt:
        return Step("identity", expr, wrt, sp.Integer(1))
    for head in type(expr).__mro__:
        handler = _HANDLERS.get(head)
        if handler is not None:
            return handler(expr, wrt, ctx)
    raise UnsupportedExpression(
        f"no rule for {sp.sstr(expr)}: exgen can differentiate +, -, *, /, powers, "
        "exp, log, log(., k), sin, cos, tanh, sigmoid and relu"
    )


def solve(expr: sp.Expr, wrt: sp.Symbol, preferred: sp.Expr | None = None) -> Step:
    """The derivation, topped by a visible "simplify" step when tidying (or the
    course's `preferred` form of the answer) changes the result."""
    return finish(derive(expr, wrt), preferred)


def finish(root: Step, preferred: sp.Expr | None = None, via: sp.Expr | None = None) -> Step:
    """`via`: a form shown between the rules' result and the final one (the step
    a student is asked to see, e.g. e^a/S (1 - e^a/S) before sigma(1 - sigma))."""
    final = tidy(root.result) if preferred is None else preferred
    if final == root.result:
        return root
    parts = (("via", via),) if via is not None else ()
    return Step("simplify", root.expr, root.wrt, final, parts=parts, substeps=(root,))


def multivariable_chain(f: sp.Expr, inner: tuple[tuple[sp.Symbol, sp.Expr], ...], t: sp.Symbol) -> Step:
    """dz/dt = sum_i (partial f / partial x_i) (dx_i / dt), for z = f(x_1(t), ..., x_k(t))."""
    partials = tuple(derive(f, x) for x, _ in inner)
    rates = tuple(derive(x_t, t) for _, x_t in inner)
    substitution = dict(inner)
    result = sp.Add(*(p.result.xreplace(substitution) * r.result for p, r in zip(partials, rates)))
    parts = (("f", f),) + tuple((x.name, x_t) for x, x_t in inner)
    return Step("multivariable_chain", f.xreplace(substitution), t, result, parts=parts,
                substeps=partials + rates, bindings=inner)


def _chain_symbol(ctx: Context, expr: sp.Expr) -> sp.Symbol:
    """A letter for the chain rule's inner variable that no variable of the
    problem (or an enclosing chain) uses: u, v, w, ..., then u1, u2, ..."""
    taken = ctx.taken | {s.name for s in expr.free_symbols}
    letters = _CHAIN_LETTERS[ctx.depth % len(_CHAIN_LETTERS):] + _CHAIN_LETTERS
    numbered = (f"u{i}" for i in range(1, 1000))
    for name in itertools.chain(letters, numbered):
        if name not in taken:
            return sp.Symbol(name, real=True)
    raise UnsupportedExpression("the expression uses too many variable names")


@functools.lru_cache(maxsize=4096)
def substituted(expr: sp.Expr, old: sp.Expr, new: sp.Expr) -> sp.Expr:
    """`expr` with the symbol `old` replaced by `new`, remembered: the
    guidebook shows the chain rule's f'(g(x)) that the derivation built.
    (`xreplace`: for a symbol it gives what `subs` gives, without `subs`'s
    search for algebraic matches, which cost most of building a chain.)"""
    return expr.xreplace({old: new})


def chain_step(expr: sp.Expr, wrt: sp.Symbol, outer_of: Callable[[sp.Expr], sp.Expr],
               inner: sp.Expr) -> Step:
    """The chain rule on a split chosen by the caller: expr = outer_of(inner).

    For compositions the course splits its own way, such as a loss of an
    activation of a linear function."""
    return _chain(expr, wrt, Context(0, frozenset(s.name for s in expr.free_symbols | {wrt})), outer_of, inner)


def _chain(expr: sp.Expr, wrt: sp.Symbol, ctx: Context,
           outer_of: Callable[[sp.Expr], sp.Expr], inner: sp.Expr) -> Step:
    """d/dx f(g(x)) = f'(g(x)) * g'(x)."""
    u = _chain_symbol(ctx, expr)
    outer = outer_of(u)
    inside = ctx.inside_chain(u.name)
    outer_step = derive(outer, u, inside)
    inner_step = derive(inner, wrt, inside)
    result = substituted(outer_step.result, u, inner) * inner_step.result
    return Step("chain", expr, wrt, result,
                parts=(("outer", outer), ("inner", inner), ("u", u)),
                substeps=(outer_step, inner_step), bindings=((u, inner),))


@handles(sp.Add)
def _sum(expr, wrt, ctx):
    """d/dx (f + g) = f' + g';  d/dx (f - g) = f' - g'."""
    terms = expr.as_ordered_terms()
    subs = tuple(derive(t, wrt, ctx) for t in terms)
    name = "difference" if any(t.could_extract_minus_sign() for t in terms[1:]) else "sum"
    return Step(name, expr, wrt, sp.Add(*(s.result for s in subs)),
                parts=tuple((f"f_{i + 1}", t) for i, t in enumerate(terms)), substeps=subs)


def _is_denominator(factor: sp.Expr) -> bool:
    return factor.is_Pow and factor.exp.is_Rational and factor.exp.is_negative


@handles(sp.Mul)
def _mul(expr, wrt, ctx):
    """d/dx kf = k f';  d/dx fg = f g' + g f';  d/dx f/g = (g f' - f g') / g^2."""
    coefficient, rest = expr.as_independent(wrt, as_Add=False)
    if coefficient != 1:
        if rest == wrt:
            return Step("linear", expr, wrt, coefficient, parts=(("k", coefficient),))
        sub = derive(rest, wrt, ctx)
        return Step("constant_multiple", expr, wrt, coefficient * sub.result,
                    parts=(("k", coefficient), ("f", rest)), substeps=(sub,))
    factors = sp.Mul.make_args(rest)
    numerator = [f for f in factors if not _is_denominator(f)]
    denominator = [f for f in factors if _is_denominator(f)]
    if numerator and denominator:
        f = sp.Mul(*numerator)
        g = sp.Mul(*(d.base ** -d.exp for d in denominator))
        df, dg = derive(f, wrt, ctx), derive(g, wrt, ctx)
        result = (g * df.result - f * dg.result) / g**2
        return Step("quotient", expr, wrt, result, parts=(("f", f), ("g", g)), substeps=(df, dg))
    return product_step(expr, wrt, factors[0], sp.Mul(*factors[1:]), ctx)


def product_step(expr: sp.Expr, wrt: sp.Symbol, f: sp.Expr, g: sp.Expr, ctx: Context | None = None) -> Step:
    """d/dx (f g) = f g' + g f', on a split chosen by the caller (the quotient
    rule derived as f * g^-1 is a product, not a quotient)."""
    df, dg = derive(f, wrt, ctx), derive(g, wrt, ctx)
    return Step("product", expr, wrt, f * dg.result + g * df.result,
                parts=(("f", f), ("g", g)), substeps=(df, dg))


@handles(sp.Pow)
def _pow(expr, wrt, ctx):
    """d/dx x^n = n x^{n-1};  d/dx a^x = a^x ln a;  f^g by logarithmic differentiation."""
    base, exponent = expr.as_base_exp()
    if not exponent.has(wrt):
        if base == wrt:
            return Step("power", expr, wrt, exponent * wrt ** (exponent - 1), parts=(("n", exponent),))
        return _chain(expr, wrt, ctx, lambda u: u**exponent, base)
    if not base.has(wrt):
        if exponent == wrt:
            return Step("exponential", expr, wrt, expr * sp.log(base), parts=(("a", base),))
        return _chain(expr, wrt, ctx, lambda u: base**u, exponent)
    log_form = exponent * sp.log(base)
    sub = derive(log_form, wrt, ctx)
    return Step("log_differentiation", expr, wrt, expr * sub.result,
                parts=(("f", base), ("g", exponent)), substeps=(sub,))


@dataclass(frozen=True)
class OuterRule:
    """A one-argument function: its rule name and d/du f(u) as a function of u."""

    rule: str
    derivative: Callable[[sp.Expr], sp.Expr]


OUTER_RULES: dict[type, OuterRule] = {
    sp.exp: OuterRule("exp", lambda u: sp.exp(u)),
    sp.log: OuterRule("ln", lambda u: 1 / u),
    sp.sin: OuterRule("sin", lambda u: sp.cos(u)),
    sp.cos: OuterRule("cos", lambda u: -sp.sin(u)),
    sp.tanh: OuterRule("tanh", lambda u: 1 - sp.tanh(u) ** 2),
    sigmoid: OuterRule("sigmoid", lambda u: sigmoid(u) * (1 - sigmoid(u))),
    ReLU: OuterRule("relu", lambda u: sp.Piecewise((0, u <= 0), (1, True))),
}


def _unary(expr, wrt, ctx):
    row = OUTER_RULES[type(expr)]
    (arg,) = expr.args
    if arg == wrt:
        return Step(row.rule, expr, wrt, row.derivative(wrt))
    return _chain(expr, wrt, ctx, expr.func, arg)


for _head in OUTER_RULES:
    handles(_head)(_unary)


@handles(log_base)
def _log_base(expr, wrt, ctx):
    """d/dx log_k x = 1 / (x ln k)."""
    arg, base = expr.args
    if base.has(wrt):
        raise UnsupportedExpression(
            f"no rule for {sp.sstr(expr)}: the base of a logarithm must be a constant")
    if arg == wrt:
        return Step("log_k", expr, wrt, 1 / (wrt * sp.log(base)), parts=(("k", base),))
    return _chain(expr, wrt, ctx, lambda u: log_base(u, base), arg)


@handles(softmax)
def _softmax(expr, wrt, ctx):
    """d sigma(z_i) / d z_j = sigma(z_i) (delta_ij - sigma(z_j))."""
    logits = expr.logits
    if wrt not in logits or any(z.has(wrt) for z in logits if z != wrt):
        raise UnsupportedExpression(
            f"no rule for {sp.sstr(expr)} with respect to {wrt}: the softmax rule needs plain logits")
    j = logits.index(wrt) + 1
    delta = 1 if j == expr.index else 0
    return Step("softmax", expr, wrt, expr * (delta - softmax(j, *logits)),
                parts=(("i", sp.Integer(expr.index)), ("j", sp.Integer(j))))


@handles(AppliedUndef)
def _undefined(expr, wrt, ctx):
    """An arbitrary function f(x) of the general rules: its derivative is f'(x)."""
    if expr.args != (wrt,):
        raise UnsupportedExpression(f"no rule for {sp.sstr(expr)}: arbitrary functions must be of {wrt} alone")
    return Step("function", expr, wrt, sp.Derivative(expr, wrt))


def first_principles(expr: sp.Expr, wrt: sp.Symbol) -> Step:
    """f'(x) = lim_{h -> 0} (f(x + h) - f(x)) / h, by algebra and then the limit."""
    h = sp.Symbol("h", real=True)
    quotient = (expr.subs(wrt, wrt + h) - expr) / h
    expanded = sp.expand(expr.subs(wrt, wrt + h) - expr)
    simplified = sp.cancel(quotient)
    limit = sp.factor(simplified.subs(h, 0))  # -1/(x + 3)^2, not -1/(x^2 + 6x + 9)
    return Step("first_principles", expr, wrt, limit,
                parts=(("h", h), ("quotient", quotient), ("expanded", expanded / h), ("simplified", simplified)))


def forget() -> None:
    """Drop the remembered substitutions (see `forms.forget`)."""
    substituted.cache_clear()
