#!/usr/bin/env python3
"""exgen benchmarks (issue 7): measures, on the machine it runs on, and prints
a plain-text report to stdout (progress goes to stderr).

    python bench/run.py            # full run, about 10 minutes on 2 cores
    python bench/run.py --quick    # smoke run, under a minute (rosters: 10 students, 5 problems each)
    python bench/run.py --json out.json   # also write the raw numbers

Run it from the repository root with the Python that has exgen installed.
Nothing here asserts a time: the "target" columns quote issue 7 so a reader
can compare; they are never checked.

What it measures
1. `exgen make --count 20 --seed 7` end to end (both PDFs), as a subprocess,
   several runs: median/min/max wall. Beside it, in the same loop (runs
   interleaved, so load drift hits both alike), the TeX floor: the two .tex
   files that command wrote, compiled alone (pdflatex once each on the whole
   .tex, both in parallel, -interaction=nonstopmode -halt-on-error
   -no-shell-escape -file-line-error, exgen's SOURCE_DATE_EPOCH/
   FORCE_SOURCE_DATE environment), and exgen's own TeX stage alone on them
   (which starts pdflatex from its preloaded-preamble format). Also
   `--no-pdf`, one `exgen make` with an empty cache (the first run on a
   machine, which builds that format), and interpreter start,
   `import exgen.cli` and `import sympy` as subprocesses (plus
   `-X importtime` cumulative figures).
2. Generation without PDF, in one process (one core): mixed-difficulty
   20-problem sheets over many seeds through build_sheet + render_documents
   (problems/s), and per-problem latency per difficulty from one-problem
   sheets (build_sheet + render_documents per seed): p50/p95/p99/max, and
   per topic.
3. Rosters: exgen.pipeline.make_roster for 10/100/300 students at jobs=1 and
   jobs=all cores, 20 mixed problems each (seed 7; --roster-count), PDFs on, beside
   students x per-student TeX floor / jobs (the floor per student: compiling
   that student's exercises.tex and guidebook.tex once each, one after the
   other). make_roster also builds the merged all-exercises.pdf (pdfpages),
   which the floor does not include. Rows whose estimated time would push
   the run past --budget are skipped with the estimate printed (on 2 cores,
   300 students at jobs=1 usually is).
4. Peak memory: ru_maxrss (largest single process, children included, via
   os.wait4) of every measured subprocess; for rosters also the peak of the
   summed PSS of the whole process tree, sampled every 0.25 s.
5. DeepMind's mathematics_dataset (PyPI `mathematics-dataset`, optional,
   bench only; bench/mds_shim.py makes it import on current SymPy/NumPy):
   problems/s of its calculus differentiate modules, called directly with
   fixed seeds, beside exgen's rate. Skipped with a reason if not installed.

Every heavy section runs in its own subprocess (this file with --_worker), so
the parent stays small and each section's peak memory is its own. The
machine may be shared: the load average before and after is printed.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MAKE_ARGS = ["make", "--count", "20", "--seed", "7"]
TEX_FLAGS = ["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "-file-line-error"]
LEVELS = ("easy", "medium", "hard")
ROSTER_SEED = 7


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics

def percentile(values, q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def mmm(values) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def sec(seconds: float) -> str:
    return f"{seconds:.3f} s"


def mb(kb: float | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f} MB"


def table(headers, rows) -> str:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line([str(h) for h in headers]), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


# ------------------------------------------------------- process measurement

def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _memory_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        return 0


class TreeSampler(threading.Thread):
    """Peak of the summed PSS of a process and its descendants, sampled."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            children = _children_map()
            tree, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo.extend(children.get(pid, ()))
            self.peak_kb = max(self.peak_kb, sum(_memory_kb(p) for p in tree))
            self.stop.wait(self.interval)


class Run:
    def __init__(self, wall, code, maxrss_kb, stdout, stderr, tree_kb=None):
        self.wall, self.code, self.maxrss_kb = wall, code, maxrss_kb
        self.stdout, self.stderr, self.tree_kb = stdout, stderr, tree_kb

    @property
    def ok(self) -> bool:
        return self.code == 0


