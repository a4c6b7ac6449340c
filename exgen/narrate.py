"""Narration: a checked derivation told as a key, in format-neutral lines.

The step tree (`steps.py`) is the one derivation; a key is a narration of
it under a policy:

- ``worked`` (the default): what a tutor writes. Outermost rule first; the
  first line of a rule names it with its parts (outer and inner function,
  the factors) before any of them is used; table lookups and trivial steps
  (constants, x^n, kx, a sum of such terms) are done inside the line that
  needs them; the course's identities (sigma' = sigma(1 - sigma), the
  softmax rule, dL/dz_i = y^_i - y_i, dL/dy^ * dy^/dz * dz/dw_k) are single
  steps; a result that holds for every index is derived once.
- ``full``: one rule application per line, outside in: a rule's heading
  names its parts, the parts' derivations follow, then the rule's formula
  with them filled in.
- ``answers``: one line per derivative asked, the final answer.

A `Line` holds SymPy objects only (no LaTeX): the rule, the parts it names,
the expression whose derivative it states (`of`, `wrt`), the successive
right-hand sides (`forms`) and `at` for a value at a point. Writers print
lines: LaTeX for the templates (`render.py`), plain Unicode for `exgen
solve`, JSON for sheet.json (`writers.py`).

Helper variables (the chain rule's u, the y^ and z of logistic regression)
get fresh letters per problem, in the order they are defined, never one
letter for two functions; `Narration.helpers` records what each stands for.

Every line is checked (`verify`) before anything is printed: each form must
equal the derivative the line states and the form before it, numerically
with the oracle of `check.py`, helper variables substituted back. So is
every derivative a line folds into its phrase ("u' = 2x"). The derivation
itself passed the oracle before it was narrated, so a line that fails is a
bug in the narration: `checked_key` raises `KeyFailedCheck` and nothing is
printed (`exgen make` stops with the error; `exgen solve` refuses). Keys are
narrated after the problems are chosen, so the level printed never changes
which problems a sheet has.

To narrate a new structural rule, add a narrator to `WORKED` and `FULL`;
one-argument function rules (sin, sigmoid, ...) need nothing: a leaf is a
table lookup and a composite goes through "chain".
"""

import functools
import itertools
from dataclasses import dataclass, replace
from typing import Callable

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.precedence import PRECEDENCE

from .check import DIGITS, TOLERANCE, Verdict, derivative_agrees, expressions_agree, numeric_function, value_agrees
from .rules.vectors import softmax
from .rules import RULES
from .steps import Step

POLICIES = ("worked", "full", "answers")
DEFAULT_POLICY = "worked"

# Letters for helper variables, in the order a tutor reaches for them.
CHAIN_LETTERS = ("u", "v", "w", "s", "r", "q")
PART_LETTERS = ("f", "g", "h", "p", "q", "r", "s")


class Shown(sp.Function):
    """A form as a key writes it, where SymPy would reorder or multiply out:
    printed as shown, evaluated (`value`) as what it means."""

    def meaning(self) -> sp.Expr:
        return self.combine(self.args)

    @staticmethod
    def combine(parts) -> sp.Expr:
        raise NotImplementedError


class Dot(Shown):
    """A product shown factor by factor, in this order (a · b): a rule's
    formula with its parts filled in. Its value is the product."""

    precedence = PRECEDENCE["Mul"]

    @classmethod
    def eval(cls, *factors):
        # A factor 0 makes the product 0, and a factor 1 is not shown (a
        # general form with a Kronecker delta or a label put in).
        if any(f == 0 for f in factors):
            return sp.Integer(0)
        if any(f == 1 for f in factors):
            return dot(*factors)
        return None

    @staticmethod
    def combine(parts) -> sp.Expr:
        return sp.Mul(*parts)

    def _latex(self, printer, exp=None):
        out = []
        for i, factor in enumerate(self.args):
            if i == 0 and factor == -1:
                out.append("-")
                continue
            printed = printer._print(factor)
            if _bracketed(factor, first=i == 0 or (i == 1 and self.args[0] == -1)):
                printed = r"\left(%s\right)" % printed
            if out and out[-1] != "-":
                out.append(r"\cdot")
            out.append(printed)
        body = "-" + " ".join(out[1:]) if out[0] == "-" else " ".join(out)
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)

    def _sympystr(self, printer):
        return "(%s)" % "*".join("(%s)" % printer._print(a) for a in self.args)


class InOrder(Shown):
    """A sum shown term by term in this order (x + h, f(x + h) - f(x))."""

    precedence = PRECEDENCE["Add"]

    @staticmethod
    def combine(parts) -> sp.Expr:
        return sp.Add(*parts)

    def _latex(self, printer, exp=None):
        out = printer._print(self.args[0])
        for term in self.args[1:]:
            if isinstance(term, Dot) and term.args[0] == -1:
                rest = dot(*term.args[1:])
                shown = printer._print(rest)
                out += " - " + (r"\left(%s\right)" % shown if rest.is_Add else shown)
            elif term.could_extract_minus_sign():
                out += " - " + printer._print(-term)
            else:
                out += " + " + printer._print(term)
        return out if exp is None else r"\left(%s\right)^{%s}" % (out, exp)

    def _sympystr(self, printer):
        return "(%s)" % " + ".join("(%s)" % printer._print(a) for a in self.args)


def _bracketed(factor, first: bool) -> bool:
    return (factor.is_Add or isinstance(factor, (sp.Piecewise, Shown))
            or (not first and factor.could_extract_minus_sign()))


def dot(*factors: sp.Expr) -> sp.Expr:
    """The shown product of `factors` (1s left out; 0 if any is 0)."""
    kept = []
    for factor in factors:
        if factor == 0:
            return sp.Integer(0)
        if factor != 1:
            kept.extend(factor.args if isinstance(factor, Dot) else (factor,))
    if not kept:
        return sp.Integer(1)
    return kept[0] if len(kept) == 1 else Dot(*kept)


# Each expression's value (`value`), remembered. Seeded with the derivation's
# own expressions (`_Known.of`), which hold no shown form: a form built
# around them is then evaluated without walking into them (this halved the
# calls of checking a key, measured on the bench's sheets). Forgotten at
# `_VALUES_LIMIT` entries.
_VALUES: dict = {}
_VALUES_LIMIT = 50_000


def value(expr: sp.Basic) -> sp.Basic:
    """`expr` with every shown form replaced by what it means (what the oracle evaluates)."""
    known = _VALUES.get(expr)
    if known is not None:
        return known
    if isinstance(expr, Shown):
        out = value(expr.meaning())
    elif not isinstance(expr, sp.Basic) or not expr.args:
        return expr
    else:
        args = tuple(value(a) for a in expr.args)
        out = expr if all(a is b for a, b in zip(args, expr.args)) else expr.func(*args)
    if len(_VALUES) >= _VALUES_LIMIT:
        _VALUES.clear()
    _VALUES[expr] = out
    return out


class GeneralSoftmax(sp.Function):
    """sigma(z_i) for a general index i: the softmax component the rule and
    the general results speak of (display only; never evaluated)."""

    nargs = 1

    def _latex(self, printer, exp=None):
        body = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


@dataclass(frozen=True)
class Part:
    """Something a line names before using it.

    role: "outer" (the chain rule's outer function), "inner" (name = expr,
    the inner function), "name" (name = expr, a factor or a term),
    "derivative" (the derivative of `of` by `wrt` is expr, written as
    `notation` of name; `rule` when more than a table lookup gave it),
    "factor" (a constant factor), "path" (x = x(t)), "define" (name = expr,
    a shorthand such as S), "rewrite" (of = expr), "by" (`rule` on expr, or
    with `rule` when expr is None), "given" (a fact the line uses)."""

    role: str
    name: sp.Expr | None
    expr: sp.Expr
    of: sp.Expr | None = None
    wrt: sp.Expr | None = None
    rule: str = ""
    notation: str = "prime"
    partial: bool = False


