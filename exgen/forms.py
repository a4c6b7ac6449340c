"""Textbook forms: how an answer is tidied and printed.

`simplify()` is slow (tens of milliseconds, seconds on bad cases) and picks
odd forms, so exgen never calls it. `tidy` tries a few cheap, predictable
rewrites (`factor_terms`, `together`) and keeps the one that prints shortest;
ties keep the earlier, less rewritten form.

`tex` is the one LaTeX printer of exgen: `\\ln` not `\\log`, `\\ln 2` and
`\\sin 3x` without brackets where no reader could misread them.
"""

import functools
import re

import sympy as sp
from sympy.core.function import AppliedUndef, DefinedFunction
from sympy.core.relational import Relational
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .registry import RULES


# Symbol names of the ML topics and how the course documents write them.
SYMBOL_LATEX = {"yhat": r"\hat{y}"}


class RememberingPrinter:
    """A SymPy printer that remembers each sub-expression's output: a
    derivation prints every node's expression and result, and each holds its
    children's, so most sub-expressions are printed many times.

    Sound because the printers below print an expression the same way
    wherever it occurs (their settings never change) and SymPy's == is
    structural (x*2 and 2*x unevaluated, x and x real, 0.5 and 1/2 are all
    unequal). Not remembered: calls with keyword arguments (a power's
    exponent) and Floats, whose str() depends on the printing depth."""

    MEMO_SIZE = 20_000  # sub-expressions kept at most (then forgotten all at once)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._memo: dict = {}

    def _print(self, expr, **kwargs):
        if kwargs or not isinstance(expr, sp.Basic) or isinstance(expr, sp.Float):
            return super()._print(expr, **kwargs)
        memo = self._memo
        # A printer may print the same expression two ways by setting (a
        # function's argument bracketed inside a product): the setting is part of the key.
        key = (expr, self._settings.get("fold_func_brackets"))
        out = memo.get(key)
        if out is None:
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            out = memo[key] = super()._print(expr)
        return out


