"""The command line: a thin click layer over the library.

Every error a user can cause is an ExgenError (or a click usage error) and
prints as one line on stderr with a non-zero exit; anything else is a bug and
keeps its traceback.
"""

import contextlib
import difflib
import json
import logging
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ExgenError

NAMES_HELP = "exgen topics lists the names"


def _split_topics(text: str | None) -> tuple[str, ...]:
    from .topics import GROUPS, TOPICS, expand

    if text is None:
        return ()
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    for name in names:
        if name not in TOPICS and name not in GROUPS:
            near = difflib.get_close_matches(name, list(TOPICS) + list(GROUPS), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; {NAMES_HELP}"
            raise ExgenError(f"unknown topic {name!r}{hint}")
    if not names:
        raise ExgenError(f"--topics is empty; give comma-separated names ({NAMES_HELP})")
    return expand(names)


def _key_level(text: str) -> str:
    from .narrate import POLICIES

    if text not in POLICIES:
        near = difflib.get_close_matches(text, list(POLICIES), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ExgenError(f"unknown --key {text!r}{hint} (use {', '.join(POLICIES)})")
    return text


def _difficulty(text: str) -> str:
    from .sheet import DIFFICULTIES

    if text not in DIFFICULTIES:
        near = difflib.get_close_matches(text, list(DIFFICULTIES), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ExgenError(f"unknown difficulty {text!r}{hint} (use {', '.join(DIFFICULTIES)})")
    return text


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exgen")
def cli():
    """Derivative exercise sheets and worked answer guidebooks."""


@cli.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="A sheet config (TOML, see `exgen init`); options given here override it.")
@click.option("--count", default="20", show_default=True, help="Number of problems (1..200).")
@click.option("--seed", default="0", show_default=True, help="Any non-negative integer; same seed, same sheet.")
@click.option("--difficulty", default="mixed", show_default=True, help="easy, medium, hard or mixed.")
@click.option("--topics", default=None,
              help="Comma-separated topic or group names (calculus, ml; see `exgen topics`); default all.")
@click.option("--title", default="Derivatives", show_default=True, help="Title printed on both documents.")
@click.option("--date", default="", help="Date printed in the header (default: a blank line to fill in).")
@click.option("--versions", default="1", show_default=True, help="Parallel exam versions A, B, ... (1..26).")
@click.option("--shuffle", is_flag=True, help="Permute the problem order of versions B, C, ...")
@click.option("--space", default="3cm", show_default=True,
              help="Working space below each problem on the sheet (a length: 5cm, 40mm, 2in, 8em).")
@click.option("--points", default="0", show_default=True,
              help="Points per problem, printed beside it, with the total in the header (0: none).")
@click.option("--rules-table", is_flag=True, help="Print the rule table the sheet uses for students, on the sheet.")
@click.option("--at-point", is_flag=True, help="Ask for each derivative's exact value at a given point.")
@click.option("--decimals", default="0", show_default=True,
              help="Worked keys (backprop, matrix-calculus) also give every value to this many decimal places.")
@click.option("--choices", default=None,
              help="Multiple choice: N options per problem (2..6), the wrong ones from named mistakes.")
@click.option("--export", "exports", default=None,
              help="Question banks for learning platforms, comma-separated: moodle (moodle.xml), "
                   "canvas (canvas-qti.zip).")
@click.option("--variants", default=None,
              help="With --export: N parallel variants of each problem, one drawn per student (default 1).")
@click.option("--key", "key_level", default="worked", show_default=True,
              help="How much the answer key shows: worked (a tutor's key), full (every rule application) or "
                   "answers (a table of final answers).")
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="A class list (CSV, as Moodle, Canvas and others export it): one sheet per student.")
@click.option("--id-column", default=None, help="The roster's id column, if not found by its usual names.")
@click.option("--name-column", default=None,
              help="The roster's name column(s), if not found by their usual names: 'Name' or 'First,Last'.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: output/seed-SEED).")
@click.option("--template-dir", type=click.Path(path_type=Path), default=None,
              help="Your templates; any file missing there falls back to the built-in one.")
@click.option("--jobs", default=None, help="Processes that make problems and run TeX in parallel (default: all cores).")
@click.option("--no-pdf", is_flag=True, help="Write .tex and sheet.json only.")
@click.option("--force", is_flag=True,
              help="Write even into a folder holding another sheet's output, replacing its files.")
@click.option("-v", "--verbose", is_flag=True, help="Log rejected candidates to stderr.")
@click.pass_context
def make(ctx, config_path, count, seed, difficulty, topics, title, date, versions, shuffle, space, points, rules_table,
         at_point, decimals, choices, exports, variants, key_level, roster, id_column, name_column, out, template_dir,
         jobs, no_pdf, force, verbose):
    """Write an exercise sheet, its answer guidebook and sheet.json."""
    from .config import load_config, options_with, replaced
    from .pipeline import make as make_sheets

    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    given = {name for name in ctx.params
             if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
    values = {
        "count": lambda: _integer("--count", count), "seed": lambda: _integer("--seed", seed),
        "difficulty": lambda: _difficulty(difficulty), "topics": lambda: _split_topics(topics),
        "title": lambda: title, "date": lambda: date, "versions": lambda: _integer("--versions", versions),
        "shuffle": lambda: shuffle, "at_point": lambda: at_point, "key_level": lambda: _key_level(key_level),
        "space": lambda: space.strip(), "points": lambda: _integer("--points", points),
        "rules_table": lambda: rules_table,
        "decimals": lambda: _integer("--decimals", decimals),
    }
    file_options = load_config(config_path) if config_path is not None else {}
    chosen = {name: value() for name, value in values.items() if name in given or config_path is None}
    options = options_with(file_options, chosen)
    if config_path is not None:
        for note in replaced(config_path, file_options, chosen):
            click.echo(f"exgen: note: {note}", err=True)
    options = _with_choices_and_exports(options, choices, exports, variants)
    if template_dir is not None and not template_dir.is_dir():
        raise ExgenError(f"--template-dir {template_dir} is not a folder")
    folder = out if out is not None else Path("output") / f"seed-{options.seed}"
    _refuse_template_folder(folder)
    jobs = _integer("--jobs", jobs) if jobs is not None else None
    if jobs is not None and jobs < 1:
        raise ExgenError(f"--jobs must be at least 1, got {jobs}")
    if roster is not None:
        if options.exports or options.variants > 1:
            raise ExgenError("--roster writes one sheet per student; --export and --variants make a question bank "
                             "instead: leave them out")
        _make_roster(options, roster, (id_column, name_column), folder, not no_pdf, template_dir, jobs, force)
        return
    if id_column is not None or name_column is not None:
        raise ExgenError("--id-column and --name-column name the columns of a --roster; give --roster too")
    result = make_sheets(options, folder, pdf=not no_pdf, template_dir=template_dir, jobs=jobs, force=force)
    versions_note = f", {len(result.sheets)} versions" if len(result.sheets) > 1 else ""
    click.echo(f"sheet {options.code}: {options.total} problems{versions_note} -> {folder}")
    for path in result.written:
        click.echo(f"  {path}")
    if result.removed:
        click.echo(f"removed {len(result.removed)} files an earlier run wrote here and this one does not: "
                   + ", ".join(path.name for path in result.removed))


def _with_choices_and_exports(options, choices, exports, variants):
    """--choices, --export and --variants on top of the other options, validated."""
    import dataclasses

    from .export import parse_exports, validate

    options = dataclasses.replace(
        options, choices=_integer("--choices", choices) if choices is not None else options.choices,
        exports=parse_exports(exports) if exports is not None else options.exports,
        variants=_integer("--variants", variants) if variants is not None else options.variants)
    validate(options)
    return options


def _make_roster(options, roster, columns, folder, pdf, template_dir, jobs, force):
    from .pipeline import make_roster
    from .roster import read_roster
    from .sheet import validate

    class_list = read_roster(roster, *columns)
    students = class_list.students
    if options.versions > 1:
        raise ExgenError("--roster gives every student an individual sheet; leave out --versions")
    validate(options)
    for warning in class_list.warnings:
        click.echo(f"exgen: warning: {warning}", err=True)
    with contextlib.ExitStack() as stack:
        bars = []

        def progress(done, total):
            if not bars:  # shown once the folder is claimed, so that a refusal is one line
                bars.append(stack.enter_context(click.progressbar(length=total, label="students",
                                                                  file=sys.stderr)))
            bars[0].update(done - bars[0].pos)

        result = make_roster(options, students, folder, pdf=pdf, template_dir=template_dir, jobs=jobs,
                             progress=progress, force=force)
    click.echo(f"{len(students)} student{'s' if len(students) != 1 else ''} -> {folder} ({len(result.written)} files; roster-key.csv maps id to code and file)")
    if result.removed:
        click.echo(f"removed {len(result.removed)} files an earlier run wrote here and this one does not: "
                   + ", ".join(path.name for path in result.removed))


def _refuse_template_folder(folder: Path) -> None:
    from .render import TEMPLATE_DIR

    if not isinstance(TEMPLATE_DIR, Path):
        return  # templates inside a zip: no folder anyone could write into
    resolved, templates = folder.resolve(), TEMPLATE_DIR.resolve()
    if resolved == templates or templates in resolved.parents:
        raise ExgenError(f"--out {folder} is inside exgen's templates folder; choose another folder")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
def init(path):
    """Write a commented example sheet config to PATH (never overwrites)."""
    from .config import write_example

    write_example(path)
    click.echo(f"wrote {path}; edit it, then: exgen make --config {path}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--template-dir", type=click.Path(path_type=Path), default=None,
              help="The templates the folder was made with, if not the built-in ones.")
def verify(folder, template_dir):
    """Regenerate FOLDER from its manifest.json and report what changed."""
    from .pipeline import verify as verify_folder

    result = verify_folder(folder, template_dir)
    for line in result.lines:
        click.echo(line)
    if result.changed:
        raise ExgenError(f"{result.changed} problems or files differ from {folder}")
    click.echo(f"{folder}: everything identical")


@cli.group()
def templates():
    """Work with the LaTeX templates."""


@templates.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
def templates_export(folder):
    """Copy the built-in templates to FOLDER as a starting point (never overwrites)."""
    from .output import prepare_folder, write_files
    from .render import TEMPLATE_DIR

    sources = sorted((p for p in TEMPLATE_DIR.iterdir() if p.name.endswith(".j2")), key=lambda p: p.name)
    clashes = [p.name for p in sources if (folder / p.name).exists()]
    if clashes:
        raise ExgenError(f"{folder} already has {', '.join(clashes)}; choose an empty folder")
    prepare_folder(folder)
    for path in write_files(folder, {p.name: p.read_bytes() for p in sources}):
        click.echo(f"  {path}")


def _integer(option: str, text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ExgenError(f"{option} must be a whole number, got {text!r}") from None
    return value


@cli.command()
def topics():
    """List every topic with its levels and a one-line description."""
    from .topics import GROUPS, TOPICS

    width = max(len(name) for name in TOPICS)
    for name, topic in TOPICS.items():
        click.echo(f"{name:<{width}}  {'/'.join(topic.levels):<18}  {topic.description}")
    click.echo("")
    for group, members in GROUPS.items():
        click.echo(f"{group:<{width}}  group: {', '.join(members)}")


class _ExpressionCommand(click.Command):
    """A command whose one argument may start with '-' (`exgen solve -x^2`).

    click takes any word starting with '-' for options, and would even split
    `-x*h` into -x, -*, -h and show the help for its h. Here every word that
    is not one of the command's own options (or the value of one) is an
    operand; operands go after a '--', so click reads them as arguments and
    still reports an unknown long option (`--wrtt`) as one."""

    def parse_args(self, ctx, args):
        takes_value = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for name in param.opts + param.secondary_opts:
                    takes_value[name] = not (param.is_flag or param.count)
        options, operands = [], []
        rest = list(args)
        while rest:
            word = rest.pop(0)
            if word == "--":
                operands.extend(rest)
                break
            name = word.split("=", 1)[0]
            if name in takes_value:
                options.append(word)
                if takes_value[name] and "=" not in word:
                    if not rest:
                        raise click.BadOptionUsage(name, f"Option '{name}' requires an argument.", ctx=ctx)
                    options.append(rest.pop(0))
            elif word.startswith("--"):
                options.append(word)  # an unknown long option: click names it
            else:
                operands.append(word)
        if len(operands) > 1 and any(word.startswith("-") for word in operands):
            names = ", ".join(sorted({n for n in takes_value if n.startswith("--")}))
            where = "; options go before a '--'" if "--" in args else ""
            raise click.UsageError(f"{ctx.info_name} takes one EXPRESSION, got {len(operands)}: "
                                   + " ".join(repr(word) for word in operands)
                                   + f" (quote the expression; the options are {names}{where})", ctx=ctx)
        return super().parse_args(ctx, options + (["--", *operands] if operands else []))


@cli.command(cls=_ExpressionCommand)
@click.argument("expression")
@click.option("--wrt", default=None, help="Variable(s), comma-separated (default: the only variable).")
@click.option("--let", "lets", multiple=True, metavar="X=EXPR",
              help="Multivariable chain rule: EXPRESSION is z = f(x, y, ...) and x = x(t) is given as "
                   "--let \"x=cos(t)\" (repeat per variable); exgen derives dz/dt.")
@click.option("--format", "fmt", type=click.Choice(["text", "latex", "json"]), default="text", show_default=True,
              help="text for the terminal, latex to paste into a document, json with the step tree.")
@click.option("--key", "key_level", default="worked", show_default=True,
              help="worked (a tutor's key), full (every rule application) or answers (the answer only).")
@click.option("--order", default="1", show_default=True,
              help="2 or 3: the second or third derivative, stage by stage (with several --wrt variables, "
                   "2 gives the Hessian).")
def solve(expression, wrt, lets, fmt, key_level, order):
    """Derive EXPRESSION rule by rule, checking every step.

    EXPRESSION is read as a calculus student writes it (quote it for the
    shell; it may start with a minus: exgen solve "-x^2 sin x"):

    \b
      typed           read as          why
      3x^2y           3*x^2*y          ^ or ** is a power; side by side multiplies
      sin 2x          sin(2*x)         a function without brackets takes the one
      sin x^2         sin(x^2)         factor after it, with its number and power
      2sin x cos x    2*sin(x)*cos(x)  a function name ends an argument
      x sin x         x*sin(x)
      sin^2 x         sin(x)^2         (sin(x)^2 too)
      e^x             exp(x)           e and E are Euler's number, pi is pi
      e^-x sin x      exp(-x)*sin(x)
      xy              x*y              two or three letters: their product
      y_hat           yhat             the variable y-hat (yhat_1: y-hat 1)
      w_k z_1         w_k*z1           indexed variables (z_1 is z1)
      3f(g(x))        3*f(g(x))        f g h p q F G H + bracket: functions
      log_2 x         log(x, 2)        the logarithm to base 2

    \b
    Refused as ambiguous, with both readings in the message:
      ln x/2 (ln(x)/2 or ln(x/2)?), sin x y, sin x*y, 1/2x, x/2y,
      e^2x (e^2*x or e^(2x)?), sin^-1 x (arcsin?), p(1 - p) (p both a
      function and a variable), f^2(x), 1e-3 (write 0.001).

    Functions: exp, ln, log (log(u, k) is log_k u), sin, cos, tan, sec,
    asin/arcsin, acos/arccos, atan/arctan, sqrt, abs, tanh, sigmoid (sigma),
    relu, softplus, leaky_relu, elu, silu/swish, softmax(i, z1, ..., zK),
    logsumexp(z1, ..., zK).
    """
    from .solving import solve_expression

    solved = solve_expression(expression, wrt, tuple(lets), _key_level(key_level), _integer("--order", order))
    if fmt == "json":
        click.echo(json.dumps(solved.as_json(), indent=2, ensure_ascii=False))
    elif fmt == "latex":
        click.echo(solved.as_latex(), nl=False)
    else:
        click.echo(solved.as_text())


def run():
    """The `exgen` command: main(), then an exit that skips tearing down the
    interpreter. Freeing SymPy's caches object by object takes about 0.1 s,
    a tenth of a whole `exgen make`; every file is written and closed by now."""
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            click.echo(exc.code, err=True)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # `exgen topics | head`: the reader is gone, as Python reports it
            code = code or 120
        except ValueError:  # a closed stream
            pass
    os._exit(code)


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="exgen", standalone_mode=False)
    except ExgenError as exc:
        message = str(exc)
        click.echo(f"exgen: error: {message}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("exgen: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):  # bare `exgen` (click >= 8.2)
            click.echo(exc.format_message(), err=True)
        else:
            click.echo(f"exgen: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("exgen: interrupted", err=True)
        sys.exit(130)