@dataclass(frozen=True)
class Line:
    """One line of a key: d`of`/d`wrt` = forms[0] = forms[1] = ..., by `rule`.

    notation says how the left side names the derivative: "asked" (the
    problem's own question: f'(x), dL/dw_1), "prime" (u'), "leibniz"
    (dL/dy^, with `name`), "gradient" (the gradient of `name`), "bracket"
    (d/dx [of]), "value" (`name` itself: a worked key's z_1, delta_o = dL/do).
    A line with `instances` stands for several derivatives (a
    general index, or a row of answers): the instances are what is checked
    and what sheet.json lists; its own `forms` (if any) are what is shown.
    """

    rule: str
    of: sp.Expr | None
    wrt: sp.Expr | None
    forms: tuple = ()
    parts: tuple[Part, ...] = ()
    at: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    notation: str = "bracket"
    name: sp.Expr | None = None
    partial: bool = False
    target: int = 0
    instances: tuple["Line", ...] = ()
    final: bool = False  # its last form is a final answer (boxed)
    titled: bool = True  # False: it finishes the rule an earlier line named
    # A worked key's row (`worked.narration`): the words its phrase says (the
    # unit and the rules it applies), and its value to the sheet's decimal
    # places ("-0.0412", or one per entry of a matrix), written after the last form.
    label: str = ""
    approx: tuple[str, ...] = ()


@dataclass(frozen=True)
class Subject:
    """What is narrated: the checked derivations a problem asks for.

    name: the function's name when it is a letter (f, L, y, z), "" for
    others; components: (name, component) rows of a Jacobian; stages: how
    many of the first trees are earlier stages of a higher derivative (f'
    before f'', the Hessian's f_x and f_y), told first and never boxed;
    `values` are the last ones' only."""

    trees: tuple[Step, ...]
    variables: tuple[sp.Symbol, ...]
    name: str = "f"
    at: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    values: tuple[sp.Expr, ...] = ()
    components: tuple = ()
    stages: int = 0

    def value(self, k: int):
        """Tree k's value at the point (None for an earlier stage)."""
        return self.values[k - self.stages] if k >= self.stages and self.values else None

    @functools.cached_property
    def taken(self) -> frozenset:
        """Names a helper variable may not have: the problem's variables,
        functions and name, and their stems (w beside w_0, w_1 would read as one of them)."""
        taken = {s.name for s in self.variables} | {self.name}
        for expr in dict.fromkeys(tree.expr for tree in self.trees):
            for node in sp.preorder_traversal(expr):
                if isinstance(node, sp.Symbol):
                    taken.add(node.name)
                elif isinstance(node, AppliedUndef):
                    taken.add(node.func.__name__)
        return frozenset(taken | {name.rstrip("0123456789") for name in taken})


@dataclass(frozen=True)
class Narration:
    """A problem's key: its lines under `policy`, and what their helper
    variables stand for."""

    policy: str
    lines: tuple[Line, ...]
    # Every helper variable and the expression it stands for (in the
    # problem's variables and helpers defined before it).
    helpers: tuple[tuple[sp.Symbol, sp.Expr], ...]
    variables: tuple[sp.Symbol, ...]
    count: int  # derivatives asked
    name: str = "f"  # the function's name when it is a letter, else ""
    renamed: tuple = ()  # (subtree, scope) pairs: see `_Teller.rename`

    def back(self, expr: sp.Basic, keep: sp.Expr | None = None) -> sp.Basic:
        """`expr` with every helper variable but `keep` replaced by what it stands for."""
        if not self.helpers or not isinstance(expr, sp.Basic):
            return expr
        backed, mappings, _ = self._memo
        out = backed.get((expr, keep))
        if out is None:
            mapping = mappings.get(keep)
            if mapping is None:
                mapping = mappings[keep] = _resolved(self.helpers, keep)
            # An arbitrary function's f'(u) at u = 2x stays f'(u) there (a Subs):
            # SymPy has no derivative by 2x, and xreplace would build one.
            out = backed[expr, keep] = (expr.subs(mapping, simultaneous=True) if expr.has(sp.Derivative)
                                        else expr.xreplace(mapping))
        return out

    def evaluated(self, form: sp.Basic, keep: sp.Expr | None = None) -> sp.Basic:
        """The form's value with the helpers but `keep` substituted back: what
        the checks evaluate and sheet.json prints."""
        memo = self._memo[2]
        out = memo.get((form, keep))
        if out is None:
            if isinstance(form, Shown):
                # The parts first, then one product or sum of them (rebuilding
                # a shown form around substituted parts costs twice).
                out = form.combine([self.evaluated(a, keep) for a in form.args])
            else:
                # (Only a shown form is rebuilt: a sum or product as the tree
                # holds it, 2 (w_0 + 4), keeps its form.)
                out = self.back(value(form), keep)
            memo[form, keep] = out
        return out

    @functools.cached_property
    def _memo(self) -> tuple[dict, dict, dict]:
        """Forms substituted back, the substitutions by kept variable, and
        forms evaluated (the checks and sheet.json ask for the same ones)."""
        return {}, {}, {}

    def lines_for(self, target: int) -> tuple[Line, ...]:
        """The concrete lines of one derivative asked (sheet.json's `lines`)."""
        out = []
        for line in self.lines:
            if line.instances:
                out.extend(i for i in line.instances if i.target == target)
            elif line.target == target:
                out.append(line)
        return tuple(out)


def _resolved(helpers, keep) -> dict:
    """Each helper but `keep` -> what it stands for in the problem's variables
    (and `keep`): a helper's definition uses only helpers defined before it."""
    resolved: dict = {}
    for symbol, definition in helpers:
        if symbol != keep:
            resolved[symbol] = definition.xreplace(resolved) if resolved else definition
    return resolved


# ---------------------------------------------------------------------------
# Classifying steps: what a tutor folds into the line that needs it
# ---------------------------------------------------------------------------

_COMBINING = ("sum", "difference")


def trivial(step: Step) -> bool:
    """A derivative written down at sight: a table lookup on the variable
    itself, a constant, kx, k times such a term, or a sum of such terms."""
    if not step.substeps:
        return step.rule != "first_principles"
    if step.rule == "constant_multiple":
        return trivial(step.substeps[0])
    if step.rule in _COMBINING:
        return all(trivial(s) for s in step.substeps)
    return False


def short(step: Step) -> bool:
    """One named rule whose parts are trivial (sin 3x by the chain rule), or
    a sum of such terms: done inside a line, with the rule named."""
    if step.rule == "constant_multiple":
        return short(step.substeps[0])
    if step.rule in ("chain", "product", "quotient"):
        return all(trivial(s) for s in step.substeps)
    if step.rule in _COMBINING:
        return all(trivial(s) or short(s) for s in step.substeps) and not trivial(step)
    return False


def lead_rule(step: Step) -> str:
    """The rule a reader would name for a step: past constant factors, and
    for a sum in which one term alone varies, that term's rule."""
    while step.rule == "constant_multiple" or (
            step.rule in _COMBINING and sum(1 for s in step.substeps if s.rule != "constant") == 1):
        step = next(s for s in step.substeps if s.rule != "constant")
    return step.rule


def _same(a, b) -> bool:
    """Structural equality, cheaply refused by the (remembered) hashes first."""
    return a is b or (hash(a) == hash(b) and a == b)


def _forms(*forms) -> tuple:
    """The forms to show, each once (a form equal to the one before adds nothing)."""
    out = []
    for form in forms:
        if form is not None and (not out or not _same(form, out[-1])):
            out.append(form)
    return tuple(out)


def _mapped(expr, scope: dict):
    """A tree expression in the narration's names (`scope`: the tree's helper
    letters that the narration renamed)."""
    return expr.xreplace(scope) if scope and isinstance(expr, sp.Basic) else expr


def _scoped(scope: dict, tree_symbol: sp.Symbol, told: sp.Symbol) -> dict:
    """`scope` with the tree's `tree_symbol` told as `told` (nothing to map
    when the narration kept the tree's letter: most chains)."""
    return {**scope, tree_symbol: told} if told != tree_symbol else scope


# ---------------------------------------------------------------------------
# The teller: one problem's narration state
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Say:
    """How a narrator names the derivative it derives."""

    notation: str = "bracket"
    name: sp.Expr | None = None
    target: int = 0


@dataclass(frozen=True)
class Told:
    lines: tuple[Line, ...]
    value: sp.Expr  # the derivative as the last line leaves it