def run_measured(cmd, cwd=None, env=None, timeout=None, sample_tree=False) -> Run:
    """Run `cmd`; wall time, exit code and ru_maxrss of it and its waited-for
    descendants (os.wait4), output captured in files. Killed (its own process
    group only) after `timeout` seconds."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
        timer = None
        if timeout:
            timer = threading.Timer(timeout, lambda: _kill_group(process.pid))
            timer.start()
        sampler = TreeSampler(process.pid) if sample_tree else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if timer:
            timer.cancel()
        if sampler:
            sampler.stop.set()
            sampler.join()
        out.seek(0)
        err.seek(0)
        return Run(wall, process.returncode, usage.ru_maxrss, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"), sampler.peak_kb if sampler else None)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def worker(kind: str, *args, timeout=None, sample_tree=False) -> tuple[dict, Run]:
    """Run a section in a fresh interpreter (this file, --_worker); its JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", kind, json.dumps(args)]
    run = run_measured(cmd, cwd=REPO, timeout=timeout, sample_tree=sample_tree)
    result = None
    for line in reversed(run.stdout.splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except json.JSONDecodeError:
                pass
    if result is None:
        tail = "\n".join((run.stderr or run.stdout).strip().splitlines()[-8:])
        result = {"error": f"worker {kind} exited {run.code}: {tail}"}
    return result, run


# ------------------------------------------------------------- environment

def exgen_command() -> list[str]:
    """The real console script next to this interpreter (a pyenv shim adds
    ~0.1 s of bash per call), else whatever `exgen` is on PATH."""
    beside = Path(sys.executable).parent / "exgen"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("exgen")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from exgen.cli import main; sys.exit(main())"]


def tex_setup() -> tuple[str | None, dict]:
    """The engine and environment exgen uses (exgen/compile.py), with a
    fallback to the same values if that module's names change."""
    try:
        from exgen import compile as xc

        engine = shutil.which(xc.ENGINE)
        return engine, xc.tex_environment()
    except Exception:  # pragma: no cover - only if exgen.compile changed shape
        env = dict(os.environ)
        env.update({"SOURCE_DATE_EPOCH": "1767225600", "FORCE_SOURCE_DATE": "1", "openin_any": "p",
                    "openout_any": "p", "shell_escape": "f"})
        return shutil.which("pdflatex"), env


def machine_info() -> list[str]:
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except Exception:
            return "n/a"

    try:
        import sympy

        sympy_version = sympy.__version__
    except ImportError:
        sympy_version = "not installed"
    try:
        from exgen import __version__ as exgen_version
    except ImportError:
        exgen_version = "not installed"
    head = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    cpu = "n/a"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"date       {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine    {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
        f"python     {platform.python_version()} ({sys.executable})",
        f"exgen      {exgen_version}, git {head}{' + uncommitted changes' if dirty else ''}",
        f"sympy      {sympy_version}",
        f"tex        {first_line(['pdflatex', '--version'])}",
        f"load avg   {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) at start",
    ]


# ------------------------------------------------------- section 6: export

def bench_export(cfg, work: Path, results: dict) -> list[str]:
    """A question bank of slots x variants problems (each with 4 checked
    options, both export files) beside plain generation of the slots alone,
    both `exgen make --no-pdf` subprocesses, runs interleaved. Medium
    difficulty: an easy slot (e^x, ln x) has too few different parallels
    for 20 variants."""
    slots, variants = (5, 5) if cfg.quick else (20, 20)
    exgen = exgen_command()
    plain = ["make", "--count", str(slots), "--seed", "7", "--difficulty", "medium", "--no-pdf"]
    bank = plain + ["--variants", str(variants), "--export", "moodle,canvas"]
    runs = 1 if cfg.quick else 2
    log(f"export: {slots} slots x {variants} variants, {runs} run(s), beside plain generation")
    plain_w, bank_w = [], []
    for i in range(runs):
        run = run_measured(exgen + plain + ["--out", str(work / f"plain-{i}")], cwd=REPO, timeout=600)
        plain_w.append(run.wall if run.ok else None)
        run = run_measured(exgen + bank + ["--out", str(work / f"bank-{i}")], cwd=REPO, timeout=1800)
        if not run.ok:
            return [f"ERROR: the export exited {run.code}: {run.stderr.strip()[-800:]}"]
        bank_w.append(run.wall)
    plain_w = [w for w in plain_w if w is not None]
    sizes = {name: (work / "bank-0" / name).stat().st_size for name in ("moodle.xml", "canvas-qti.zip")}
    results["export"] = {"slots": slots, "variants": variants, "plain": plain_w, "bank": bank_w, "sizes": sizes}
    problems = slots * variants
    return [
        f"commands: {' '.join(exgen + bank)} --out DIR",
        f"          beside {' '.join(exgen + plain)} --out DIR",
        table(["what", "runs", "median", "min", "max"],
              [[f"plain generation, {slots} problems", len(plain_w), *map(sec, mmm(plain_w))],
               [f"bank of {problems} problems ({slots} x {variants}), 4 options each, both exports", len(bank_w),
                *map(sec, mmm(bank_w))]]),
        f"per problem in the bank: {min(bank_w) / problems * 1000:.0f} ms (min run); "
        f"moodle.xml {sizes['moodle.xml'] / 1e6:.1f} MB, canvas-qti.zip {sizes['canvas-qti.zip'] / 1e6:.2f} MB",
    ]