class TextbookLatexPrinter(RememberingPrinter, LatexPrinter):
    def __init__(self, order: str | None = None):
        # `order`: SymPy's term order ("none": as built; None: SymPy's default).
        super().__init__({"ln_notation": True, "fold_func_brackets": True, "order": order})

    def _print_Symbol(self, expr, style="plain"):
        name = expr.name
        if name in SYMBOL_LATEX:
            return SYMBOL_LATEX[name]
        if name.startswith("delta_"):  # a unit's delta in a backward pass: delta_o1 is \delta_{o_{1}}
            return r"\delta_{%s}" % self._print_Symbol(sp.Symbol(name[len("delta_"):]))
        stem = name.rstrip("0123456789")
        if stem in SYMBOL_LATEX and stem != name:
            return r"%s_{%s}" % (SYMBOL_LATEX[stem], name[len(stem):])
        return super()._print_Symbol(expr, style)

    def _needs_function_brackets(self, expr) -> bool:
        """One reading only: sin x and sin 3x, but sin(x^3), sin(xy), ln(x^2 + 1)
        (sin x^3 could be (sin x)^3, and "y cos xy" could be (y cos x) y)."""
        return not simple_argument(expr)

    def _print_Function(self, expr, exp=None):
        """A function of the rule tables prints as its rule says (arcsin, |u|);
        an arbitrary f(x) as f(x)."""
        rule = RULES.function_for(type(expr))
        if rule is not None and rule.latex is not None:
            return rule.latex(self, expr, exp)
        if isinstance(expr, AppliedUndef):
            body = r"%s(%s)" % (expr.func.__name__, ", ".join(self._print(a) for a in expr.args))
            return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)
        return super()._print_Function(expr, exp)

    def _print_Abs(self, expr, exp=None):
        return self._print_Function(expr, exp)

    def _print_Subs(self, subs):
        """f'(g(x)): an arbitrary function's derivative at the chain rule's inner function."""
        inner = subs.expr
        if len(subs.variables) == 1:
            (variable,), (point,) = subs.variables, subs.point
        if (len(subs.variables) == 1 and isinstance(inner, sp.Derivative) and isinstance(inner.expr, AppliedUndef)
                and inner.expr.args == (variable,) and inner.variables == (variable,)):
            return r"%s'(%s)" % (inner.expr.func.__name__, self._print(point))
        return super()._print_Subs(subs)

    def _print_Derivative(self, expr):
        """f'(x) for an arbitrary function of one variable, as the documents write it."""
        if isinstance(expr.expr, AppliedUndef) and len(expr.expr.args) == 1 and expr.derivative_count == 1:
            return r"%s'(%s)" % (expr.expr.func.__name__, self._print(expr.expr.args[0]))
        return super()._print_Derivative(expr)

    def _print_Add(self, expr, order=None):
        """A leading positive term where there is one: y-hat - y, not -y + y-hat."""
        terms = self._as_ordered_terms(expr, order=order)
        if terms[0].could_extract_minus_sign():
            for i, term in enumerate(terms):
                if not term.could_extract_minus_sign():
                    terms = [term] + terms[:i] + terms[i + 1:]
                    break
        out = self._print(terms[0])
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                # A sum kept whole inside a sum (a key's order) keeps its brackets when negated:
                # a - (1 - b), never a - 1 - b.
                negated = self._print(-term)
                out += " - " + (r"\left(%s\right)" % negated if term.is_Add else negated)
            else:
                out += " + " + self._print(term)
        return out

    def _print_Mul(self, expr):
        """sigma(u) (1 - sigma(u)) in the documents' order; a further factor
        in sigma (1 - 2 sigma(u), of sigma'') follows it. A product in which a
        function written without brackets (ln x, sin 3x) would be followed by
        another factor brackets every function's argument: ln(x) sin(x), never
        ln x sin x (which reads as ln(x sin x))."""
        # (as_ordered_factors would evaluate each factor of a number to sort it)
        factors = list(expr.args) if self._settings["order"] in ("old", "none") else expr.as_ordered_factors()
        primes = [f for f in factors if _arbitrary_prime(f) is not None]
        if len(primes) > 1:
            # f'(g(p(x))) g'(p(x)) p'(x): the chain rule's factors outermost first, as the cheat-sheet writes them.
            primes.sort(key=lambda f: -sp.count_ops(_arbitrary_prime(f)) - len(str(_arbitrary_prime(f))))
            rest = [f for f in factors if f not in primes]
            head = self._print(sp.Mul(*rest)) if rest else ""
            head = {"1": "", "-1": "-"}.get(head, head)
            return (head + " " if head not in ("", "-") else head) + " ".join(self._print(f) for f in primes)
        if self._settings["fold_func_brackets"] and any(_folds(f) for f in factors[:-1]):
            self._settings["fold_func_brackets"] = False
            try:
                return self._print_Mul(expr)
            finally:
                self._settings["fold_func_brackets"] = True
        for s in [f for f in factors if _complement_first(f)]:
            if 1 - s in factors:
                rest = [f for f in factors if f != s and f != 1 - s]
                tail = [f for f in rest if f.is_Add and f.has(s)]
                # One coefficient (-4, not (-1) 4), then the other factors.
                number = sp.Mul(*(f for f in rest if f.is_Number))
                rest = ([number] if number != 1 or not rest else []) + [
                    f for f in rest if f not in tail and not f.is_Number]
                lead = expr.func(*rest, evaluate=False) if len(rest) > 1 else rest[0] if rest else sp.S.One
                head = self._print(lead) if rest else ""
                if head == "-1":
                    head = "-"
                elif head == "1":
                    head = ""
                body = r"%s \left(1 - %s\right)" % (self._print(s), self._print(s))
                body += "".join(r" \left(%s\right)" % self._print(f) for f in tail)
                if rest and head not in ("", "-") and lead.is_Add:
                    head = r"\left(%s\right)" % head
                return (head + " " + body).strip() if head not in ("", "-") else head + body
        return super()._print_Mul(expr)

    def _print_log(self, expr, exp=None):
        (arg,) = expr.args
        name = r"\ln" if exp is None else r"\ln^{%s}" % exp
        # \ln x without brackets, but \ln(2): in a product "\ln 2 \sigma(z)" would read as ln(2 sigma(z)).
        if arg.is_Symbol and self._settings["fold_func_brackets"]:
            return r"%s %s" % (name, self._print(arg))
        return r"%s\left(%s\right)" % (name, self._print(arg))


def _arbitrary_prime(factor):
    """The point of f'(point), an arbitrary function's derivative (a Derivative
    or the chain rule's Subs), else None."""
    if isinstance(factor, sp.Derivative) and isinstance(factor.expr, AppliedUndef) and len(factor.expr.args) == 1:
        return factor.expr.args[0]
    if isinstance(factor, sp.Subs) and isinstance(factor.expr, sp.Derivative) and len(factor.point) == 1:
        return factor.point[0]
    return None