class _Teller:
    """One problem's narration as it is told: the names taken, the helper
    variables defined, the subtrees renamed."""

    def __init__(self, subject: Subject, policy: str):
        self.subject = subject
        self.policy = policy
        self.partial = len(subject.variables) > 1
        self.variables = frozenset(subject.variables)
        self.taken = set(subject.taken)
        self.helpers: list[tuple[sp.Symbol, sp.Expr]] = []
        self.several: set = set()  # the arguments of a multivariable chain's f(x, y)
        # Subtrees told with the tree's own helper variables renamed (u -> y^):
        # their claims, renamed alike, are as confirmed as the tree's.
        self.renamed: list[tuple[Step, tuple]] = []

    def rename(self, step: Step, scope: dict) -> dict:
        if any(old != new for old, new in scope.items()):
            self.renamed.append((step, tuple(scope.items())))
        return scope

    def fresh(self, pool: tuple[str, ...]) -> sp.Symbol:
        numbered = (f"{pool[0]}{i}" for i in range(1, 1000))
        for name in itertools.chain(pool, numbered):
            if name not in self.taken:
                self.taken.add(name)
                return sp.Symbol(name, real=True)
        raise AssertionError("no free name for a helper variable")

    def claim(self, name: str) -> sp.Symbol | None:
        """The helper `name` itself (y^, z of the documents) if it is free."""
        if name in self.taken:
            return None
        self.taken.add(name)
        return sp.Symbol(name, real=True)

    def define(self, symbol: sp.Symbol, definition: sp.Expr) -> None:
        for known, meaning in self.helpers:
            if known == symbol:
                if meaning != definition:
                    raise AssertionError(f"{symbol} would name both {meaning} and {definition}")
                return  # the same path again (each derivative of a gradient)
        self.helpers.append((symbol, definition))

    def inner(self, definition: sp.Expr) -> sp.Symbol:
        """The chain rule's letter for `definition`: the one it already has
        (the same inner function in each derivative of a gradient), else a
        fresh one."""
        for symbol, known in self.helpers:
            if known == definition and symbol.name.rstrip("0123456789") in CHAIN_LETTERS:
                return symbol
        symbol = self.fresh(CHAIN_LETTERS)
        self.define(symbol, definition)
        return symbol

    def line(self, rule: str, of, wrt, forms=(), parts=(), say: Say = Say(), titled=True, **extra) -> Line:
        return Line(rule, of, wrt, tuple(forms), tuple(parts), notation=say.notation, name=say.name,
                    partial=self.is_partial(wrt), target=say.target, titled=titled, **extra)

    def is_partial(self, wrt) -> bool:
        """A derivative by one of several variables: of the problem, or of f(x, y) in z = f(x(t), y(t))."""
        return (self.partial and wrt in self.variables) or wrt in self.several

    def derivative_part(self, name, of, wrt, expr, rule: str = "", notation: str = "prime") -> Part:
        return Part("derivative", name, expr, of, wrt, rule, notation, self.is_partial(wrt))


Narrator = Callable[[Step, _Teller, dict, Say, tuple | None], Told]


def _tail(step: Step, scope: dict, tail) -> tuple:
    # An inner line ends with its node's result as the rules built it: tidying
    # every inner result would cost more than the rest of the narration.
    return tail if tail else (_mapped(step.result, scope),)


def _one_or_three(t: _Teller, step: Step, scope: dict, say: Say, parts: list, before: list,
                  forms: tuple) -> Told:
    """A rule told in one line when nothing needs a line of its own, else a
    heading naming its parts, the parts' lines, and the rule's formula filled in."""
    of, wrt = _mapped(step.expr, scope), _mapped(step.wrt, scope)
    if not before:
        return Told((t.line(step.rule, of, wrt, forms, parts, say),), forms[-1])
    heading = t.line(step.rule, of, wrt, (), parts, say)
    closing = t.line(step.rule, of, wrt, forms, (), say, titled=False)
    return Told((heading, *before, closing), forms[-1])


# ---------------------------------------------------------------------------
# worked: the tutor's key
# ---------------------------------------------------------------------------

def _worked(step: Step, t: _Teller, scope: dict, say: Say, tail=None) -> Told:
    if step.rule == "simplify":
        finals = tuple(_mapped(form, scope) for role, form in step.parts if role == "via")
        return _worked(step.substeps[0], t, scope, say, finals + (_mapped(step.result, scope),))
    for identity in IDENTITIES:
        told = identity(step, t, scope, say, tail)
        if told is not None:
            return told
    if trivial(step) or step.rule not in WORKED:
        return _told_at_sight(step, t, scope, say, tail)
    return WORKED[step.rule](step, t, scope, say, tail)


def _told_at_sight(step, t, scope, say, tail) -> Told:
    forms = tail or (_mapped(step.result, scope),)
    return Told((t.line(lead_rule(step), _mapped(step.expr, scope), _mapped(step.wrt, scope), forms, (), say),),
                forms[-1])


def _part(sub: Step, name, of, t: _Teller, scope: dict, allow_short: bool = True,
          notation: str = "prime") -> tuple[sp.Expr, list, Part | None]:
    """A part's derivative: folded into the phrase (trivial, or short with
    its rule named), or derived in lines of its own."""
    wrt = _mapped(sub.wrt, scope)
    if trivial(sub):
        derived = _mapped(sub.result, scope)
        return derived, [], t.derivative_part(name, of, wrt, derived, notation=notation)
    if allow_short and short(sub):
        derived = _mapped(sub.result, scope)
        return derived, [], t.derivative_part(name, of, wrt, derived, lead_rule(sub), notation)
    told = _worked(sub, t, scope, Say(notation if name is not None else "bracket", name))
    return told.value, list(told.lines), None


def _worked_chain(step, t, scope, say, tail) -> Told:
    """Chain rule, outer f(u), inner u = g(x), u' = ...: f'(x) = f'(u) u' = ..."""
    outer_step, inner_step = step.substeps
    p = dict(step.parts)
    inner = _mapped(p["inner"], scope)
    u = t.inner(inner)
    inside = t.rename(outer_step, _scoped(scope, p["u"], u))
    parts = [Part("outer", None, _mapped(p["outer"], inside)), Part("inner", u, inner)]
    before: list = []
    if trivial(outer_step):
        outer_rate = _mapped(outer_step.result, inside)
    else:
        told = _worked(outer_step, t, inside, Say("bracket"))
        before += told.lines
        outer_rate = told.value
    # A chain inside a chain is a line of its own (a three-level chain is two chain lines).
    rate, lines, part = _part(inner_step, u, inner, t, scope, allow_short=lead_rule(inner_step) != "chain")
    before += lines
    parts += [part] if part else []
    forms = _forms(dot(outer_rate, rate), *_tail(step, scope, tail))
    return _one_or_three(t, step, scope, say, parts, before, forms)


def _worked_two_parts(form):
    """A rule of two named parts f and g (product, quotient): f = ..., g = ...,
    each part's rate told before the line, then `form(f, g, f', g')`."""

    def told(step, t, scope, say, tail) -> Told:
        p = dict(step.parts)
        f, g = _mapped(p["f"], scope), _mapped(p["g"], scope)
        a, b = t.fresh(PART_LETTERS), t.fresh(PART_LETTERS)
        parts, before, rates = [Part("name", a, f), Part("name", b, g)], [], []
        for name, of, sub in ((a, f, step.substeps[0]), (b, g, step.substeps[1])):
            rate, lines, part = _part(sub, name, of, t, scope)
            rates.append(rate)
            before += lines
            parts += [part] if part else []
        df, dg = rates
        forms = _forms(form(f, g, df, dg), *_tail(step, scope, tail))
        return _one_or_three(t, step, scope, say, parts, before, forms)

    return told


def _product_form(f, g, df, dg) -> sp.Expr:
    """f g' + g f', the table's order."""
    return _in_order(dot(f, dg), dot(g, df))


def _quotient_form(f, g, df, dg) -> sp.Expr:
    """(g f' - f g') / g^2."""
    return _in_order(dot(g, df), dot(-1, f, dg)) / g**2


def _in_order(*terms) -> sp.Expr:
    """The terms shown in this order (zeros left out)."""
    kept = [term for term in terms if term != 0]
    if not kept:
        return sp.Integer(0)
    return kept[0] if len(kept) == 1 else InOrder(*kept)