# ------------------------------------------------------- section 1: make

def bench_make(cfg, work: Path, results: dict) -> list[str]:
    exgen = exgen_command()
    engine, tex_env = tex_setup()
    lines = [f"command: {' '.join(exgen + MAKE_ARGS)} --out DIR   (fresh DIR per run; 1 untimed warm-up)"]
    log(f"exgen make: warm-up, then {cfg.make_runs} runs interleaved with the TeX floor")
    warm = run_measured(exgen + MAKE_ARGS + ["--out", str(work / "make-warm")], cwd=REPO, timeout=300)
    if not warm.ok:
        results["make"] = {"error": warm.stderr[-2000:]}
        return lines + [f"ERROR: exgen make exited {warm.code}:", warm.stderr.strip()[-2000:]]
    sources = [work / "make-warm" / name for name in ("exercises.tex", "guidebook.tex")]
    make_runs, floor_runs, stage_runs = [], [], []
    for i in range(cfg.make_runs):
        run = run_measured(exgen + MAKE_ARGS + ["--out", str(work / f"make-{i}")], cwd=REPO, timeout=300)
        if not run.ok:
            lines.append(f"ERROR: run {i} exited {run.code}: {run.stderr.strip()[-500:]}")
        make_runs.append(run)
        floor_runs.append(tex_floor(engine, tex_env, sources, work / f"floor-{i}", parallel=True))
        stage_runs.append(tex_stage(sources, work / f"stage-{i}"))
    # The first run on a machine also builds the preloaded preamble (exgen/compile.py).
    fresh_cache = dict(os.environ, XDG_CACHE_HOME=str(work / "fresh-cache"))
    first = run_measured(exgen + MAKE_ARGS + ["--out", str(work / "make-first")], cwd=REPO, env=fresh_cache,
                         timeout=300)
    log(f"exgen make --no-pdf: {cfg.nopdf_runs} runs")
    nopdf_runs = [run_measured(exgen + MAKE_ARGS + ["--no-pdf", "--out", str(work / f"nopdf-{i}")], cwd=REPO,
                               timeout=300) for i in range(cfg.nopdf_runs)]
    make_w = [r.wall for r in make_runs]
    floor_w = [w for w in floor_runs if w is not None]
    nopdf_w = [r.wall for r in nopdf_runs]
    rows = [["exgen make --count 20 --seed 7", len(make_w), *map(sec, mmm(make_w)), "median < 1.0 s"]]
    if floor_w:
        rows.append(["TeX floor (2x pdflatex, parallel)", len(floor_w), *map(sec, mmm(floor_w)), ""])
    else:
        rows.append(["TeX floor", 0, "failed", "", "", ""])
    stage_w = [w for w in stage_runs if w is not None]
    if stage_w:
        rows.append(["exgen's TeX stage alone (preloaded)", len(stage_w), *map(sec, mmm(stage_w)), ""])
    rows.append(["exgen make ... --no-pdf", len(nopdf_w), *map(sec, mmm(nopdf_w)), ""])
    if first.ok:
        rows.append(["first make on a machine (+ format)", 1, *map(sec, mmm([first.wall])), ""])
    else:
        rows.append(["first make on a machine (+ format)", 1, f"failed ({first.code})", "", "", ""])
    lines.append(table(["what", "runs", "median", "min", "max", "target (issue 7)"], rows))
    if floor_w:
        ratio = statistics.median(make_w) / statistics.median(floor_w)
        lines.append(f"ratio exgen / TeX floor (medians): {ratio:.2f}x   (target: at most 1.5x)")
        lines.append(f"time above the floor (median): {sec(statistics.median(make_w) - statistics.median(floor_w))}")
    if stage_w:
        lines.append(f"ratio exgen / its own TeX stage (medians): "
                     f"{statistics.median(make_w) / statistics.median(stage_w):.2f}x   (exgen starts pdflatex from a "
                     "format with the preamble's packages loaded; the floor above compiles the whole .tex)")
    sizes = ", ".join(f"{p.name} {p.stat().st_size // 1024} KB" for p in sources)
    lines.append(f"sources: {sizes}; engine {engine}")
    results["make"] = {"runs": make_w, "floor": floor_w, "tex_stage": stage_w, "first": first.wall if first.ok else None,
                       "nopdf": nopdf_w,
                       "maxrss_kb": max(r.maxrss_kb for r in make_runs),
                       "nopdf_maxrss_kb": max(r.maxrss_kb for r in nopdf_runs)}
    return lines