def simple_argument(arg) -> bool:
    """x, 3x: a function's argument no reader can take more or less of (not
    -2x: "arccos - 2x" could be arccos minus 2x)."""
    if arg.is_Symbol:
        return True
    if arg.is_Mul and len(arg.args) == 2:
        number, rest = arg.args
        return number.is_Number and number.is_positive and rest.is_Symbol
    return False


def _folds(factor) -> bool:
    """A factor printed as a function name before a bracketless argument (sin x, ln^2 x)."""
    if factor.is_Pow and factor.exp.is_Integer and factor.exp > 0:
        factor = factor.base
    if not isinstance(factor, sp.Function) or isinstance(factor, (sp.exp, sp.Abs)):
        return False
    rule = RULES.function_for(type(factor))
    if rule is None:
        return len(factor.args) == 1 and simple_argument(factor.args[0])
    return ((rule.latex is None or getattr(rule.latex, "folds", False))
            and simple_argument(factor.args[rule.argument]))


def _complement_first(factor) -> bool:
    rule = RULES.function_for(type(factor))
    return rule is not None and rule.complement_first


_PRINTER = TextbookLatexPrinter()
# The same style, terms and factors in the order they were built: its own
# printer and memo, since `_PRINTER` orders the same sub-expressions elsewhere.
_BUILT_PRINTER = TextbookLatexPrinter(order="none")


def tex_as_built(expr: sp.Basic) -> str:
    """LaTeX of a number as built (a worked key's exact values): ordering its
    terms, SymPy's printer would evaluate each of them."""
    return _BUILT_PRINTER.doprint(expr)


# The longest answer (its LaTeX source) a sheet prints: a problem or a
# multiple-choice option longer than this runs off the page.
MAX_ANSWER_LATEX = 120


@functools.lru_cache(maxsize=8192)
def tex(expr) -> str:
    """LaTeX for `expr` in exgen's textbook style (cached: the guidebook, the
    JSON and the length filters print the same expressions again and again).

    Symbols are printed without their assumptions: with x real, SymPy's
    printer proves exp(-x^2 - 1) has a negative exponent and then calls
    simplify() (and imports sympy.physics) to decide how to typeset it."""
    if isinstance(expr, sp.Basic) and expr.free_symbols:
        expr = _without_assumptions(expr)
    return _PRINTER.doprint(expr)


def _without_assumptions(expr: sp.Basic) -> sp.Basic:
    """The same tree, unevaluated forms included, with each free Symbol
    replaced by the Symbol of its name without assumptions."""
    copy = _rebuilt(expr)
    if copy is not None:
        return copy
    # Other heads are rare: SymPy's own way, which clears SymPy's whole
    # cache twice (entering and leaving evaluate).
    # Only symbols that have assumptions are replaced: xreplace rebuilds
    # whatever holds a replaced symbol, even by itself, and a sum rebuilt
    # unevaluated prints a factor 1.
    plain_symbols = {s: sp.Symbol(s.name) for s in expr.free_symbols
                     if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy) and s != sp.Symbol(s.name)}
    if not plain_symbols:
        return expr
    with sp.evaluate(False):
        return expr.xreplace(plain_symbols)


# Constructors that, given evaluate=False, build exactly what they build under
# `sympy.evaluate(False)` (they only read the global flag when not given one):
# sums, products, powers, and functions without a constructor of their own
# (exp, ln, sin, cos, tanh, every CourseFunction such as sigma or log_k, f(x)).
_PLAIN_FUNCTION_NEW = (sp.Function.__new__, DefinedFunction.__new__, AppliedUndef.__new__)


@functools.lru_cache(maxsize=16384)
def _rebuilt(expr: sp.Basic) -> sp.Basic | None:
    """`_without_assumptions` for trees of the heads above, without touching
    the global evaluate flag (and so SymPy's cache); None for other trees.
    Cached: a derivation's expressions share most of their sub-trees."""
    if isinstance(expr, sp.Symbol):
        return expr if isinstance(expr, sp.Dummy) else sp.Symbol(expr.name)
    if not expr.args:
        return expr
    container = isinstance(expr, _CONTAINERS)
    if not (container or isinstance(expr, _FLAGGED) or _rebuilds_exactly(expr)):
        return None
    args = tuple(_rebuilt(a) for a in expr.args)
    if any(a is None for a in args):
        return None
    if all(new is old for new, old in zip(args, expr.args)):
        return expr
    return expr.func(*args) if container else expr.func(*args, evaluate=False)