def _worked_sum(step, t, scope, say, tail) -> Told:
    """Sum rule, term by term: the terms derived at sight inside the line,
    the others (named by the rule they need) before it."""
    parts, before, rates = [], [], []
    for sub in step.substeps:
        if trivial(sub):
            rates.append(_mapped(sub.result, scope))
        elif short(sub):
            rates.append(_mapped(sub.result, scope))
            parts.append(Part("by", None, _mapped(sub.expr, scope), rule=lead_rule(sub)))
        else:
            told = _worked(sub, t, scope, Say("bracket"))
            before += told.lines
            rates.append(told.value)
    forms = _forms(sp.Add(*rates), *_tail(step, scope, tail))
    return _one_or_three(t, step, scope, say, parts, before, forms)


def _worked_constant_multiple(step, t, scope, say, tail) -> Told:
    """(k f)' = k f': the factor rides along the line that derives f."""
    k = _mapped(dict(step.parts)["k"], scope)
    told = _worked(step.substeps[0], t, scope, say)
    lines = list(told.lines)
    of = _mapped(step.expr, scope)
    inner_of = _mapped(step.substeps[0].expr, scope)
    mine = [i for i, line in enumerate(lines) if line.of == inner_of and line.notation == say.notation
            and line.name == say.name and line.target == say.target and line.forms]
    if not mine:  # f told some other way: k f' on a line of its own
        forms = _forms(dot(k, told.value), *_tail(step, scope, tail))
        closing = t.line("constant_multiple", of, _mapped(step.wrt, scope), forms, (Part("factor", None, k),), say)
        return Told(tuple(lines) + (closing,), forms[-1])
    first = next(i for i, line in enumerate(lines) if line.of == inner_of and line.notation == say.notation
                 and line.name == say.name and line.target == say.target)
    last = mine[-1]
    lines[first] = replace(lines[first], of=of, parts=lines[first].parts + (Part("factor", None, k),))
    closing = lines[last]
    forms = _forms(dot(k, closing.forms[0]), *_tail(step, scope, tail))
    lines[last] = replace(closing, of=of, forms=forms)
    return Told(tuple(lines), forms[-1])


def _worked_log_differentiation(step, t, scope, say, tail) -> Told:
    """f^g = e^(g ln f), so (f^g)' = f^g (g ln f)'."""
    p = dict(step.parts)
    expr = _mapped(step.expr, scope)
    exponent = _mapped(p["g"] * sp.log(p["f"]), scope)
    parts = [Part("rewrite", None, sp.exp(exponent, evaluate=False), of=expr)]
    rate, before, part = _part(step.substeps[0], None, exponent, t, scope)
    if part is not None:
        parts.append(Part("derivative", None, rate, exponent, part.wrt, part.rule, "bracket", part.partial))
    forms = _forms(dot(expr, rate), *_tail(step, scope, tail))
    return _one_or_three(t, step, scope, say, parts, before, forms)


def _worked_multivariable_chain(step, t, scope, say, tail) -> Told:
    """z = f(x(t), y(t)): dz/dt = f_x x'(t) + f_y y'(t)."""
    n = len(step.bindings)
    partials, rates = step.substeps[:n], step.substeps[n:]
    f = _mapped(dict(step.parts)["f"], scope)
    name = t.claim("f") or t.fresh(PART_LETTERS)
    parts, before, terms = [], [], []
    for x, x_t in step.bindings:
        t.define(x, _mapped(x_t, scope))
        parts.append(Part("path", x, _mapped(x_t, scope)))
        t.several |= {x} if n > 1 else set()
    for (x, x_t), partial_step, rate_step in zip(step.bindings, partials, rates):
        f_x, lines, part = _part(partial_step, name, f, t, scope, notation="leibniz")
        before += lines
        parts += [part] if part else []
        x_rate, lines, part = _part(rate_step, x, _mapped(x_t, scope), t, scope, notation="leibniz")
        before += lines
        parts += [part] if part else []
        terms.append(dot(f_x, x_rate))
    forms = _forms(_in_order(*terms), *_tail(step, scope, tail))
    return _one_or_three(t, step, scope, say, parts, before, forms)


def _first_principles(step, t, scope, say, tail) -> Told:
    """f'(x) = lim (f(x + h) - f(x))/h: the quotient, expanded, cancelled, the limit."""
    p = dict(step.parts)
    h = p["h"]
    f, x = _mapped(step.expr, scope), _mapped(step.wrt, scope)
    # The difference quotient as a student first writes it: f(x + h) - f(x), over h.
    quotient = InOrder(f.xreplace({x: InOrder(x, h)}), Dot(-1, f)) / h
    expanded = _mapped(p["expanded"], scope)
    # Expanding changes nothing when f(x + h) has nothing to multiply out (1/(x + h)).
    bodies = (quotient,) + ((expanded,) if expanded != _mapped(p["quotient"], scope) else ()) + (
        _mapped(p["simplified"], scope),)
    limits = tuple(sp.Limit(body, h, 0, dir="+-") for body in bodies)
    forms = _forms(*limits, *_tail(step, scope, tail))
    return Told((t.line(step.rule, _mapped(step.expr, scope), _mapped(step.wrt, scope), forms, (), say),),
                forms[-1])


WORKED: dict[str, Narrator] = {
    "chain": _worked_chain,
    # (fg)' = f g' + g f' and (f/g)' = (g f' - f g') / g^2
    "product": _worked_two_parts(_product_form),
    "quotient": _worked_two_parts(_quotient_form),
    "sum": _worked_sum,
    "difference": _worked_sum,
    "constant_multiple": _worked_constant_multiple,
    "log_differentiation": _worked_log_differentiation,
    "multivariable_chain": _worked_multivariable_chain,
    "first_principles": _first_principles,
}


# ---------------------------------------------------------------------------
# The course's identities, each a single step
# ---------------------------------------------------------------------------

def _logistic(step, t, scope, say, tail) -> Told | None:
    """A loss of y^ = sigma(z), z linear: the cheat-sheet's chain
    dL/dy^ * dy^/dz * dz/dw_k, with the cancellation shown."""
    if step.rule != "chain" or step.substeps[1].rule != "chain" or type(step.parts[1][1]).__name__ != "sigmoid":
        return None
    outer_step, inner_step = step.substeps
    p = dict(step.parts)
    inner = _mapped(p["inner"], scope)
    if trivial(outer_step):
        return None
    activation_step, linear_step = inner_step.substeps
    if activation_step.rule != "sigmoid" or not trivial(linear_step) or step.wrt not in t.variables:
        return None
    yhat, z = t.claim("yhat"), t.claim("z")
    if yhat is None or z is None:
        return None
    wrt = _mapped(step.wrt, scope)
    linear = inner.args[0]
    t.define(z, linear)
    t.define(yhat, inner.func(z))
    inside = t.rename(outer_step, _scoped(scope, p["u"], yhat))
    t.rename(activation_step, _scoped(scope, dict(inner_step.parts)["u"], z))
    loss = _mapped(p["outer"], inside)
    outer_rate = _mapped(outer_step.result, inside)
    course = _course_loss_rate(loss, yhat)
    rate_yhat = course[0] if course is not None else outer_rate
    rate_z = yhat * (1 - yhat)
    rate_w = _mapped(linear_step.result, scope)
    name = sp.Symbol(t.subject.name or "L")
    # The chain named first: the loss as a function of y^, y^ of z, z of w.
    heading = t.line("chain", _mapped(step.expr, scope), wrt, (), (
        Part("outer", None, sp.Function(name.name)(yhat)), Part("inner", yhat, inner.func(z)),
        Part("name", z, linear)), say)
    lines = [
        heading,
        t.line("difference", loss, yhat, _forms(outer_rate, rate_yhat), (), Say("leibniz", name)),
        t.line("sigmoid", inner.func(z), z, (rate_z,), (), Say("leibniz", yhat)),
        t.line(lead_rule(linear_step), linear, wrt, (rate_w,), (), Say("leibniz", z)),
    ]
    product = dot(rate_yhat, rate_z, rate_w)
    if course is not None:  # y^(1 - y^) cancels: (y^ - y) times the rest
        label, scale = course[1:]
        # k (y^ - y) / ln 2 as written: SymPy multiplies k into the sum unless a third factor is there.
        if scale != 1:
            cancelled = sp.Mul(rate_w, yhat - label, scale)
        else:
            cancelled = yhat - label if rate_w == 1 else sp.Mul(rate_w, yhat - label, evaluate=False)
    else:
        cancelled = sp.factor_terms(sp.cancel(value(product)))
    forms = _forms(product, cancelled, *_tail(step, scope, tail))
    lines.append(t.line("chain", _mapped(step.expr, scope), wrt, forms, (), say, titled=False))
    return Told(tuple(lines), forms[-1])


