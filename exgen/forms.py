"""Textbook forms: how an answer is tidied and printed.

`simplify()` is slow (tens of milliseconds, seconds on bad cases) and picks
odd forms, so exgen never calls it. `tidy` tries a few cheap, predictable
rewrites (`factor_terms`, `together`) and keeps the one that prints shortest;
ties keep the earlier, less rewritten form.

`tex` is the one LaTeX printer of exgen: `\\ln` not `\\log`, `\\ln 2` and
`\\sin 3x` without brackets where no reader could misread them.
"""

import sympy as sp
from sympy.printing.latex import LatexPrinter


class TextbookLatexPrinter(LatexPrinter):
    def __init__(self):
        super().__init__({"ln_notation": True, "fold_func_brackets": True})

    def _print_log(self, expr, exp=None):
        (arg,) = expr.args
        name = r"\ln" if exp is None else r"\ln^{%s}" % exp
        if arg.is_Symbol or (arg.is_Integer and arg.is_positive):
            return r"%s %s" % (name, self._print(arg))
        return r"%s\left(%s\right)" % (name, self._print(arg))


_PRINTER = TextbookLatexPrinter()


def tex(expr) -> str:
    """LaTeX for `expr` in exgen's textbook style."""
    return _PRINTER.doprint(expr)


def printed_length(expr: sp.Expr) -> int:
    return len(tex(expr))


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest-printing of a few cheap equivalent forms of `expr`."""
    if not isinstance(expr, sp.Expr) or expr.is_Atom:
        return expr
    candidates = [expr, sp.factor_terms(expr)]
    if any(t.is_Pow and t.exp.is_negative for t in sp.preorder_traversal(expr)):
        candidates.append(sp.factor_terms(sp.together(expr)))
    return min(candidates, key=printed_length)
