"""The step engine: derivatives by applying the course's rule tables.

`derive(expr, x)` returns a tree of `Step`s, one node per rule application,
computed from the rules themselves (never by calling `sympy.diff` and
narrating afterwards). Each node names the parts it binds (f and g for a
product, outer and inner for a chain) and its result is built from its
children's results by the rule's formula.

The rules live in the registry (`exgen/registry.py`, filled by the modules
of `exgen/rules/`); `derive` tries the rules registered for the
expression's head, in order, and takes the first that applies. A function
rule (sin, ln, sigma, ...) applies to f(x) directly and to f(g(x)) through
the chain rule, whose outer node differentiates with respect to its own
variable u (and says so in `wrt`). This module names no rule of its own
except the chain rule, which every function uses.
"""

import functools
import itertools
from dataclasses import dataclass
from typing import Callable, Iterator

import sympy as sp

from .errors import UnsupportedExpression
from .forms import tidy
from .registry import RULES, FunctionRule


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
        """Rule applications as a student writes them (the measured difficulty):
        every rule the derivation names, but a constant factor is carried
        along (k f' with f's rules), a constant's 0 is no application, and a
        linear part inside another rule (the 3 of sin 3x, the 2 of x^2 + 2x)
        is read off at sight; a linear function on its own, w^T x + w_0, is
        the cheat-sheet's one linear rule."""
        return _applications(self, top=True)

    @property
    def rules_used(self) -> tuple[str, ...]:
        """Counted rule names, in order of first use (pre-order)."""
        seen: dict[str, None] = {}
        for node in self.walk():
            if RULES[node.rule].counted:
                seen.setdefault(node.rule, None)
        return tuple(seen)


def _linear(step: "Step") -> bool:
    """kx, x, a constant, k times one of them, or a sum of such terms."""
    if step.rule in ("linear", "identity", "constant"):
        return True
    if step.rule in ("constant_multiple", "sum", "difference"):
        return all(_linear(s) for s in step.substeps)
    return False


def _applications(step: "Step", top: bool = False, seen: set | None = None) -> int:
    if seen is not None and step.substeps:
        # Trees that share a derivation (a network's gradients share the
        # backward pass below each unit): the student writes it once.
        key = (step.rule, step.expr, step.wrt, step.result)
        if key in seen:
            return 0
        seen.add(key)
    if not RULES[step.rule].counted:
        return sum(_applications(s, top, seen) for s in step.substeps)
    if step.rule == "constant":
        return 0
    if _linear(step):
        return 1 if top else 0
    if step.rule == "constant_multiple":
        return _applications(step.substeps[0], top, seen)
    return 1 + sum(_applications(s, False, seen) for s in step.substeps)


def shared_rule_count(trees) -> int:
    """Rule applications of several trees (see `Step.rule_count`), a
    derivation they share counted once: what a student writes who works the
    backward pass once and reads each gradient off it."""
    seen: set = set()
    return sum(_applications(tree, True, seen) for tree in trees)


@dataclass(frozen=True)
class Context:
    """Where a derivation is: the chain-nesting depth (which letter comes
    next) and every variable name already in use in the whole problem."""

    depth: int = 0
    taken: frozenset = frozenset()

    def inside_chain(self, letter: str) -> "Context":
        return Context(self.depth + 1, self.taken | {letter})


# Letters for the chain rule's inner variable, one per nesting level, so a
# three-level chain reads u, v, w as a tutor would write it.
_CHAIN_LETTERS = ("u", "v", "w", "s", "r", "q")


def derive(expr: sp.Expr, wrt: sp.Symbol, ctx: Context | None = None) -> Step:
    """The rule-by-rule derivation of d/d`wrt` `expr`."""
    expr = sp.sympify(expr)
    if ctx is None:
        ctx = Context(0, frozenset(s.name for s in expr.free_symbols | {wrt}))
    for rule in RULES.dispatch(type(expr)):
        step = rule.apply(expr, wrt, ctx) if rule.apply is not None else apply_function(rule, expr, wrt, ctx)
        if step is not None:
            return step
    names = ", ".join(r.name for r in RULES.functions())
    raise UnsupportedExpression(
        f"no rule for {sp.sstr(expr)}: exgen can differentiate +, -, *, /, powers and the functions {names}")


def apply_function(rule: FunctionRule, expr: sp.Expr, wrt: sp.Symbol, ctx: Context) -> Step:
    """f(x) by the function's own rule; f(g(x)) by the chain rule, its outer
    node f(u) by the function's rule. A parameter of the rule (log_k's base)
    must not depend on the variable."""
    args = expr.args
    parameters = tuple((name, args[i]) for name, i in rule.parameters)
    if any(value.has(wrt) for _, value in parameters):
        raise UnsupportedExpression(
            f"no rule for {sp.sstr(expr)}: the {rule.title[0].lower() + rule.title[1:]} needs "
            f"{' and '.join(name for name, _ in parameters)} to be a constant")
    arg = args[rule.argument]
    if arg == wrt:
        return Step(rule.name, expr, wrt, rule.rate(wrt, *(value for _, value in parameters)), parts=parameters)

    def outer_of(u):
        rebuilt = list(args)
        rebuilt[rule.argument] = u
        return expr.func(*rebuilt)

    return chain_through(expr, wrt, ctx, outer_of, arg)


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


def stages(expr: sp.Expr, variables: tuple[sp.Symbol, ...]) -> tuple[Step, ...]:
    """A higher derivative stage by stage: d/dv1 expr, then d/dv2 of its
    result, ... Every stage but the last is finished (tidied, as a student
    simplifies f' before differentiating it again) and the next stage
    differentiates that tidied form; the last is left for the caller to
    finish (in the course's preferred form, where it has one)."""
    out = []
    current = expr
    for position, variable in enumerate(variables):
        tree = derive(current, variable)
        if position < len(variables) - 1:
            tree = finish(tree)
            current = tree.result
        out.append(tree)
    return tuple(out)


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
    search for algebraic matches, which cost most of building a chain.)
    An arbitrary function's f'(u) at u = g(x) stays f'(u) evaluated there
    (a `Subs`): SymPy has no derivative with respect to g(x) = x^2 + 1."""
    if expr.has(sp.Derivative):
        return expr.replace(lambda e: isinstance(e, sp.Derivative) and old in e.variables,
                            lambda e: sp.Subs(e, old, new)).subs(old, new)
    return expr.xreplace({old: new})


def chain_step(expr: sp.Expr, wrt: sp.Symbol, outer_of: Callable[[sp.Expr], sp.Expr],
               inner: sp.Expr) -> Step:
    """The chain rule on a split chosen by the caller: expr = outer_of(inner).

    For compositions the course splits its own way, such as a loss of an
    activation of a linear function."""
    return chain_through(expr, wrt, Context(0, frozenset(s.name for s in expr.free_symbols | {wrt})), outer_of, inner)


def chain_through(expr: sp.Expr, wrt: sp.Symbol, ctx: Context,
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