def _course_loss_rate(loss: sp.Expr, yhat: sp.Symbol) -> tuple | None:
    """dL/dy^ = (y^ - y) / (y^ (1 - y^)) (over ln k for log_k), the
    cheat-sheet's form of binary cross-entropy's derivative, where `loss`
    is -y log y^ - (1 - y) log(1 - y^) (checked like every form); with
    the label y and the factor 1/ln k."""
    bases = {a.args[1] for a in loss.atoms(sp.Function) if type(a).__name__ == "log_base"}
    labels = loss.free_symbols - {yhat}
    if len(bases) > 1 or len(labels) != 1:
        return None
    (label,) = labels
    scale = 1 / sp.log(bases.pop()) if bases else sp.Integer(1)
    return (yhat - label) / (yhat * (1 - yhat)) * scale, label, scale


IDENTITIES = (_logistic,)


# ---------------------------------------------------------------------------
# full: one rule application per line, outside in
# ---------------------------------------------------------------------------

def _full(step: Step, t: _Teller, scope: dict, say: Say, tail=None) -> Told:
    if step.rule == "simplify":
        told = _full(step.substeps[0], t, scope, say)
        finals = tuple(_mapped(form, scope) for role, form in step.parts if role == "via")
        forms = _forms(*finals, _mapped(step.result, scope))
        line = t.line("simplify", _mapped(step.expr, scope), _mapped(step.wrt, scope), forms, (), say)
        return Told(told.lines + (line,), forms[-1])
    shown = [s for s in step.substeps if s.rule not in ("constant", "identity")]
    if step.rule == "first_principles":
        return _first_principles(step, t, scope, say, None)
    if not shown or step.rule not in FULL:
        forms = _forms(_combination(step, scope), _mapped(step.result, scope))
        return Told((t.line(step.rule, _mapped(step.expr, scope), _mapped(step.wrt, scope), forms, (), say),),
                    forms[-1])
    return FULL[step.rule](step, t, scope, say)


def _combination(step: Step, scope: dict, rates=None):
    """The rule's formula with the parts' derivatives filled in (None: the rule has none)."""
    p = dict(step.parts)
    rates = rates if rates is not None else [_mapped(s.result, scope) for s in step.substeps]
    if step.rule in _COMBINING:
        return sp.Add(*rates)
    if step.rule == "constant_multiple":
        return dot(_mapped(p["k"], scope), rates[0])
    return None


def _full_parts(step: Step, t: _Teller, scope: dict, named: list) -> tuple[list, list, list]:
    """Each shown substep derived in lines of its own; a composite part is
    named in the heading and its lines use the name."""
    parts, before, rates = [], [], []
    for sub, (label, of) in zip(step.substeps, named):
        of = _mapped(of, scope) if of is not None else None
        if sub.rule in ("constant", "identity"):
            rates.append(_mapped(sub.result, scope))
            continue
        composite = sub.substeps and sub.rule != "simplify"
        if label is None and composite:
            label = t.fresh(PART_LETTERS)
            parts.append(Part("name", label, _mapped(sub.expr, scope)))
        told = _full(sub, t, scope, Say("prime", label) if label is not None else Say("bracket"))
        before += told.lines
        rates.append(told.value)
    return parts, before, rates


def _full_chain(step, t, scope, say) -> Told:
    outer_step, inner_step = step.substeps
    p = dict(step.parts)
    inner = _mapped(p["inner"], scope)
    u = t.inner(inner)
    inside = t.rename(outer_step, _scoped(scope, p["u"], u))
    parts = [Part("outer", None, _mapped(p["outer"], inside)), Part("inner", u, inner)]
    outer = _full(outer_step, t, inside, Say("bracket"))
    rate = _full(inner_step, t, scope, Say("prime", u))
    forms = _forms(dot(outer.value, rate.value), _mapped(step.result, scope))
    return _heading_lines(t, step, scope, say, parts, [*outer.lines, *rate.lines], forms)


def _heading_lines(t, step, scope, say, parts, before, forms) -> Told:
    """A heading naming the parts (a rule without parts to name has none),
    the parts' lines, then the rule once more with its formula filled in."""
    of, wrt = _mapped(step.expr, scope), _mapped(step.wrt, scope)
    heading = (t.line(step.rule, of, wrt, (), parts, say),) if parts else ()
    closing = t.line(step.rule, of, wrt, forms, (), say)
    return Told((*heading, *before, closing), forms[-1])


def _full_factors(step, t, scope, say) -> Told:
    p = dict(step.parts)
    f, g = _mapped(p["f"], scope), _mapped(p["g"], scope)
    a, b = t.fresh(PART_LETTERS), t.fresh(PART_LETTERS)
    heading = [Part("name", a, f), Part("name", b, g)]
    parts, before, (df, dg) = _full_parts(step, t, scope, [(a, None), (b, None)])
    shown = _product_form(f, g, df, dg) if step.rule == "product" else _quotient_form(f, g, df, dg)
    forms = _forms(shown, _mapped(step.result, scope))
    return _heading_lines(t, step, scope, say, heading + parts, before, forms)


def _full_combining(step, t, scope, say) -> Told:
    parts, before, rates = _full_parts(step, t, scope, [(None, None)] * len(step.substeps))
    if step.rule == "constant_multiple":
        parts = [Part("factor", None, _mapped(dict(step.parts)["k"], scope))] + parts
    forms = _forms(_combination(step, scope, rates), _mapped(step.result, scope))
    return _heading_lines(t, step, scope, say, parts, before, forms)


def _full_log_differentiation(step, t, scope, say) -> Told:
    p = dict(step.parts)
    expr = _mapped(step.expr, scope)
    exponent = _mapped(p["g"] * sp.log(p["f"]), scope)
    told = _full(step.substeps[0], t, scope, Say("bracket"))
    forms = _forms(dot(expr, told.value), _mapped(step.result, scope))
    parts = [Part("rewrite", None, sp.exp(exponent, evaluate=False), of=expr)]
    return _heading_lines(t, step, scope, say, parts, list(told.lines), forms)


def _full_multivariable_chain(step, t, scope, say) -> Told:
    n = len(step.bindings)
    name = t.claim("f") or t.fresh(PART_LETTERS)
    parts, before, terms = [], [], []
    for x, x_t in step.bindings:
        t.define(x, _mapped(x_t, scope))
        parts.append(Part("path", x, _mapped(x_t, scope)))
        t.several |= {x} if n > 1 else set()
    for (x, _), partial_step, rate_step in zip(step.bindings, step.substeps[:n], step.substeps[n:]):
        f_x = _full(partial_step, t, scope, Say("leibniz", name))
        x_rate = _full(rate_step, t, scope, Say("leibniz", x))
        before += [*f_x.lines, *x_rate.lines]
        terms.append(dot(f_x.value, x_rate.value))
    paths = {x: _mapped(x_t, scope) for x, x_t in step.bindings}
    shown = _in_order(*terms)
    forms = _forms(shown, shown.xreplace(paths), _mapped(step.result, scope))
    return _heading_lines(t, step, scope, say, parts, before, forms)


FULL: dict[str, Callable] = {
    "chain": _full_chain,
    "product": _full_factors,
    "quotient": _full_factors,
    "sum": _full_combining,
    "difference": _full_combining,
    "constant_multiple": _full_combining,
    "log_differentiation": _full_log_differentiation,
    "multivariable_chain": _full_multivariable_chain,
}


# ---------------------------------------------------------------------------
# A problem's narration
# ---------------------------------------------------------------------------

