"""Writers: a narration (`narrate.py`) printed as LaTeX, plain Unicode or JSON.

Each writer prints the same lines; none decides what a key says. The LaTeX
writer feeds the templates (and the planned HTML/MathJax export: the same
LaTeX inside the page), the text writer `exgen solve`, the JSON writer
sheet.json's `lines`.

LaTeX is never shrunk to fit: a right-hand side wider than the line breaks
at a top-level + or - (else between factors) and continues on the next row;
a long left-hand side gets a row of its own.
"""

import functools
import re
from typing import Callable

import sympy as sp

from .forms import plain, tex
from .narrate import Line, Named, Narration, named, phrase
from .textprint import text

# ---------------------------------------------------------------------------
# How wide printed math is
# ---------------------------------------------------------------------------

# Widths in units of an average letter of 11 pt math (measured: 6.0 to 6.6
# pt in displays): the text block is 481 pt, about 76 units; a row keeps a
# margin for the left side's alignment and a box.
ROW = 72
_COMMAND_WIDTH = {"cdot": 1.6, "quad": 2.0, "qquad": 4.0, "left": 0.0, "right": 0.0, "big": 0.0, "Big": 0.0,
                  "bigl": 0.0, "bigr": 0.0, "displaystyle": 0.0, "mathbf": 0.0, "mathrm": 0.0, "text": 0.0,
                  "operatorname": 0.0, "hat": 0.0, "nabla": 1.2, "ldots": 2.0, "dots": 2.0, "leq": 1.8,
                  "geq": 1.8, "neq": 1.8, "to": 1.8, "partial": 1.0, "boxed": 0.6, "sum": 1.5, "lim": 2.0,
                  "ln": 1.8, "log": 2.4, "sin": 2.4, "cos": 2.6, "tan": 2.6, "tanh": 3.4, "otherwise": 6.0,
                  "delta": 1.0, "sigma": 1.1, "in": 1.5, "infty": 1.4, ",": 0.3, ":": 0.4, ";": 0.5, " ": 0.5,
                  "!": 0.0}
_OPERATOR = {"+": 2.2, "-": 2.2, "=": 2.3, "<": 2.2, ">": 2.2, "&": 0.0, ",": 0.9, "(": 0.7, ")": 0.7,
             "[": 0.6, "]": 0.6, "|": 0.5, "'": 0.4, ".": 0.4}