def tex_floor(engine, env, sources, folder: Path, parallel: bool) -> float | None:
    """Compile `sources` once each (copies in `folder`), as exgen does; wall time."""
    folder.mkdir(parents=True)
    for src in sources:
        shutil.copy(src, folder / src.name)
    start = time.perf_counter()
    processes = []
    codes = []
    for src in sources:
        p = subprocess.Popen([engine, *TEX_FLAGS, src.name], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if parallel:
            processes.append(p)
        else:
            codes.append(p.wait())
    codes += [p.wait() for p in processes]
    wall = time.perf_counter() - start
    if any(codes):
        log(f"TeX floor: pdflatex failed in {folder}")
        return None
    return wall


def tex_stage(sources, folder: Path) -> float | None:
    """Compile `sources` (copies in `folder`) with exgen's own TeX stage
    (exgen.compile.compile_all: parallel, preloaded preamble); wall time."""
    from exgen.compile import compile_all

    folder.mkdir(parents=True)
    for src in sources:
        shutil.copy(src, folder / src.name)
    start = time.perf_counter()
    try:
        compile_all([folder / src.name for src in sources])
    except Exception as exc:  # reported, not fatal: the other rows still mean something
        log(f"exgen's TeX stage failed in {folder}: {exc}")
        return None
    return time.perf_counter() - start


# ---------------------------------------------------------- imports

def bench_imports(cfg, results: dict) -> list[str]:
    log(f"imports: {cfg.import_runs} runs each")
    cases = [("python -c pass (interpreter start)", "pass"),
             ("python -c 'import exgen.cli'", "import exgen.cli"),
             ("python -c 'import sympy'", "import sympy")]
    rows = []
    walls = {}
    for label, code in cases:
        times = [run_measured([sys.executable, "-c", code], cwd=REPO).wall for _ in range(cfg.import_runs)]
        walls[code] = statistics.median(times)
        rows.append([label, len(times), *map(sec, mmm(times))])
    lines = [table(["what", "runs", "median", "min", "max"], rows)]
    for module in ("exgen.cli", "sympy"):
        run = run_measured([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=REPO)
        cumulative = None
        for line in run.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                cumulative = int(parts[1].strip()) / 1e6
        lines.append(f"-X importtime cumulative for {module}: "
                     + (sec(cumulative) if cumulative is not None else "n/a"))
    check = subprocess.run([sys.executable, "-c", "import sys, exgen.cli; print('sympy' in sys.modules)"],
                           cwd=REPO, capture_output=True, text=True)
    lines.append(f"does `import exgen.cli` load sympy? {check.stdout.strip() or check.stderr.strip()[-200:]}")
    lines.append("import costs above interpreter start (medians): "
                 f"exgen.cli {sec(walls['import exgen.cli'] - walls['pass'])}, "
                 f"sympy {sec(walls['import sympy'] - walls['pass'])}")
    results["imports"] = walls
    return lines


# -------------------------------------------------- section 2: generation

def worker_generation(sheets: int, per_level: int) -> dict:
    t = time.perf_counter()
    from exgen.render import make_environment, render_documents
    from exgen.sheet import SheetOptions, build_sheet

    imported = time.perf_counter() - t
    env = make_environment()
    t = time.perf_counter()
    first = build_sheet(SheetOptions(count=20, seed=1_000_003))
    render_documents(first, env)
    cold = time.perf_counter() - t

    build_total = render_total = 0.0
    problems = 0
    errors = []
    sheet_times = []
    # CPU time beside wall time: on a shared (virtual) machine a neighbour's
    # load stretches the wall clock, not this process's CPU seconds.
    cpu_start = time.process_time()
    for seed in range(sheets):
        t0 = time.perf_counter()
        try:
            sheet = build_sheet(SheetOptions(count=20, seed=seed))
        except Exception as exc:
            errors.append(f"mixed count=20 seed={seed}: {type(exc).__name__}: {exc}")
            continue
        t1 = time.perf_counter()
        render_documents(sheet, env)
        t2 = time.perf_counter()
        build_total += t1 - t0
        render_total += t2 - t1
        problems += len(sheet.problems)
        sheet_times.append(t2 - t0)
    cpu = time.process_time() - cpu_start

    samples = []
    for level in LEVELS:
        for seed in range(per_level):
            t0 = time.perf_counter()
            try:
                sheet = build_sheet(SheetOptions(count=1, seed=seed, difficulty=level))
            except Exception as exc:
                errors.append(f"{level} count=1 seed={seed}: {type(exc).__name__}: {exc}")
                samples.append({"level": level, "seed": seed, "topic": "ERROR", "steps": 0,
                                "build": time.perf_counter() - t0, "render": 0.0})
                continue
            t1 = time.perf_counter()
            render_documents(sheet, env)
            t2 = time.perf_counter()
            problem = sheet.problems[0]
            samples.append({"level": level, "seed": seed, "topic": problem.exercise.topic, "steps": problem.steps,
                            "build": t1 - t0, "render": t2 - t1})
    return {"import": imported, "cold": cold, "sheets": len(sheet_times), "problems": problems, "cpu": cpu,
            "build": build_total, "render": render_total, "sheet_times": sheet_times, "samples": samples,
            "errors": errors}


def bench_generation(cfg, results: dict) -> list[str]:
    log(f"generation: {cfg.gen_sheets} mixed sheets x 20 problems, then {cfg.per_level} one-problem sheets "
        "per difficulty (one process)")
    data, run = worker("generation", cfg.gen_sheets, cfg.per_level, timeout=1200)
    results["generation"] = {**data, "maxrss_kb": run.maxrss_kb}
    if "error" in data:
        return [f"ERROR: {data['error']}"]
    total = data["build"] + data["render"]
    rate = data["problems"] / total if total else float("nan")
    results["generation"]["rate"] = rate
    lines = [
        f"throughput, mixed difficulty, 20-problem sheets, seeds 0..{cfg.gen_sheets - 1}, one process:",
        table(["what", "value", "target (issue 7)"], [
            ["problems", data["problems"], ""],
            ["build_sheet + render_documents", f"{rate:.1f} problems/s", ">= 100 problems/s"],
            ["  the same per CPU second of this process", f"{data['problems'] / data['cpu']:.1f} problems/s"
             if data.get("cpu") else "n/a", ""],
            ["  of which build_sheet", f"{sec(data['build'])} ({data['build'] / total:.0%})", ""],
            ["  of which render_documents", f"{sec(data['render'])} ({data['render'] / total:.0%})", ""],
            ["per 20-problem sheet (median/min/max)", " / ".join(sec(x) for x in mmm(data["sheet_times"])), ""],
            ["first sheet in a fresh process (cold)", sec(data["cold"]), ""],
            ["import exgen.sheet + exgen.render", sec(data["import"]), ""],
        ]),
        "",
        "per-problem latency: build_sheet(SheetOptions(count=1, seed=s, difficulty=d)) + render_documents,"
        f" seeds 0..{cfg.per_level - 1}:",
    ]
    rows = []
    samples = data["samples"]
    for level in (*LEVELS, "all"):
        chosen = [s for s in samples if level in ("all", s["level"])]
        if not chosen:
            continue
        times = [s["build"] + s["render"] for s in chosen]
        slowest = max(chosen, key=lambda s: s["build"] + s["render"])
        rows.append([level, len(times), ms(percentile(times, 50)), ms(percentile(times, 95)),
                     ms(percentile(times, 99)), ms(max(times)), sum(t > 0.1 for t in times),
                     sum(t > 1.0 for t in times),
                     f"{slowest['level']} seed {slowest['seed']} ({slowest['topic']})",
                     f"{statistics.mean(s['render'] for s in chosen) * 1000:.1f} ms"])
    lines.append(table(["difficulty", "n", "p50", "p95", "p99", "max", ">100ms", ">1s", "slowest",
                        "mean render"], rows))
    lines.append("targets (issue 7): p99 < 100 ms, none over 1 s")
    by_topic: dict[str, list[float]] = {}
    for s in samples:
        by_topic.setdefault(s["topic"], []).append(s["build"] + s["render"])
    lines += ["", "per topic (all difficulties above):",
              table(["topic", "n", "p50", "p95", "max"],
                    [[topic, len(t), ms(percentile(t, 50)), ms(percentile(t, 95)), ms(max(t))]
                     for topic, t in sorted(by_topic.items(), key=lambda kv: -percentile(kv[1], 50))])]
    if data["errors"]:
        lines += ["", f"ERRORS ({len(data['errors'])}):", *data["errors"][:20]]
    return lines


# ------------------------------------------------- mathematics_dataset

def worker_mds(per_module: int) -> dict:
    sys.path.insert(0, str(BENCH))
    try:
        import mathematics_dataset  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"mathematics_dataset is not installed ({exc}); `pip install mathematics-dataset`"}
    import random

    import numpy as np

    try:
        from mds_shim import load_calculus

        calculus = load_calculus()
        from mathematics_dataset import generate_settings
    except Exception as exc:
        return {"skipped": f"mathematics_dataset does not import with bench/mds_shim.py: {type(exc).__name__}: {exc}"}
    regimes = [("train, entropy 3..10", calculus.train(lambda r: r)),
               ("interpolate, entropy 8", calculus.test())]
    rows = []
    for regime, modules in regimes:
        for name in sorted(modules):
            module = modules[name]
            random.seed(0)
            np.random.seed(0)
            for _ in range(5):  # warm-up
                module()
            times, dropped = [], 0
            start = time.perf_counter()
            for _ in range(per_module):
                t0 = time.perf_counter()
                while True:  # generate.sample_from_module: drop over-long questions/answers
                    problem = module()
                    if len(str(problem.question)) > generate_settings.MAX_QUESTION_LENGTH:
                        dropped += 1
                        continue
                    if len(str(problem.answer)) > generate_settings.MAX_ANSWER_LENGTH:
                        dropped += 1
                        continue
                    break
                times.append(time.perf_counter() - t0)
            total = time.perf_counter() - start
            rows.append({"regime": regime, "module": f"calculus__{name}", "n": per_module, "seconds": total,
                         "dropped": dropped, "p50": percentile(times, 50), "p99": percentile(times, 99),
                         "max": max(times), "example": f"{problem.question}  ->  {problem.answer}"})
    return {"rows": rows}


def bench_mds(cfg, results: dict) -> list[str]:
    log(f"mathematics_dataset: {cfg.mds_per_module} problems per module")
    data, run = worker("mds", cfg.mds_per_module, timeout=600)
    results["mds"] = {**data, "maxrss_kb": run.maxrss_kb}
    exgen_rate = results.get("generation", {}).get("rate")
    exgen_row = ["exgen (mixed, build_sheet + render_documents)", "",
                 f"{exgen_rate:.1f}" if exgen_rate else "n/a", "", "", "", ""]
    headers = ["generator", "regime", "problems/s", "p50", "p99", "max", "dropped"]
    if "skipped" in data or "error" in data:
        reason = data.get("skipped") or data.get("error")
        return [table(headers, [exgen_row, ["mathematics_dataset calculus__differentiate", "", "skipped", "", "",
                                            "", ""]]), f"skipped: {reason}"]
    rows = [exgen_row]
    for r in data["rows"]:
        rows.append([r["module"], r["regime"], f"{r['n'] / r['seconds']:.1f}", ms(r["p50"]), ms(r["p99"]),
                     ms(r["max"]), r["dropped"]])
    lines = [table(headers, rows)]
    lines.append("examples: " + " | ".join(r["example"][:140] for r in data["rows"][:2]))
    lines.append("note: mathematics_dataset draws polynomials (and compositions of 'the n-th derivative of' "
                 "polynomials) and states the answer; exgen composes the course's rules (chain, quotient, e^f, ln, "
                 "sigma, softmax, ...), derives every answer rule by rule, checks every step and the JSON "
                 "check strings numerically, and renders both .tex documents and sheet.json.")
    lines.append("mathematics_dataset runs on current SymPy/NumPy through bench/mds_shim.py (in-memory patches).")
    return lines


# ------------------------------------------------------ section 3: rosters

def worker_student_tex(folder: str, count: int) -> dict:
    import dataclasses

    from exgen.pipeline import render_all
    from exgen.sheet import SheetOptions

    options = dataclasses.replace(SheetOptions(count=count, seed=ROSTER_SEED), student="s000",
                                  student_name="Student 0", versions=1)
    _, files = render_all(options)
    written = []
    for name, data in files.items():
        if name.endswith(".tex"):
            (Path(folder) / name).write_bytes(data)
            written.append(name)
    return {"files": sorted(written)}


def worker_roster(students: int, jobs: int, folder: str, count: int) -> dict:
    from exgen.pipeline import make_roster
    from exgen.roster import Student
    from exgen.sheet import SheetOptions

    roster = tuple(Student(f"s{i:03d}", f"Student {i}") for i in range(students))
    start = time.perf_counter()
    result = make_roster(SheetOptions(count=count, seed=ROSTER_SEED), roster, Path(folder), pdf=True,
                         jobs=jobs)
    return {"wall": time.perf_counter() - start, "files": len(result.written)}


def bench_rosters(cfg, work: Path, results: dict, deadline: float | None) -> list[str]:
    engine, tex_env = tex_setup()
    cores = os.cpu_count() or 1
    student_dir = work / "student-tex"
    student_dir.mkdir()
    data, _ = worker("student_tex", str(student_dir), cfg.roster_count, timeout=300)
    if "error" in data:
        return [f"ERROR: {data['error']}"]
    sources = [student_dir / name for name in data["files"]]
    floors = [tex_floor(engine, tex_env, sources, work / f"student-floor-{i}", parallel=False)
              for i in range(cfg.student_floor_runs)]
    floors = [f for f in floors if f is not None]
    if not floors:
        return ["ERROR: the per-student TeX floor failed to compile"]
    floor = statistics.median(floors)
    lines = [f"per-student TeX floor (student s000's {' + '.join(data['files'])}, pdflatex once each, one after "
             f"the other; median of {len(floors)}): {sec(floor)}",
             f"roster: make_roster(SheetOptions(count={cfg.roster_count}, seed={ROSTER_SEED}), N students, pdf=True, "
             "jobs=J), timed inside a fresh process (import excluded); includes the merged all-exercises.pdf"]
    # Order: the all-cores rows (the target) first, smallest first, except the cheap
    # 10-student jobs=1 row right after 10 at all cores; then the bigger jobs=1 rows, which
    # the budget drops first.
    smallest = min(cfg.roster_sizes)
    plan = [(smallest, cores)] + ([(smallest, 1)] if cores > 1 else [])
    plan += [(n, cores) for n in cfg.roster_sizes if n != smallest]
    plan += [(n, 1) for n in cfg.roster_sizes if n != smallest and cores > 1]
    per_student: dict[int, float] = {}
    rows, raw = [], []
    for n, j in plan:
        floor_nj = n * floor / j
        if j in per_student:
            estimate = n * per_student[j]
        elif per_student:  # from another jobs value, assuming perfect scaling
            k = max(per_student)
            estimate = n * per_student[k] * k / j
        else:
            estimate = n * floor * 4 / j
        if deadline is not None and time.monotonic() + estimate > deadline:
            left = max(0.0, deadline - time.monotonic())
            rows.append([n, j, "skipped", "", sec(floor_nj), "", "", "", ""])
            lines.append(f"skipped: {n} students at jobs={j}: estimated {estimate:.0f} s, {left:.0f} s left of "
                         f"--budget {cfg.budget:.0f} s (run with --budget 0 to include it)")
            raw.append({"students": n, "jobs": j, "skipped": True, "estimate": estimate})
            continue
        log(f"roster: {n} students, jobs={j} (estimate {estimate:.0f} s)")
        out = work / f"roster-{n}-{j}"
        data, run = worker("roster", n, j, str(out), cfg.roster_count, timeout=max(600.0, 3 * estimate), sample_tree=True)
        shutil.rmtree(out, ignore_errors=True)
        if "error" in data:
            rows.append([n, j, "ERROR", "", sec(floor_nj), "", "", mb(run.maxrss_kb), mb(run.tree_kb)])
            lines.append(f"ERROR at {n} students jobs={j}: {data['error']}")
            raw.append({"students": n, "jobs": j, "error": data["error"]})
            continue
        wall = data["wall"]
        per_student[j] = wall / n
        rows.append([n, j, sec(wall), sec(run.wall), sec(floor_nj), f"{wall / floor_nj:.2f}x",
                     ms(wall / n), mb(run.maxrss_kb), mb(run.tree_kb)])
        raw.append({"students": n, "jobs": j, "wall": wall, "outer_wall": run.wall, "floor": floor_nj,
                    "maxrss_kb": run.maxrss_kb, "tree_pss_kb": run.tree_kb})
    lines.insert(2, table(["students", "jobs", "wall", "wall+start", "TeX floor x N / J", "ratio", "per student",
                           "max RSS", "tree PSS peak"], rows))
    lines.insert(3, "target (issue 7): 300 students within 1.2x (300 x floor / cores); linear from 10 to 300; "
                    "peak memory < 300 MB")
    results["rosters"] = {"student_floor": floor, "rows": raw}
    return lines


# ------------------------------------------------------- section 4: memory

def memory_lines(results: dict) -> list[str]:
    rows = []
    make = results.get("make", {})
    if "maxrss_kb" in make:
        rows.append(["exgen make --count 20 --seed 7 (max over runs)", mb(make["maxrss_kb"]), ""])
        rows.append(["exgen make ... --no-pdf", mb(make["nopdf_maxrss_kb"]), ""])
    gen = results.get("generation", {})
    if "maxrss_kb" in gen:
        rows.append(["generation section (one process, all seeds)", mb(gen["maxrss_kb"]), ""])
    for r in results.get("rosters", {}).get("rows", []):
        if "maxrss_kb" in r:
            rows.append([f"roster {r['students']} students, jobs={r['jobs']}", mb(r["maxrss_kb"]),
                         mb(r["tree_pss_kb"])])
    mds = results.get("mds", {})
    if mds.get("rows"):
        rows.append(["mathematics_dataset section (for reference)", mb(mds["maxrss_kb"]), ""])
    return [table(["process", "max RSS (largest single process)", "tree PSS peak (sampled)"], rows),
            "target (issue 7): under 300 MB for all of the above. max RSS is ru_maxrss via os.wait4: the largest "
            "single process among the command and its waited-for children (pdflatex, pool workers)."]


# ------------------------------------------------------------------- main

class Config:
    def __init__(self, quick: bool, budget: float | None, roster_count: int | None = None):
        self.quick = quick
        # --quick: 5 problems per student sheet, so the smoke run stays near a minute.
        self.roster_count = roster_count or (5 if quick else 20)
        self.make_runs = 2 if quick else 5
        self.nopdf_runs = 1 if quick else 3
        self.import_runs = 2 if quick else 5
        self.gen_sheets = 2 if quick else 15
        self.per_level = 8 if quick else 200
        self.mds_per_module = 20 if quick else 300
        self.student_floor_runs = 2 if quick else 5
        self.roster_sizes = (10,) if quick else (10, 100, 300)
        self.budget = budget if budget is not None else (60.0 if quick else 590.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about 1 minute)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for the whole run; roster rows that would overrun it are skipped "
                             "(default 590, or 60 with --quick; 0 = no limit)")
    parser.add_argument("--roster-count", type=int, default=None,
                        help="problems per student sheet in the roster section (default 20, exgen's default; "
                             "5 with --quick)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: "
                                                   "make,imports,generation,mds,rosters")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    parser.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._worker:
        kind, params = args._worker
        function = {"generation": worker_generation, "mds": worker_mds, "student_tex": worker_student_tex,
                    "roster": worker_roster}[kind]
        print(json.dumps(function(*json.loads(params))), flush=True)
        return 0

    cfg = Config(args.quick, args.budget, args.roster_count)
    # A user's Python keeps the bytecode of exgen's modules after the first
    # run; a shell that forbids writing it would charge every timed run for
    # compiling them again (about 0.05 s per process here).
    bytecode_note = ("python     PYTHONDONTWRITEBYTECODE was set in this shell; exgen runs without it, "
                     "as on a user's machine" if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) else None)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    started = time.monotonic()
    deadline = started + cfg.budget if cfg.budget else None
    if shutil.which("pdflatex") is None:
        print("pdflatex not found: install texlive-latex-base texlive-latex-recommended lmodern", file=sys.stderr)
        return 2
    results: dict = {}
    report = ["exgen benchmarks (bench/run.py" + (" --quick" if cfg.quick else "") + ")", "", *machine_info()]
    if bytecode_note:
        report.append(bytecode_note)
    work = Path(tempfile.mkdtemp(prefix="exgen-bench-"))
    try:
        sections = [
            ("make", "1. exgen make end to end vs the TeX floor", lambda: bench_make(cfg, work, results)),
            ("imports", "1b. import times", lambda: bench_imports(cfg, results)),
            ("generation", "2. generation without PDF (one core)", lambda: bench_generation(cfg, results)),
            ("mds", "5. beside DeepMind's mathematics_dataset (problems/s, one core)", lambda: bench_mds(cfg, results)),
            ("export", "6. a question bank: --choices, --variants, --export moodle,canvas",
             lambda: bench_export(cfg, work, results)),
            ("rosters", "3. per-student rosters", lambda: bench_rosters(cfg, work, results, deadline)),
        ]
        for key, title, function in sections:
            report += ["", "=" * 100, title, "=" * 100]
            if key in skip:
                report.append(f"skipped: --skip {key}")
                continue
            try:
                report += function()
            except Exception as exc:  # a broken section must not hide the others
                report.append(f"ERROR in section {key}: {type(exc).__name__}: {exc}")
        report += ["", "=" * 100, "4. peak memory", "=" * 100, *memory_lines(results)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = time.monotonic() - started
    report += ["", f"load avg   {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) at end",
               f"bench wall time: {total:.0f} s"]
    print("\n".join(report), flush=True)
    if args.json:
        results["bench_seconds"] = total
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