def narrate(subject: Subject, policy: str = DEFAULT_POLICY) -> Narration:
    """The lines of a problem's key under `policy` (unchecked: see `verify`)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown key policy {policy!r}")
    t = _Teller(subject, policy)
    if policy == "answers":
        lines = _answer_lines(subject, t)
    elif subject.components:
        lines = _jacobian(subject, t)
    else:
        lines = (policy == "worked" and not subject.stages and _cross_entropy(subject, t)) or \
            _each_derivative(subject, t)
    return Narration(policy, tuple(lines), tuple(t.helpers), subject.variables, len(subject.trees), subject.name,
                     tuple(t.renamed))


def _answer_lines(subject: Subject, t: _Teller) -> list[Line]:
    if subject.components and subject.at:
        return [_jacobian_at_point(subject, t)]
    lines = []
    for k, tree in enumerate(subject.trees):
        if k < subject.stages:
            continue  # f' is not an answer of f''
        if subject.at:
            forms, at = (subject.value(k),), subject.at
        else:
            forms, at = (tree.result,), ()
        lines.append(t.line("answer", tree.expr, tree.wrt, forms, (), Say("asked", target=k), titled=False,
                            at=at, final=True))
    return lines


def _each_derivative(subject: Subject, t: _Teller) -> list[Line]:
    tell = _worked if t.policy == "worked" else _full
    per_target = []
    for k, tree in enumerate(subject.trees):
        told = tell(tree, t, {}, Say("asked", target=k), _root_tail(tree))
        lines = list(told.lines)
        if k >= subject.stages:
            if subject.at:
                lines.append(_evaluation(subject, t, k, told.value))
            lines[-1] = replace(lines[-1], final=True)
        per_target.append(lines)
    if subject.stages:  # a higher derivative: each stage in order, nothing shared
        return [line for lines in per_target for line in lines]
    if t.policy == "worked" and len(per_target) > 1 and all(_at_sight(lines) for lines in per_target):
        # Every derivative one line at sight (a gradient of w^T x): one row of answers.
        rules = {lines[0].rule for lines in per_target}
        rule = rules.pop() if len(rules) == 1 else "sum"
        return [Line(rule, None, None, instances=tuple(lines[0] for lines in per_target), final=True)]
    if t.policy == "worked" and len(per_target) > 1 and not subject.at:
        shared = _shared_heading(per_target)
        if shared is not None:
            return [shared] + [replace(lines[0], parts=(), titled=False) for lines in per_target]
    return [line for lines in per_target for line in lines]


def _shared_heading(per_target: list[list[Line]]) -> Line | None:
    """One heading for derivatives told by the same rule on the same parts
    (the chain rule on one inner function, by each w_k): the parts are
    named once and each derivative is a row below them."""
    if not all(len(lines) == 1 for lines in per_target):
        return None
    first = per_target[0][0]
    named_parts = tuple(p for p in first.parts if p.role != "derivative")
    if not named_parts or any(lines[0].rule != first.rule or tuple(p for p in lines[0].parts if p.role != "derivative")
                              != named_parts for lines in per_target):
        return None
    return replace(first, forms=(), parts=named_parts, final=False)


def _root_tail(tree: Step) -> tuple | None:
    """A problem's answer is its tree's result as the sheet tidied it (a
    "simplify" step says so; without one, the result was already tidy)."""
    return None if tree.rule == "simplify" else (tree.result,)


def _at_sight(lines: list[Line]) -> bool:
    return len(lines) == 1 and not lines[0].parts and len(lines[0].forms) == 1 and not lines[0].at


def _evaluation(subject: Subject, t: _Teller, k: int, derivative: sp.Expr) -> Line:
    """The derivative's exact value at the problem's point."""
    tree = subject.trees[k]
    point = dict(subject.at)
    shown, parts = _at_point(derivative, point, t)
    forms = _forms(shown, subject.value(k))
    return t.line("evaluate", tree.expr, tree.wrt, forms, parts, Say("asked", target=k), at=subject.at)


def _at_point(expr: sp.Expr, point: dict, t: _Teller) -> tuple[sp.Expr | None, tuple]:
    """`expr` at the point as a reader evaluates it: softmax components as
    e^{z_k}/S with S the sum of the exponentials (then `S` is defined)."""
    components = [a for a in expr.atoms(sp.Function) if isinstance(a, softmax)]
    if components:
        if any(c.logits != components[0].logits for c in components):
            return None, ()
        s, part = _shorthand(components[0].logits, point, t)
        shown = expr.xreplace({c: sp.exp(c.logits[c.index - 1].xreplace(point)) / s for c in components})
        return shown.xreplace(point), (part,)
    if not any(isinstance(a, sp.Piecewise) for a in sp.preorder_traversal(expr)):
        at = expr.xreplace(point)
        if len(sp.sstr(at)) <= 60:
            return at, ()
    return None, ()


def _shorthand(logits: tuple, point: dict, t: _Teller) -> tuple[sp.Symbol, Part]:
    """S = e^{z_1} + ... + e^{z_K} at the point, defined once per problem."""
    total = sp.Add(*(sp.exp(z.xreplace(point)) for z in logits))
    for symbol, definition in t.helpers:
        if symbol.name.startswith("S") and definition == total:
            return symbol, Part("define", symbol, total)
    s = t.fresh(("S",))
    t.define(s, total)
    return s, Part("define", s, total)


# General indices (plain symbols: printing drops assumptions and would rebuild the sums).
_INDICES = (sp.Symbol("i"), sp.Symbol("j"))


def _cross_entropy(subject: Subject, t: _Teller) -> list[Line] | None:
    """L = -sum_j y_j ln y^_j with y^_j = sigma(z_j): the general result
    dL/dz_i = y^_i - y_i once, by the multivariate chain rule and the
    softmax rule, then each asked z_i (or the gradient at the point)."""
    trees = subject.trees
    shapes = [tree.substeps[0] if tree.rule == "simplify" else tree for tree in trees]
    if not all(s.rule == "multivariable_chain" for s in shapes):
        return None
    bindings = shapes[0].bindings
    paths = [path for _, path in bindings]
    if not paths or not all(isinstance(p, softmax) and p.logits == paths[0].logits for p in paths):
        return None
    logits = paths[0].logits
    yhats = [y for y, _ in bindings]
    loss = dict(shapes[0].parts)["f"]
    labels = [-loss.coeff(sp.log(y)) for y in yhats]
    if sp.expand(loss - sp.Add(*(-c * sp.log(y) for c, y in zip(labels, yhats)))) != 0 or sum(labels) != 1:
        return None
    if any(s.bindings != bindings for s in shapes):
        return None
    K = len(logits)
    for y, path in bindings:
        t.define(y, path)
    general, loss_general, given = _cross_entropy_general(K)
    name = sp.Symbol(subject.name or "L")
    instances = []
    for k, tree in enumerate(trees):
        forms = _cross_entropy_instance(K, tuple(labels), tuple(yhats), logits.index(tree.wrt) + 1)
        instances.append(t.line("multivariable_chain", tree.expr, tree.wrt, forms, (), Say("asked", target=k)))
    i, _ = _INDICES
    _, j = _INDICES
    Z, YHAT = sp.IndexedBase("z"), sp.IndexedBase("yhat")
    general_line = Line("multivariable_chain", loss_general, Z[i], general,
                        (Part("name", YHAT[j], GeneralSoftmax(Z[j])), Part("by", None, None, rule="softmax"),
                         Part("given", None, given)),
                        notation="leibniz", name=name, partial=True, instances=tuple(instances))
    lines = [general_line]
    for k, tree in enumerate(trees):
        index = logits.index(tree.wrt) + 1
        rate = yhats[index - 1] - labels[index - 1]
        if not subject.at:
            lines.append(t.line("multivariable_chain", tree.expr, tree.wrt, _forms(rate, tree.result), (),
                                Say("asked", target=k), titled=False, final=True))
    if subject.at:
        # The gradient at the point, in the shorthand S: one row, not K derivations.
        point = dict(subject.at)
        s, part = _shorthand(logits, point, t)
        rows = []
        for k, tree in enumerate(trees):
            index = logits.index(tree.wrt) + 1
            rate = yhats[index - 1] - labels[index - 1]
            shown = sp.exp(logits[index - 1].xreplace(point)) / s - labels[index - 1]
            # The row shows the forms in S; sheet.json (and the check) end with the value itself.
            rows.append(t.line("evaluate", tree.expr, tree.wrt, (rate, shown, subject.values[k]), (),
                               Say("asked", target=k), at=subject.at))
        forms = tuple(sp.Tuple(*(row.forms[n] for row in rows)) for n in range(2))
        lines.append(Line("evaluate", None, None, forms, (part,), at=subject.at, notation="gradient", name=name,
                          instances=tuple(rows), final=True))
    return lines


@functools.lru_cache(maxsize=8)
def _cross_entropy_general(K: int) -> tuple:
    """dL/dz_i for L = -sum_j y_j ln y^_j, y^_j = sigma(z_j), K classes:
    sum_j (-y_j / y^_j) y^_j (delta_ij - y^_i) = -y_i + y^_i sum_j y_j = y^_i - y_i;
    with L itself and the fact sum_j y_j = 1 the last step uses."""
    i, j = _INDICES
    Y, YHAT = sp.IndexedBase("y"), sp.IndexedBase("yhat")
    general = (
        sp.Sum(dot(-Y[j] / YHAT[j], YHAT[j] * (sp.KroneckerDelta(i, j) - YHAT[i])), (j, 1, K)),
        -Y[i] + YHAT[i] * sp.Sum(Y[j], (j, 1, K)),
        YHAT[i] - Y[i],
    )
    return general, sp.Sum(-Y[j] * sp.log(YHAT[j]), (j, 1, K)), sp.Eq(sp.Sum(Y[j], (j, 1, K)), 1, evaluate=False)


@functools.lru_cache(maxsize=64)
def _cross_entropy_instance(K: int, labels: tuple, yhats: tuple, k: int) -> tuple:
    """The general forms for i = k (each sum written out term by term), with
    this problem's labels and y^'s: what the general line claims for z_k,
    and is checked as. (Remembered: sheets repeat K, the labels and k.)"""
    i, j = _INDICES
    Y, YHAT = sp.IndexedBase("y"), sp.IndexedBase("yhat")
    at_i = {i: k, Y[i]: labels[k - 1], YHAT[i]: yhats[k - 1]}

    def term(n: int) -> dict:
        return {**at_i, j: n, Y[j]: labels[n - 1], YHAT[j]: yhats[n - 1], sp.KroneckerDelta(i, j): 1 if n == k else 0}

    concrete = []
    for form in _cross_entropy_general(K)[0]:
        sums = {total: sp.Add(*(total.function.xreplace(term(n)) for n in range(1, K + 1)))
                for total in form.atoms(sp.Sum)}
        concrete.append(form.xreplace({**sums, **at_i}))
    return _forms(*concrete)


def _jacobian(subject: Subject, t: _Teller) -> list[Line]:
    """A Jacobian: the entries the problem asks to derive in full, the
    general entry by the rule they establish, and the matrix at the point
    with S = sum of the exponentials (entries e^{z_i}(delta_ij S - e^{z_j})/S^2)."""
    tell = _worked if t.policy == "worked" else _full
    lines, by_rule = [], []
    for k, tree in enumerate(subject.trees):
        if tree.substeps:
            lines += tell(tree, t, {}, Say("asked", target=k), _root_tail(tree)).lines
        else:
            by_rule.append(k)
    i, j = _INDICES
    Z = sp.IndexedBase("z")
    instances = tuple(t.line(subject.trees[k].rule, subject.trees[k].expr, subject.trees[k].wrt,
                             (subject.trees[k].result,), (), Say("asked", target=k)) for k in by_rule)
    entry = Dot(GeneralSoftmax(Z[i]), sp.KroneckerDelta(i, j) - GeneralSoftmax(Z[j]))
    lines.append(Line("softmax", GeneralSoftmax(Z[i]), Z[j], (entry,), notation="leibniz",
                      name=GeneralSoftmax(Z[i]), partial=True, instances=instances))
    if subject.at:
        lines.append(_jacobian_at_point(subject, t))
    return lines


def _jacobian_at_point(subject: Subject, t: _Teller) -> Line:
    """The Jacobian at the point as (1/S^2) times a matrix of short entries."""
    point = dict(subject.at)
    width = len(subject.trees) // len(subject.components)
    logits = subject.components[0][1].logits
    s, part = _shorthand(logits, point, t)
    rows, entries = [], []
    for k, tree in enumerate(subject.trees):
        r, c = divmod(k, width)
        e_i, e_j = sp.exp(logits[r].xreplace(point)), sp.exp(logits[c].xreplace(point))
        scaled = e_i * ((1 if r == c else 0) * s - e_j)
        entries.append(scaled)
        rows.append(t.line("evaluate", tree.expr, tree.wrt, (dot(s**-2, scaled),), (), Say("asked", target=k),
                           at=subject.at))
    matrix = sp.ImmutableMatrix(len(subject.components), width, entries)
    return Line("evaluate", None, None, (dot(s**-2, matrix),), (part,), at=subject.at, notation="asked",
                target=-1, instances=tuple(rows), final=True)


class KeyFailedCheck(AssertionError):
    """A key's line does not equal the derivative it states: a bug in the
    narration (the tree itself passed the oracle), so nothing is printed."""


def checked_key(subject: Subject, policy: str, points: list[dict]) -> Narration:
    """The key of `subject` (whose trees passed the oracle) under `policy`,
    every line checked at `points`. The answers level states each tree's
    result or value, which the oracle has already confirmed."""
    key = narrate(subject, policy)
    if policy != "answers":
        verdict = verify(key, subject, points)
        if not verdict.ok:
            raise KeyFailedCheck(f"the {policy} key failed its check: {verdict.detail}")
    return key


# ---------------------------------------------------------------------------
# Checking every line
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Known:
    """What the oracle has already confirmed for the trees being narrated:
    every node's result (and a simplify step's shown form) is its
    expression's derivative, every value at the point is right. A form
    structurally equal to one of these is already checked; any other form is
    checked against one that is (or, failing one, against the derivative)."""

    derivatives: frozenset
    values: frozenset
    equal: frozenset  # pairs of expressions shown equal (first principles' rewritings)

    @staticmethod
    def of(subject: Subject, renamed: tuple = ()) -> "_Known":
        derivatives, equal = set(), set()
        for subtree, scope in renamed:
            mapping = dict(scope)
            derivatives |= {(node.expr.xreplace(mapping), node.wrt.xreplace(mapping), node.result.xreplace(mapping))
                            for node in subtree.walk()}
        if len(_VALUES) >= _VALUES_LIMIT:
            _VALUES.clear()
        for tree in subject.trees:
            for node in tree.walk():
                # The step engine never builds a shown form: each expression is its own value.
                _VALUES[node.expr], _VALUES[node.result] = node.expr, node.result
                derivatives.add((node.expr, node.wrt, node.result))
                derivatives.update((node.expr, node.wrt, form) for role, form in node.parts if role == "via")
                if node.rule == "first_principles":
                    p = dict(node.parts)
                    equal |= {(p["quotient"], p["expanded"]), (p["expanded"], p["simplified"]),
                              (p["quotient"], p["simplified"])}
        values = {(tree.expr, tree.wrt, subject.at, subject.value(k)) for k, tree in enumerate(subject.trees)
                  if subject.value(k) is not None}
        return _Known(frozenset(derivatives), frozenset(values), frozenset(equal))



def verify(narration: Narration, subject: Subject, points: list[dict]) -> Verdict:
    """Every line's forms equal the derivative it states and each other, and
    every derivative a phrase states is right, at `points` (numerically,
    with the oracle; helper variables substituted back). `subject`'s trees
    must have passed the oracle (`check.check_tree`) at the same points."""
    known = _Known.of(subject, narration.renamed)
    # With the helpers' values, computed when a form first needs a numeric check.
    helper_points = functools.cache(lambda: _helper_points(narration, points))
    for line in narration.lines:
        for checked in line.instances or (line,):
            verdict = _verify_line(narration, checked, known, helper_points)
            if not verdict.ok:
                return verdict
            for part in line.parts:
                if part.role == "derivative":
                    verdict = _verify_claim(narration, part.of, part.wrt, (part.expr,), known, helper_points)
                    if not verdict.ok:
                        return Verdict(False, f"the derivative named in a {line.rule} line: {verdict.detail}")
    return Verdict(True)


def _helper_points(narration: Narration, points: list[dict]) -> list[dict]:
    """The points with each helper variable's value there (points where a
    helper is undefined are left out)."""
    if not narration.helpers:
        return points
    symbols = sorted(points[0], key=lambda s: s.name)
    functions = [(h, numeric_function(symbols, narration.back(d))) for h, d in narration.helpers]
    out = []
    with mpmath.workdps(30):
        for point in points:
            args = [point[s] for s in symbols]
            extended = dict(point)
            for h, fn in functions:
                try:
                    v = fn(*args) if fn is not None else None
                except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                    v = None
                if v is None or not mpmath.isfinite(v) or isinstance(v, mpmath.mpc):
                    break
                extended[h] = v
            else:
                out.append(extended)
    return out or points


def _verify_line(narration, line: Line, known: _Known, helper_points) -> Verdict:
    if not line.forms or line.of is None:
        return Verdict(True)
    if line.at:
        verdict = _verify_values(narration, line, known)
    else:
        verdict = _verify_claim(narration, line.of, line.wrt, line.forms, known, helper_points)
    if verdict.ok:
        return verdict
    # Named only on failure: printing costs more than most checks.
    where = f"{line.rule} line d/d{line.wrt} {sp.sstr(line.of)}" + (f" at {sp.sstr(line.at)}" if line.at else "")
    return Verdict(False, f"{where}: {verdict.detail}")


def _verify_values(narration, line: Line, known: _Known) -> Verdict:
    """Each form is the derivative's value at the point: equal to the value
    the oracle confirmed, else confirmed by a numeric derivative there."""
    point = dict(line.at)
    of = narration.back(line.of)
    shown = [narration.evaluated(form).xreplace(point) for form in line.forms]
    if any(v.free_symbols for v in shown):
        return Verdict(False, "a value still has a variable")
    anchors = [v for v in shown if (line.of, line.wrt, line.at, v) in known.values]
    if not anchors:
        if not value_agrees(of, line.wrt, shown[-1], point):
            return Verdict(False, f"{sp.sstr(line.forms[-1])} is not the derivative there")
        anchors = [shown[-1]]
    anchor = _number(anchors[0])
    for v, form in zip(shown, line.forms):
        if v not in anchors and not _equal_numbers(anchor, _number(v)):
            return Verdict(False, f"{sp.sstr(form)} is not the derivative there")
    return Verdict(True)


def _number(expr: sp.Expr):
    """A closed form's value at the oracle's precision (None: undefined)."""
    fn = numeric_function((), expr)
    if fn is None:
        return None
    with mpmath.workdps(DIGITS):
        try:
            out = fn()
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
    return out if isinstance(out, mpmath.mpf) and mpmath.isfinite(out) else None


def _equal_numbers(a, b) -> bool:
    """Equal within the oracle's relative tolerance."""
    return a is not None and b is not None and abs(a - b) <= TOLERANCE * max(1, abs(a), abs(b))


