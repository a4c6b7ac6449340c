"""The rule registry: every rule of the course's tables is one object.

A rule is registered once, by name, in one module of `exgen/rules/` (one
module per family: basic, combination, exponentials, logarithms, trig,
inverse trig, activations, softmax). Everything else iterates over the
registry and never names a function: the step engine dispatches on an
expression's head to the rules registered for it, the composer draws the
functions whose `draw` says so, the oracle and the composer read each
function's `condition`, the numeric compiler its `numeric` evaluators (or
its `elementary` form), the reader its `names`, the printers its `latex`
and `text`, and the guidebook its table row.

Two kinds of rule share the registry:

- `Rule`: a structural rule (sum, product, quotient, chain, power, ...). Its
  `apply(expr, wrt, ctx)` returns a `Step` or None (does not apply); it is
  tried on the expression heads it lists, in registration order, the way
  SymPy's `manualintegrate` tries its rules.
- `FunctionRule`: a function of the rule tables (sin, ln, sigma, ReLU, ...),
  one SymPy head. Its derivative `rate(u, *parameters)` is d/du f(u); an
  argument other than the variable itself goes through the chain rule.

Names, heads and reader names are unique: registering one twice is an error,
so two modules can never silently disagree about a rule.

To add a function, write one `FunctionRule` in a module of `exgen/rules/`
(and import the module in `exgen/rules/__init__.py`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from dataclasses import dataclass
from typing import Callable, Iterator

import sympy as sp


# Where a function's argument must lie, as (sub-expression, requirement):
# "positive" (u > 0: ln u, sqrt u), "nonzero" (u != 0: 1/u, |u|' = sign u,
# cos u != 0 for tan u). |u| < 1 is (1 - u^2, "positive").
REQUIREMENTS = ("positive", "nonzero")


@dataclass(frozen=True)
class Numeric:
    """A function's value from its arguments' values, in floats and in mpmath.

    Either may be None: the compiler then evaluates the rule's `elementary`
    form. A float evaluator raises (ValueError, OverflowError) outside the
    domain rather than returning nan: the oracle then asks mpmath."""

    float: Callable | None = None
    mpmath: Callable | None = None


@dataclass(frozen=True)
class Draw:
    """How the composer draws a function: as an outer function f(u) of a
    chain (`build(rng, u)`, drawing any parameter such as log_k's base) and,
    where `leaf`, as a basic function f(x) of sums and products.

    `pools` name the composition pools it belongs to ("calculus": the
    calculus topics' sums, products and chains; "activation": the ML
    activations topic); `weight` is its share of the draws in a pool (0:
    never drawn at random, only by the topics in `topics`). `positive_valued`:
    f(u) > 0 for every u > 0 (u^n, e^u, sqrt u), so f of a positive inner
    may itself be the inner of ln or sqrt on x > 0."""

    build: Callable
    pools: tuple[str, ...] = ("calculus",)
    weight: int = 1
    leaf: bool = True
    leaf_build: Callable | None = None  # (rng, x) -> f(x) where it differs from build(rng, x)
    positive_valued: bool = False
    topics: tuple[str, ...] = ()  # topics that drill this function (trig: sin, cos, tan)

    def as_leaf(self, rng, x):
        return (self.leaf_build or self.build)(rng, x)


@dataclass(frozen=True)
class Mistake:
    """A wrong variant of a rule, as students apply it (multiple choice).

    `wrong` gives the result the rule's node would have in a student's hands,
    built from the node as derived (its parts and its substeps' results), or
    None where the mistake does not apply to that node. A function's mistake
    with `whole` is made on the whole f(g(x)) (the power rule on e^u, (ln f)'
    as 1/f): `wrong(expr, inner, wrt)` is then the derivative a student writes
    for f(g(x)) (inner is x itself for f(x)). `words` say what went wrong in
    words a student understands; `id` names it in sheet.json and the exports."""

    id: str
    words: str
    wrong: Callable
    whole: bool = False


@dataclass(frozen=True)
class Text:
    """How a function prints in plain Unicode (`exgen solve`): its name (or
    `head`, the name for a call, e.g. log₃ for log(u, 3)), the argument it
    shows (`argument`: softmax's i-th logit), and how a power of it is
    written ("prefix": tanh²(u), as textbooks write trigonometric powers;
    "after": σ(u)²; "wrap": (ln x)², so that ln x² and log₃(u)⁴ are never
    printed)."""

    name: str
    power: str = "wrap"
    head: Callable | None = None
    argument: Callable | None = None


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A structural rule: its table row, and how it applies to an expression."""

    name: str
    title: str
    function: str = ""      # the table row as the documents print it (LaTeX)
    derivative: str = ""
    counted: bool = True    # a rule application a student performs (difficulty)
    heads: tuple[type, ...] = ()   # heads it is tried on; () = only called by name
    first: bool = False     # tried before any head's rules (constant, identity)
    apply: Callable | None = None  # (expr, wrt, ctx) -> Step | None
    # Where an expression of its heads is defined: (expr) -> ((part, requirement), ...).
    domain: Callable | None = None
    draw: Draw | None = None
    mistakes: tuple[Mistake, ...] = ()  # what students get wrong with it (multiple choice)
    # A rule whose node has substeps: (step, results) -> the node's result from
    # its substeps' `results` (the rule's formula, as `apply` builds it); a
    # mistake below the node reaches the answer through it.
    combine: Callable | None = None
    # Rules this one undoes (ln of e^u is u, sqrt(u^2) is |u|): a problem with
    # such a pair is a simpler one in disguise. "exponential" is a^u.
    # `inverse_reach`: where in the argument the undone function may sit:
    # "direct" (it is the argument), "factors" (a factor of it: ln(e^u v) is
    # u + ln v) or "terms" (a factor of any term: e^(a + k ln x) is e^a x^k).
    inverses: tuple[str, ...] = ()
    inverse_reach: str = "direct"

    def conditions(self, expr) -> tuple:
        """What `expr` (an expression of this rule's heads) needs of its parts."""
        return tuple(self.domain(expr)) if self.domain is not None else ()


@dataclass(frozen=True, kw_only=True)
class FunctionRule(Rule):
    """A function of the rule tables, everything exgen knows of it in one place."""

    head: type
    rate: Callable | None = None        # (u, *parameters) -> d/du f(u); None: the rule's own `apply`
    condition: Callable | None = None   # (u, *parameters) -> ((expr, requirement), ...)
    elementary: Callable | None = None  # (*args) -> the same value in SymPy's own functions
    numeric: Numeric = Numeric()
    names: tuple[tuple[str, Callable], ...] = ()  # what `exgen solve` reads, and how it builds f
    latex: Callable | None = None       # (printer, expr, exp) -> LaTeX; None: SymPy's own printing
    text: Text | None = None            # plain Unicode (exgen solve); None: name(argument)
    plain: Callable | None = None       # (printer, expr) -> the check string; None: "(elementary form)"
    argument: int = 0                   # which argument is u (softmax: several, own `apply`)
    parameters: tuple[tuple[str, int], ...] = ()  # (name, position) of arguments that are constants (log_k's k)
    # sigma(u)(1 - sigma(u)) is printed in that order (the documents' form).
    complement_first: bool = False


    def conditions(self, expr) -> tuple:
        """What `expr` (an application of this function) needs of its arguments."""
        if self.condition is None:
            return ()
        args = expr.args
        return tuple(self.condition(args[self.argument], *(args[i] for _, i in self.parameters)))

    def to_elementary(self, expr):
        return self.elementary(*expr.args) if self.elementary is not None else expr


class Registry:
    """Rules by name, with per-head dispatch lists and lookups by head and
    reader name. Filled by importing `exgen.rules`, which happens on the
    first lookup, so no module needs to remember to import it."""

    def __init__(self, families: str):
        self._families = families
        self._loaded = False
        self._rules: dict[str, Rule] = {}
        self._functions: dict[type, FunctionRule] = {}
        self._names: dict[str, Callable] = {}
        self._dispatch: dict[type, tuple[Rule, ...]] = {}
        self.version = 0  # bumped on every change: callers may cache what they derive from the registry

    # -- filling ---------------------------------------------------------
    def register(self, rule: Rule) -> Rule:
        if rule.name in self._rules:
            raise ValueError(f"rule {rule.name!r} registered twice")
        if isinstance(rule, FunctionRule):
            if rule.head in self._functions:
                raise ValueError(f"{rule.head.__name__} already belongs to rule {self._functions[rule.head].name!r}")
            clash = [n for n, _ in rule.names if n in self._names]
            if clash:
                raise ValueError(f"rule {rule.name!r}: the name(s) {', '.join(clash)} are already read as another function")
            self._functions[rule.head] = rule
            self._names.update(rule.names)
        self._rules[rule.name] = rule
        self._changed()
        return rule

    def unregister(self, name: str) -> None:
        rule = self._rules.pop(name)
        if isinstance(rule, FunctionRule):
            del self._functions[rule.head]
            for n, _ in rule.names:
                del self._names[n]
        self._changed()

    @contextlib.contextmanager
    def registered(self, *rules: Rule):
        """The rules registered for the duration of a `with` block (tests, plugins)."""
        self._load()
        done = []
        try:
            for rule in rules:
                done.append(self.register(rule))
            yield rules
        finally:
            for rule in reversed(done):
                self.unregister(rule.name)

    def _changed(self) -> None:
        self._dispatch.clear()
        self.version += 1

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # before the import: the families register while it runs
            importlib.import_module(self._families)

    # -- lookups ---------------------------------------------------------
    def __getitem__(self, name: str) -> Rule:
        self._load()
        return self._rules[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._rules

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(tuple(self._rules))

    def __len__(self) -> int:
        self._load()
        return len(self._rules)

    def items(self):
        self._load()
        return tuple(self._rules.items())

    def values(self) -> tuple[Rule, ...]:
        self._load()
        return tuple(self._rules.values())

    def get(self, name: str, default=None):
        self._load()
        return self._rules.get(name, default)

    def functions(self) -> tuple[FunctionRule, ...]:
        """Every function rule, in registration order."""
        self._load()
        return tuple(self._functions.values())

    def function_for(self, head: type) -> FunctionRule | None:
        """The function rule of an expression head (sp.sin, sigmoid, ...), or None."""
        self._load()
        return self._functions.get(head)

    def conditions(self, expr) -> tuple:
        """((part, requirement), ...) that decide where `expr`'s own head is
        defined (not its arguments' heads). Sums, products, symbols and
        numbers need nothing; a head no rule knows is an error, never "all
        real numbers"."""
        function = self.function_for(type(expr))
        if function is not None:
            return function.conditions(expr)
        if expr.is_Atom or expr.is_Add or expr.is_Mul:
            return ()
        for rule in self.dispatch(type(expr)):
            if rule.domain is not None:
                return rule.conditions(expr)
        from .errors import UnsupportedExpression

        raise UnsupportedExpression(f"no rule says where {type(expr).__name__} is defined ({sp.sstr(expr)})")

    def drawn(self, pool: str) -> tuple[Rule, ...]:
        """The rules the composer draws in `pool`, in registration order."""
        self._load()
        return tuple(r for r in self._rules.values() if r.draw is not None and pool in r.draw.pools)

    def reader_names(self) -> dict[str, Callable]:
        """Name -> constructor for every function a user may type."""
        self._load()
        return dict(self._names)

    def dispatch(self, head: type) -> tuple[Rule, ...]:
        """The rules to try on an expression of this head, in order: the
        `first` rules, then each class of the head's MRO, most specific first,
        its rules in registration order (a function's own rule included)."""
        found = self._dispatch.get(head)
        if found is None:
            self._load()
            rules = [r for r in self._rules.values() if r.first]
            for cls in head.__mro__:
                rules += [r for r in self._rules.values() if cls in r.heads]
                function = self._functions.get(cls)
                if function is not None:
                    rules.append(function)
            found = self._dispatch[head] = tuple(rules)
        return found


RULES = Registry("exgen.rules")


class CourseFunction(sp.Function):
    """The SymPy head of a function SymPy lacks (sigma, log_k, ReLU, ...). It
    prints, evaluates and reads back as its rule in the registry says: LaTeX
    by the rule's `latex`, the sheet.json check string as the rule's
    elementary form in SymPy's own names (any CAS reads it), numbers by that
    elementary form."""

    def _rule(self) -> FunctionRule:
        return RULES.function_for(type(self))

    def _latex(self, printer, exp=None):
        return self._rule().latex(printer, self, exp)

    def _sympystr(self, printer):
        rule = self._rule()
        if rule.plain is not None:
            return rule.plain(printer, self)
        # Bracketed: the form replaces a function call, which binds tighter than
        # any operator (2**sigma(x) must not read as 2**1/(1 + exp(-x))).
        return "(%s)" % printer._print(rule.to_elementary(self))

    def _eval_evalf(self, prec):
        return self._rule().to_elementary(self)._eval_evalf(prec)

    def _eval_is_real(self):
        return True if all(a.is_real for a in self.args) else None


def to_elementary(expr):
    """The same expression in SymPy's own functions only (for numeric work,
    exact values and check strings)."""
    try:
        return _elementary(RULES.version, expr)
    except TypeError:  # unhashable (a mutable Matrix)
        return _to_elementary(expr)


# Remembered: a candidate's function is rewritten for its shape, its
# disguise test, its domain and its check strings, each from the same tree
# (two in three calls repeat one). Keyed by the registry's version, which
# changes with the rules that decide the rewriting.
@functools.lru_cache(maxsize=4096)
def _elementary(version: int, expr):
    return _to_elementary(expr)


def forget() -> None:
    """Drop the remembered rewritings (see `forms.forget`)."""
    _elementary.cache_clear()


def _to_elementary(expr):
    heads = _elementary_heads()
    if not heads or not expr.has(*heads):
        return expr
    return expr.replace(lambda e: type(e) in heads,
                        lambda e: RULES.function_for(type(e)).to_elementary(e))


_heads_cache: dict[int, tuple] = {}


def _elementary_heads() -> tuple:
    heads = _heads_cache.get(RULES.version)
    if heads is None:
        heads = tuple(r.head for r in RULES.functions() if r.elementary is not None)
        _heads_cache.clear()
        _heads_cache[RULES.version] = heads
    return heads