# Heads whose constructors rebuild exactly what they are given (no evaluate
# flag, nothing to evaluate): the limits, tuples, matrices, sums and indexed
# symbols a key prints. Rebuilt here they never take SymPy's slow way above.
_CONTAINERS = (sp.Tuple, sp.Limit, sp.ImmutableDenseMatrix, sp.Sum, sp.Indexed, sp.IndexedBase, ExprCondPair)
# Heads that rebuild exactly given evaluate=False, like sums and products: a
# ReLU's piecewise derivative and its conditions, f'(x) of the general rules.
_FLAGGED = (sp.Piecewise, sp.Derivative, Relational)


def exact_dumps(obj) -> bytes:
    """`pickle.dumps(obj)` that keeps every expression exactly as built.

    SymPy pickles an expression as its head and arguments and rebuilds it by
    calling the head, which evaluates: the tidied 2 (w_0 + 3) would come back
    as 2 w_0 + 6. Sums, products, powers and plain functions are rebuilt here
    with evaluate=False, which rebuilds exactly (see `_PLAIN_FUNCTION_NEW`);
    other heads (symbols, numbers, matrices) pickle as SymPy pickles them."""
    import io
    import pickle

    class ExactPickler(pickle.Pickler):
        def reducer_override(self, expr):
            if isinstance(expr, sp.Basic) and expr.args and _rebuilds_exactly(expr):
                return _unevaluated, (expr.func, expr.args)
            return NotImplemented

    buffer = io.BytesIO()
    ExactPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _rebuilds_exactly(expr: sp.Basic) -> bool:
    return (isinstance(expr, (sp.Add, sp.Mul, sp.Pow))
            or (isinstance(expr, sp.Function) and type(expr).__new__ in _PLAIN_FUNCTION_NEW))


def _unevaluated(head, args):
    return head(*args, evaluate=False)


class _PlainPrinter(RememberingPrinter, StrPrinter):
    """`sympy.sstr` (a StrPrinter with default settings), remembering."""


_PLAIN_PRINTER = _PlainPrinter()


@functools.lru_cache(maxsize=8192)
def plain(expr) -> str:
    """SymPy's own string form (the sheet.json strings), cached like `tex`."""
    return _PLAIN_PRINTER.doprint(expr)


def printed_length(expr: sp.Expr) -> int:
    """Length of the LaTeX: brackets count, so flat sums beat nested fractions."""
    return len(tex(expr))


def visible_length(expr: sp.Expr) -> int:
    """What a reader sees: the LaTeX without sizing commands, spaces and braces."""
    return len(re.sub(r"\\left|\\right|[\s{}]", "", tex(expr)))


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest-printing of a few cheap equivalent forms of `expr`."""
    if not isinstance(expr, sp.Expr) or expr.is_Atom:
        return expr
    candidates = [expr, sp.factor_terms(expr)]
    if any(t.is_Pow and t.exp.is_negative for t in sp.preorder_traversal(expr)):
        combined = sp.together(expr)
        if combined != expr:  # else its factor_terms is the one above
            candidates.append(sp.factor_terms(combined))
    distinct = list(dict.fromkeys(candidates))  # often the rewrites change nothing
    best = min(distinct, key=printed_length) if len(distinct) > 1 else expr
    return _numeric_factor_out(best)


def _numeric_factor_out(expr: sp.Expr) -> sp.Expr:
    """2 (1 - tanh^2 u) rather than 2 - 2 tanh^2 u: SymPy distributes a number
    over a sum on construction, so the factored form is kept unevaluated."""
    if not expr.is_Add:
        return expr
    content, rest = expr.primitive()
    nodes = list(sp.preorder_traversal(rest))
    if (content in (1, -1) or not any(isinstance(a, sp.Function) for a in nodes)
            or any(a.is_Pow and a.exp.is_negative for a in nodes)):
        return expr
    factored = sp.Mul(content, rest, evaluate=False)
    return factored if visible_length(factored) <= visible_length(expr) + 2 else expr


def forget() -> None:
    """Drop every remembered printing (a roster worker between students: the
    next sheet's expressions are new, and a full memo costs tens of MB)."""
    for remembered in (tex, plain, _rebuilt):
        remembered.cache_clear()
    _PRINTER._memo.clear()
    _BUILT_PRINTER._memo.clear()
    _PLAIN_PRINTER._memo.clear()
