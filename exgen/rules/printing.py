"""LaTeX printing helpers for function rules (the `latex` of a FunctionRule).

One reading only: an argument other than a single symbol or k times a symbol
is bracketed (sin 3x, but sigma(x^2 + 1)); a power of a function whose
argument is bracketed wraps the whole application, (log_3(4x + 3))^4, never
log_3(4x + 3)^4.
"""


def simple_argument(arg) -> bool:
    """x, 3x, -2x: a reader cannot take part of what follows for the argument."""
    if arg.is_Symbol:
        return True
    if arg.is_Mul and len(arg.args) == 2:
        number, rest = arg.args
        return number.is_Number and rest.is_Symbol
    return False


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
        if simple_argument(arg):
            body = r"%s %s" % (name, printer._print(arg))
        else:
            body = r"%s\left(%s\right)" % (name, printer._print(arg))
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)
    return latex


def with_parameter(name: str, parameter: str):
    """name_{a}(u): a function with a constant of its own (leaky ReLU's slope)."""
    def latex(printer, expr, exp=None):
        u, a = expr.args
        body = r"%s_{%s}\left(%s\right)" % (name, printer._print(a), printer._print(u))
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)
    return latex