def _group(latex: str, start: int) -> int:
    """The index just past the {...} group starting at `start`."""
    depth = 0
    for i in range(start, len(latex)):
        if latex[i] == "{":
            depth += 1
        elif latex[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(latex)


def _argument(latex: str, i: int) -> tuple[str, int]:
    """The next argument of a command: a {group} or one character."""
    while i < len(latex) and latex[i] == " ":
        i += 1
    if i < len(latex) and latex[i] == "{":
        end = _group(latex, i)
        return latex[i + 1:end - 1], end
    return latex[i:i + 1], i + 1


@functools.lru_cache(maxsize=8192)
def width(latex: str) -> float:
    """An estimate of the printed width of inline/display math, in units of
    an average 11 pt math letter (fractions count their wider half, scripts
    70%, matrices their widest row)."""
    total, i = 0.0, 0
    while i < len(latex):
        ch = latex[i]
        if ch == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", latex[i:])
            name = match.group(1)
            i += len(match.group())
            if name in ("frac", "dfrac"):
                top, i = _argument(latex, i)
                bottom, i = _argument(latex, i)
                total += max(width(top), width(bottom)) + 0.6
            elif name == "begin":
                env, i = _argument(latex, i)
                end = latex.find(r"\end{%s}" % env, i)
                body = latex[i:end if end >= 0 else len(latex)]
                i = (end + len(r"\end{%s}" % env)) if end >= 0 else len(latex)
                rows = re.split(r"\\\\", body)
                total += max(sum(width(cell) + 2.0 for cell in row.split("&")) for row in rows) + 1.5
            elif name in ("text", "operatorname", "mathrm"):
                body, i = _argument(latex, i)
                total += 0.9 * len(body)
            elif name in ("mathbf", "hat", "boxed", "sqrt"):
                body, i = _argument(latex, i)
                total += width(body) + (_COMMAND_WIDTH.get(name, 0.0) if name != "sqrt" else 1.2)
            else:
                total += _COMMAND_WIDTH.get(name, 1.0)
        elif ch in "^_":
            body, i = _argument(latex, i + 1)
            total += 0.7 * width(body)
        elif ch in "{} \n":
            i += 1
        else:
            total += _OPERATOR.get(ch, 1.0)
            i += 1
    return total


# ---------------------------------------------------------------------------
# Breaking a long right-hand side
# ---------------------------------------------------------------------------

_TOKENS = re.compile(r"\\begin\{[^}]*\}|\\end\{[^}]*\}|\\left[(\[.|]|\\right[)\].|]|\\left\\\{|\\right\\\}|[{}]"
                     r"| \+ | - | \\cdot | (?=[\\A-Za-z0-9(])(?!\\approx)")
# A command with its sub- and superscripts (\ln^{2}, \log_{2}): what follows is its argument.
_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+(?:[_^](?:\{[^{}]*\}|[A-Za-z0-9]))*$")


# The operator of factors written side by side: nothing within a row, a dot
# at the start of the row that continues them.
_SIDE_BY_SIDE = "side by side"


def _pieces(latex: str) -> list[tuple[str, str]]:
    """`latex` cut at its top-level + and - (else at its top-level products,
    written with a dot or side by side): [(operator, piece), ...], the first
    operator empty; a product cut where its factors stood side by side
    continues with a dot."""
    for kinds in ((" + ", " - "), (r" \cdot ",), (" ",)):
        depth, cuts = 0, []
        for match in _TOKENS.finditer(latex):
            token = match.group()
            if token == "{" or token.startswith((r"\left", r"\begin")):
                depth += 1
            elif token == "}" or token.startswith((r"\right", r"\end")):
                depth -= 1
            elif depth == 0 and token in kinds and match.start() > 0:
                if token == " " and _COMMAND_BEFORE.search(latex, 0, match.start()):
                    continue  # \ln x: a function and its argument stay together
                cuts.append(match)
        if cuts:
            out, start, operator = [], 0, ""
            for cut in cuts:
                out.append((operator, latex[start:cut.start()].strip()))
                operator, start = cut.group().strip() or _SIDE_BY_SIDE, cut.end()
            out.append((operator, latex[start:].strip()))
            return out
    return [("", latex)]


def broken(latex: str, room: float, rest: float = ROW - 6) -> list[str]:
    """`latex` as rows: the first at most `room` wide, the others `rest`
    (each continuation starts with its operator). A piece wider than a row
    is cut again at its own operators; one that cannot be cut stays whole
    (TeX prints it as wide as it is)."""
    if width(latex) <= room:
        return [latex]
    pieces = _pieces(latex)
    if len(pieces) == 1:
        return [latex]
    rows: list[list] = []
    current, used, limit = [], 0.0, room
    for operator, piece in pieces:
        wide = width(piece) + (_OPERATOR["+"] if operator else 0.0)
        if current and used + wide > limit:
            rows.append([current, limit])
            current, used, limit = [], 0.0, rest
        current.append((operator, piece))
        used += wide
    rows.append([current, limit])
    out = []
    for n, (row, limit) in enumerate(rows):
        words = []
        for k, (operator, piece) in enumerate(row):
            if operator == _SIDE_BY_SIDE:
                operator = r"\cdot" if k == 0 else ""
            words += [operator, piece] if operator else [piece]
        if len(row) == 1 and width(row[0][1]) > limit:
            inner = broken(row[0][1], limit - 2, rest)
            out += [" ".join(words[:-1] + [inner[0]])] + inner[1:]
        else:
            out.append(" ".join(words))
    return out


# ---------------------------------------------------------------------------
# LaTeX
# ---------------------------------------------------------------------------

Asked = Callable[[int, tuple], str]


def latex_named(said: Named, asked: Asked | None = None) -> str:
    """How the key names a derivative, in LaTeX."""
    d = r"\partial " if said.partial else "d"
    if said.notation == "value":
        return tex(said.name)
    if said.notation == "asked" and asked is not None:
        return asked(said.target, said.at)
    if said.notation == "prime" and said.name is not None and not said.partial:
        return tex(said.name) + "'"
    if said.notation in ("leibniz", "asked", "prime") and said.name is not None:
        return r"\frac{%s%s}{%s%s}" % (d, tex(said.name), d, tex(said.wrt))
    if said.notation == "asked":
        return r"\frac{%s}{%s%s}\left[%s\right]" % (d.strip(), d, tex(said.wrt), tex(said.of))
    return r"\frac{%s}{%s%s}\left[%s\right]" % (d.strip(), d, tex(said.wrt), tex(said.of))


def latex_phrase(line: Line, asked: Asked | None = None) -> str:
    """The phrase in text mode, formulas in $...$."""
    out = []
    for segment in phrase(line):
        if isinstance(segment, str):
            out.append(segment)
        else:
            out.append("$%s$" % " = ".join(latex_named(item, asked) if isinstance(item, Named) else tex(item)
                                          for item in segment))
    return "".join(out)


def latex_line(line: Line, asked: Asked) -> dict:
    """One line as the templates print it: `phrase` (text mode, "" for a
    line that finishes the rule an earlier line named) and `rows` of an
    align*, each {left, right} printed "left & right"."""
    said = latex_phrase(line, asked)
    if line.instances and not line.forms:
        return {"phrase": said, "rows": _answers_rows(line, asked)}
    if not line.forms:
        rows = []
        if line.approx:  # a worked answer too long to print exactly
            approx = _with_approx(line, "").strip()
            rows = [{"left": _latex_lhs(line, asked), "right": r"\boxed{%s}" % approx if line.final else approx}]
        return {"phrase": said, "rows": rows}
    lhs = _latex_lhs(line, asked)
    rows = []
    room = ROW - width(lhs) - 3
    if room < ROW / 3:
        # A long left side: a row of its own, and the forms below it start at
        # its left edge (in the left column it would push them off the page).
        rows.append({"left": "", "right": lhs})
        lhs, room = "", ROW - 6
    if line.notation == "value" and len(line.forms) > 1:
        # A worked key's row (a forward value, a delta) on one line where it fits: z = w x + b = 0.5 + 1 = 1.5.
        printed = [tex(form) for form in line.forms]
        printed[-1] = _with_approx(line, printed[-1])
        if line.final:
            printed[-1] = r"\boxed{%s}" % printed[-1]
        one = " = ".join(printed)
        if width(one) <= room:
            return {"phrase": said, "rows": rows + [{"left": lhs, "right": "= " + one}]}
    for n, form in enumerate(line.forms):
        pieces = broken(_with_approx(line, tex(form)) if n == len(line.forms) - 1 else tex(form), room)
        if n == len(line.forms) - 1 and line.final:
            pieces = [_boxed(pieces)]
        rows.append({"left": lhs if not rows else "", "right": "= " + pieces[0]})
        rows += [{"left": "", "right": r"\quad " + piece} for piece in pieces[1:]]
        room = ROW - 6
    return {"phrase": said, "rows": rows}


def _with_approx(line: Line, printed: str) -> str:
    """The last form, and the value to the sheet's decimal places after it
    (a worked key with --decimals)."""
    if not line.approx:
        return printed
    if len(line.approx) == 1:
        return r"%s \approx %s" % (printed, line.approx[0])
    return r"%s \approx \begin{bmatrix} %s \end{bmatrix}" % (printed, r" \\ ".join(line.approx))


def _boxed(pieces: list[str]) -> str:
    if len(pieces) == 1:
        return r"\boxed{%s}" % pieces[0]
    return r"\boxed{\begin{aligned} &%s \end{aligned}}" % r" \\ &\quad ".join(pieces)


def _latex_lhs(line: Line, asked: Asked) -> str:
    if line.notation == "gradient":
        wrts = [i.wrt for i in line.instances]
        return r"\left(\frac{\partial %s}{\partial %s}, \ldots, \frac{\partial %s}{\partial %s}\right)" % (
            tex(line.name), tex(wrts[0]), tex(line.name), tex(wrts[-1]))
    return latex_named(named(line), asked)


def _answers_rows(line: Line, asked: Asked) -> list[dict]:
    """Several derivatives found at sight, as rows of q1 = a, q2 = b, ..."""
    entries = []
    for instance in line.instances:
        shown = tex(instance.forms[-1])
        entries.append("%s = %s" % (latex_named(named(instance), asked),
                                    r"\boxed{%s}" % shown if line.final else shown))
    rows, current = [], []
    for entry in entries:
        if current and width(r", \quad ".join(current + [entry])) > ROW - 4:
            rows.append(current)
            current = []
        current.append(entry)
    rows.append(current)
    return [{"left": "", "right": r", \quad ".join(row) + ("," if n < len(rows) - 1 else "")}
            for n, row in enumerate(rows)]


def answer_rows(line: Line, asked: Asked, room: float = ROW * 0.8) -> list[str]:
    """A final line's answers as inline math rows (the answer tables): each
    derivative = its last form, broken where it is too wide."""
    if line.instances and not line.forms:
        said = [(latex_named(named(i), asked), tex(i.forms[-1])) for i in line.instances]
    elif not line.forms:  # a worked answer too long to print exactly: its value to some places
        said = [(_latex_lhs(line, asked), None)]
    else:
        said = [(_latex_lhs(line, asked), _with_approx(line, tex(line.forms[-1])))]
    defined = [r"%s = %s" % (tex(p.name), tex(p.expr)) for p in line.parts if p.role == "define"]
    rows = []
    for lhs, shown in said:
        pieces = broken("%s = %s" % (lhs, shown) if shown is not None else _with_approx(line, lhs), room, room - 4)
        rows += [pieces[0]] + [r"\quad " + piece for piece in pieces[1:]]
    return rows + [r"\text{with } " + d for d in defined]


# ---------------------------------------------------------------------------
# Plain Unicode text
# ---------------------------------------------------------------------------

def text_named(said: Named, variables: tuple, function: str = "f", asked=None) -> str:
    """`asked`: how the caller names its derivatives (target, at) -> text,
    where it knows better (f'' of a second derivative)."""
    d = "∂" if said.partial else "d"
    name = text(said.name) if said.name is not None else ""
    if said.notation == "asked" and asked is not None:
        return asked(said.target, said.at)
    if said.notation == "asked":
        function = function or "f"
        point = ", ".join(text(a) for _, a in said.at)
        if function == "f" and len(variables) == 1:
            return f"f'({point or text(said.wrt)})"
        d = "∂" if len(variables) > 1 else "d"
        return f"{d}{function}/{d}{text(said.wrt)}" + (f" at ({point})" if point else "")
    if said.notation == "value":
        return name
    if said.notation == "prime" and name and not said.partial:
        return name + "'"
    if said.notation in ("leibniz", "prime") and name:
        return f"{d}{name}/{d}{text(said.wrt)}"
    return f"d/d{text(said.wrt)} [{text(said.of)}]"


def text_phrase(line: Line, variables: tuple, function: str = "f") -> str:
    out = []
    for segment in phrase(line):
        if isinstance(segment, str):
            out.append(segment)
        else:
            out.append(" = ".join(text_named(item, variables, function) if isinstance(item, Named)
                                  else "(%s)" % text(item) if isinstance(item, sp.Piecewise) else text(item)
                                  for item in segment))
    return "".join(out)


def text_line(line: Line, variables: tuple, function: str = "f", asked=None) -> list[str]:
    """A line for the terminal: its phrase, then lhs = form, one form per row."""
    out = []
    said = text_phrase(line, variables, function)
    if said:
        out.append(said)
    if line.instances and not line.forms:
        out += ["  %s = %s" % (text_named(named(i), variables, function, asked), text(i.forms[-1]))
                for i in line.instances]
        return out
    if not line.forms:
        return out
    if line.notation == "gradient":
        lhs = "∇" + text(line.name)
    else:
        lhs = text_named(named(line), variables, function, asked)
    first, *rest = [text(form) for form in line.forms]
    out.append(f"  {lhs} = {first}")
    out += [" " * (len(lhs) + 3) + f"= {form}" for form in rest]
    return out


def text_narration(narration: Narration, asked=None) -> str:
    rows = []
    for line in narration.lines:
        rows += text_line(line, narration.variables, narration.name, asked)
    return "\n".join(rows)


def latex_blocks(narration: Narration, asked: Asked) -> list[dict]:
    """The lines as blocks: a phrase (text mode, may be empty) and the rows
    of one align*; a line without a phrase continues the block before it."""
    blocks: list[dict] = []
    for line in narration.lines:
        printed = latex_line(line, asked)
        if printed["phrase"] or not blocks:
            blocks.append({"phrase": printed["phrase"], "rows": []})
        blocks[-1]["rows"] += printed["rows"]
    return blocks


def latex_text(narration: Narration, asked: Asked) -> str:
    """The blocks as a LaTeX fragment (amsmath) to paste into a document."""
    out = []
    for block in latex_blocks(narration, asked):
        if block["phrase"]:
            out.append(block["phrase"] + "\n")
        if block["rows"]:
            rows = " \\\\\n".join("  %s & %s" % (row["left"], row["right"]) for row in block["rows"])
            out.append("\\begin{align*}\n%s\n\\end{align*}\n" % rows)
    return "".join(out)


# ---------------------------------------------------------------------------
# JSON (sheet.json `lines`, `exgen solve --format json`)
# ---------------------------------------------------------------------------

def json_line(line: Line, narration: Narration, asked: Asked | None = None) -> dict:
    """A line a checker can confirm without exgen: every form (SymPy string,
    helper variables substituted back) equals d(of)/d(wrt)."""
    keep = None if line.at else line.wrt
    out = {
        "rule": line.rule,
        "text": text_phrase(line, narration.variables, narration.name),
        "latex": latex_equation(line, asked),
        "of": plain(narration.back(line.of, keep)),
        "wrt": line.wrt.name if isinstance(line.wrt, sp.Symbol) else str(line.wrt),
        # Each form's value (shown products multiplied out): the strings the
        # key's own check substituted and evaluated.
        # (a line at a point: the value there).
        "forms": [plain(narration.evaluated(form, keep).xreplace(dict(line.at))) for form in line.forms],
    }
    if line.at:
        out["at"] = {s.name: int(a) if a.is_Integer else sp.sstr(a) for s, a in line.at}
    return out


def latex_equation(line: Line, asked: Asked | None = None) -> str:
    """The line as one equation: left side = each form (and its value to the
    sheet's decimal places, where it has one)."""
    if not line.forms:
        return _with_approx(line, latex_named(named(line), asked)) if line.approx else ""
    lhs = latex_named(named(line), asked)
    forms = [tex(form) for form in line.forms]
    forms[-1] = _with_approx(line, forms[-1])
    return " = ".join([lhs] + forms)



def json_lines(narration: Narration, target: int, asked: Asked | None = None) -> list[dict]:
    return [json_line(line, narration, asked) for line in narration.lines_for(target)]