def _verify_claim(narration, of, wrt, forms, known: _Known, helper_points) -> Verdict:
    """forms[0] is d`of`/d`wrt`; each next form equals the one before. Forms
    the oracle has confirmed (`_Known`) anchor the others. Limits (first
    principles) are checked through their bodies: the first is the
    difference quotient of `of`, each equals the next for h != 0, and the
    last at h = 0 is the form after the limits."""
    keep = wrt
    # A form that is one of the tree's own expressions (no shown product in
    # it) may be a result the oracle confirmed, as written.
    raw = [(of, wrt, form) in known.derivatives and _VALUES.get(form) is form for form in forms]
    if all(raw):
        return Verdict(True)
    backed_of = narration.back(of, keep)
    values = [narration.evaluated(form, keep) for form in forms]
    limits = [v for v in values if isinstance(v, sp.Limit)]
    values, raw = values[len(limits):], raw[len(limits):]
    shown = forms[len(limits):]
    if not values:
        return Verdict(False, "a limit is never taken")
    of = backed_of
    confirmed = [r or (of, wrt, v) in known.derivatives for r, v in zip(raw, values)]
    if all(confirmed) and not limits:
        return Verdict(True)
    pts = helper_points()
    if not any(confirmed):
        verdict = derivative_agrees(of, wrt, values[0], pts)
        if not verdict.ok:
            return Verdict(False, f"{sp.sstr(shown[0])}: {verdict.detail}")
        confirmed[0] = True
    anchor = confirmed.index(True)
    # Outwards from the anchor, each form equal to its confirmed neighbour.
    order = [(k, k + 1) for k in range(anchor - 1, -1, -1)] + [(k, k - 1) for k in range(anchor + 1, len(values))]
    for k, neighbour in order:
        if confirmed[k] or _same(values[k], values[neighbour]):
            confirmed[k] = True
            continue
        verdict = expressions_agree(values[neighbour], values[k], pts)
        if not verdict.ok:
            return Verdict(False, f"{sp.sstr(shown[k])} differs from the form beside it: {verdict.detail}")
        confirmed[k] = True
    if limits:
        return _verify_limits(of, wrt, limits, values[0], pts, known)
    return Verdict(True)


