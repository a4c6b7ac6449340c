"""LaTeX printing helpers for function rules (the `latex` of a FunctionRule).

One reading only: an argument other than a single symbol or k times a symbol
is bracketed (sin 3x, but sigma(x^2 + 1)); a power of a function whose
argument is bracketed wraps the whole application, (log_3(4x + 3))^4, never
log_3(4x + 3)^4.
"""

from ..forms import simple_argument


def bracketed(name: str):
    """name(u) always with brackets (sigma, ReLU): the documents print them so."""
    def latex(printer, expr, exp=None):
        body = r"%s\left(%s\right)" % (name, printer._print(expr.args[0]))
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)
    return latex


def operator(name: str):
    """name x for a simple argument, name(u) otherwise (arcsin 2x, arcsin(x^2))."""
    def latex(printer, expr, exp=None):
        arg = expr.args[0]
        if simple_argument(arg) and printer._settings.get("fold_func_brackets", True):
            body = r"%s %s" % (name, printer._print(arg))
        else:
            body = r"%s\left(%s\right)" % (name, printer._print(arg))
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)
    latex.folds = True  # prints a simple argument without brackets (see forms._folds)
    return latex