def _verify_limits(of, wrt, limits: list, after: sp.Expr, points, known: _Known) -> Verdict:
    h = limits[0].args[1]
    bodies = [limit.args[0] for limit in limits]
    with_h = [{**p, h: mpmath.mpf("0.05") + mpmath.mpf("0.1") * i} for i, p in enumerate(points)]
    quotient = (of.xreplace({wrt: wrt + h}) - of) / h
    for before, body in zip([quotient] + bodies, bodies):
        if _same(before, body) or (before, body) in known.equal:
            continue
        verdict = expressions_agree(before, body, with_h)
        if not verdict.ok:
            return Verdict(False, f"the limit of {sp.sstr(body)}: {verdict.detail}")
    verdict = expressions_agree(bodies[-1].xreplace({h: 0}), after, points)
    return verdict if verdict.ok else Verdict(False, f"the last limit is not {sp.sstr(after)}: {verdict.detail}")


def forget() -> None:
    """Drop the remembered values (see `forms.forget`)."""
    _VALUES.clear()


# ---------------------------------------------------------------------------
# Phrases: what a line says before its formula, format-neutral
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Named:
    """A derivative as a key names it: u', dL/dy^, d/dx [x^2], f'(x)."""

    notation: str
    name: sp.Expr | None
    of: sp.Expr | None
    wrt: sp.Expr | None
    partial: bool = False
    target: int = 0
    at: tuple = ()


def named(line: Line) -> Named:
    return Named(line.notation, line.name, line.of, line.wrt, line.partial, line.target, line.at)


# A phrase is a tuple of segments: plain English (str), or a formula (a tuple
# of SymPy expressions and `Named` derivatives, printed joined by " = ").
Segment = str | tuple

_TITLES = {"evaluate": "", "answer": "", "worked": ""}


def title(rule: str) -> str:
    return _TITLES[rule] if rule in _TITLES else RULES[rule].title


def phrase(line: Line) -> tuple[Segment, ...]:
    """The words before a line's formula: the rule and the parts it names."""
    if line.at and (line.parts or line.titled):
        out: list = ["At "]
        for n, (symbol, point) in enumerate(line.at):
            out += [", "] if n else []
            out.append((symbol, point))
    elif not line.titled:
        return ()
    elif line.label:  # a worked key's row says what it is in words (worked.narration)
        return (line.label + ":",)
    else:
        out = [title(line.rule)]
    for part in line.parts:
        out += [", "] + _part_segments(part)
    if line.instances and line.forms and not line.at and line.notation != "gradient":
        out += [", for every " + ("i and j" if line.rule == "softmax" else "i")]
    return tuple(out) + (":",)


def _part_segments(part: Part) -> list:
    rule = title(part.rule).lower() if part.rule else ""
    if part.role == "outer":
        return ["outer ", (part.expr,)]
    if part.role == "inner":
        return ["inner ", (part.name, part.expr)]
    if part.role in ("name", "path"):
        return [(part.name, part.expr)]
    if part.role == "define":
        return ["with ", (part.name, part.expr)]
    if part.role == "derivative":
        said = Named(part.notation, part.name, part.of, part.wrt, part.partial)
        return [(said, part.expr)] + ([" (%s)" % rule] if rule else [])
    if part.role == "factor":
        return ["constant factor ", (part.expr,)]
    if part.role == "rewrite":
        return [(part.of, part.expr)]
    if part.role == "by":
        return ["%s for " % rule, (part.expr,)] if part.expr is not None else ["with the " + rule]
    if part.role == "given":
        return ["as ", (part.expr,)]
    raise ValueError(f"unknown part role {part.role!r}")
