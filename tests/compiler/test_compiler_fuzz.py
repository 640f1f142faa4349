"""A fuzzer for `cascade gen` / `cascade check`: it mutates the example projects (each case
folder under tests/cases, and the repo's own example: pyproject.toml + examples/ + generated/)
and runs the compiler on every mutant.

Mutation operators (one to three per mutant, each drawn from the mutant's own seed):
- tokens: delete, duplicate or swap a token of a source file (or of the [tool.cascade] table);
- lines: delete, duplicate or swap lines;
- literals: replace a literal with another literal, a name or an odd expression;
- hostile strings: quotes, backslashes, newlines, `\"\"\"`, `{}`, unicode, NUL, very long ones, in
  one string position or in every string position of a file (as valid literals, and raw);
- settings: `sources`/`out`/`namespace`/`partition_start` set to odd values (absolute, `..`,
  the project itself, a user package, a sibling folder);
- names: rename a file or folder to a name with spaces, unicode, a newline, a keyword...;
- user files: a file without the generated header put in `out`, where gen writes or beside.

Properties, for every mutant (the compiler runs in-process through the CLI's own commands,
click's CliRunner; a handful of mutants also run through the installed console script):
- it never shows a traceback: exit 0, or exit 1 with `path:line:col: error: ...` diagnostics;
- a run that exits 1 changes nothing (apart from the compile cache in `.cascade/`);
- nothing outside `out` is written or deleted: listing + hashes of the project's parent folder
  (the project and its neighbours) before and after, `out` and `.cascade/` excluded;
- in `out`, a file is only deleted or overwritten when it carries the generated header;
- every generated file compiles, and the schema modules (they import pyiceberg only) run;
- right after a successful gen, `cascade check` says the output is up to date.

CI runs a few hundred seeded mutants (CASCADE_FUZZ_CASES, default 300; about 10 s). A
longer exploration, with seeds from CASCADE_FUZZ_SEED on (default 0):
    CASCADE_FUZZ_CASES=5000 .venv/bin/pytest tests/compiler/test_compiler_fuzz.py
A failing mutant is named by its seed and base project (`test_mutant[seed-123-types_seed_table]`;
which base a seed mutates depends on the list of cases) and the failure message lists the
mutations that made it; rerun it alone with -k 'seed-123-'. Mutants that found a bug stay in
FOUND with their base project; a bug not fixed yet goes in KNOWN_BUGS (a strict xfail).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from cascade.compiler.cli import main
from cascade.compiler.config import GENERATED_MARK, ConfigError, load_config
from tests.helpers import CASCADE, CASES, REPO_ROOT, case_names, copy_case

# Slow: hundreds of mutants, a few through the console script.
pytestmark = pytest.mark.slow

BASES = ["example", *case_names(CASES)]
# Projects that compile before mutation: a mutant of one of them reaches the writer far more
# often than a mutant of a case that shows a diagnostic, so they get every other seed.
VALID_BASES = [b for b in BASES if not b.startswith("diag_")]
FIRST_SEED = int(os.environ.get("CASCADE_FUZZ_SEED", "0"))
COUNT = int(os.environ.get("CASCADE_FUZZ_CASES", "300"))
# Seeds that run through the installed console script too (a real process, real argv).
CONSOLE_SEEDS = {FIRST_SEED + k for k in (0, 1, 7, 13, 42)}
# Mutants that found a compiler bug, kept whatever the case list becomes (which base project
# a seed mutates depends on it): (seed, base project) -> the bug, fixed since. Each also has a
# case folder of its own under tests/cases.
FOUND: dict[tuple[int, str], str] = {
    (6, "decorator_imported_under_alias"): "a class imported from its own module: RecursionError",
    (324, "model_reexported_by_package_init"): "a NUL in a sources entry: ValueError",
    (581, "params_required_only"): "group=None: AssertionError",
    (2666, "model_config_options"): "unique_key=None: AssertionError",
    (865, "diag_freshness_warn_zero"): "an out name over 255 bytes: OSError",
    (3741, "types_typeddict_struct"): (
        "a TypedDict field declared twice: a schema module that does not import"
    ),
    (34076, "types_typeddict_struct"): "a TypedDict that contains itself: RecursionError",
    (2832, "iceberg_schema_with_validation_schema"): (
        "two iceberg_schema fields of one name: a schema module that does not import"
    ),
}
# Mutants that show a known compiler bug, not fixed yet: (seed, base project) -> the bug.
KNOWN_BUGS: dict[tuple[int, str], str] = {}

HOSTILE_STRINGS = [
    "",
    " ",
    "'",
    '"',
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\t",
    '"""',
    "'''",
    "{}",
    "{0}",
    "{x!r}",
    "%s",
    "%(x)s",
    "ünïcödé",
    "名前",
    "🦆",
    "\u202eevil",
    "\x00",
    "a\x00b",
    "x" * 5000,
    "::error::forged",
    "${{ secrets.X }}",
    "../..",
    "/etc",
    "__init__",
    "class",
    "None",
    "_dlt_id",
    "_cascade_ingested_at",
    "a.b",
    "a b",
    "Table-Name",
    "raw",
    "2024-01-01",
    "0 0 * * *",
    "*/5 * * * *",
    "day(ts)",
    "bucket[4](id)",
    "\"); import os; os.system('x') #",
    "'''\nimport os\n'''",
]
HOSTILE_NAMES = [
    "with space",
    "ünïcödé",
    "名前",
    "🦆",
    "new\nline",
    "tab\there",
    "class",
    "import",
    "None",
    "__init__",
    "__main__",
    "1st",
    "-dash",
    "a.b",
    ".hidden",
    "back\\slash",
    "quote'\"",
    "{}",
    "%s",
    "x" * 200,
]
PYTHON_LITERALS = [
    "None",
    "True",
    "False",
    "0",
    "-1",
    "1.5",
    "2**31",
    "10**40",
    "1e309",
    "()",
    "[]",
    "{}",
    "...",
    "b'x'",
    "f'{x}'",
    "lambda: 0",
    "'x'",
    "[1, 'a']",
    "__import__('os')",
    "print",
]
TOML_LITERALS = [
    '"."',
    '""',
    '"/"',
    '".."',
    '"../neighbour"',
    '"generated"',
    '"generated/sub"',
    '"examples"',
    '"examples/ingestion"',
    '"models"',
    '"ingestion"',
    '"ingestion/../ingestion"',
    '"out dir"',
    "[]",
    '["."]',
    '[".."]',
    '["ingestion", "ingestion"]',
    "1",
    "true",
    "{}",
    '"2024-13-01"',
    '"1969-12-31"',
    '"2024-01-01T00:00:00"',
    '"raw"',
    '"Raw-Namespace"',
    '"a.b"',
]
TOKEN = re.compile(
    r'[rRbBfFuU]{0,2}(?:"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"'
    r"|'(?:\\.|[^'\\\n])*')|\d[\w.]*|\w+|[^\s\w]"
)
STRING = re.compile(r"[rRbBfFuU]{0,2}[\"']")
DIAGNOSTIC = re.compile(r"^.*:\d+:\d+: (error|warning): ", re.MULTILINE)


@dataclass
class Mutant:
    seed: int
    base: str
    root: Path
    log: list[str] = field(default_factory=list)

    def describe(self) -> str:
        steps = "".join(f"\n  - {step}" for step in self.log)
        return f"seed {self.seed}, base project {self.base!r}, mutations:{steps}"


def make_project(base: str, parent: Path) -> Path:
    """The base project, copied to parent/project, with neighbours beside it that nothing may
    touch (one is a package, one holds a decorated ingestion, one is a plain file)."""
    root = parent / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    if base == "example":
        root.mkdir(parents=True)
        shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
        shutil.copytree(REPO_ROOT / "examples", root / "examples", ignore=ignore)
        shutil.copytree(REPO_ROOT / "generated", root / "generated", ignore=ignore)
    else:
        copy_case(CASES / base, root, previous=True)
    (parent / "neighbour.txt").write_text("a file beside the project\n")
    (parent / "neighbour").mkdir()
    (parent / "neighbour" / "__init__.py").write_text("# a package beside the project\n")
    (parent / "abs_out").mkdir()
    (parent / "abs_out" / "keep.py").write_text("KEEP = 1\n")
    return root


def source_files(root: Path) -> list[Path]:
    """The files a mutation may edit: every Python file of the project, and pyproject.toml."""
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts) + [
        root / "pyproject.toml"
    ]


def cascade_table(lines: list[str]) -> range:
    """The line numbers of pyproject.toml's [tool.cascade] table (all lines when not found)."""
    start = next((i for i, line in enumerate(lines) if line.strip() == "[tool.cascade]"), None)
    if start is None:
        return range(len(lines))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    return range(start, end)


def editable_span(path: Path, text: str) -> tuple[int, int]:
    """The part of the file a mutation edits: pyproject.toml's [tool.cascade] table (the rest
    is the repo's packaging), or the whole of a source file."""
    if path.name != "pyproject.toml":
        return 0, len(text)
    lines = text.splitlines(keepends=True)
    table = cascade_table(lines)
    start = sum(len(line) for line in lines[: table.start])
    return start, start + sum(len(lines[i]) for i in table)


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def mutate_text(rng: random.Random, path: Path, text: str, log: list[str], root: Path) -> str:
    toml = path.name == "pyproject.toml"
    lo, hi = editable_span(path, text)
    head, body, tail = text[:lo], text[lo:hi], text[hi:]
    tokens = [m for m in TOKEN.finditer(body)]
    strings = [m for m in tokens if STRING.match(m.group())]
    literals = [m for m in tokens if STRING.match(m.group()) or m.group()[0].isdigit()]
    names = sorted({m.group() for m in tokens if m.group()[0].isalpha() or m.group()[0] == "_"})
    where = path.relative_to(root).as_posix()
    ops = ["delete token", "duplicate token", "swap tokens", "delete line", "duplicate line"]
    ops += ["swap lines", "replace literal", "hostile string", "hostile strings everywhere"]
    op = rng.choice(ops)

    def at(m: re.Match) -> str:
        return f"{body[: m.start()].count(chr(10)) + 1 + head.count(chr(10))}"

    if op.endswith("token") and tokens:
        m = rng.choice(tokens)
        new = "" if op == "delete token" else m.group() + " " + m.group()
        log.append(f"{where}:{at(m)}: {op} {m.group()[:40]!r}")
        body = body[: m.start()] + new + body[m.end() :]
    elif op == "swap tokens" and len(tokens) > 1:
        i = rng.randrange(len(tokens) - 1)
        a, b = tokens[i], tokens[i + 1 + rng.randrange(min(3, len(tokens) - i - 1))]
        log.append(f"{where}:{at(a)}: swap {a.group()[:40]!r} and {b.group()[:40]!r}")
        body = (
            body[: a.start()] + b.group() + body[a.end() : b.start()] + a.group() + body[b.end() :]
        )
    elif op.endswith("line") or op == "swap lines":
        lines = body.splitlines(keepends=True)
        if not lines:
            return text
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        log.append(f"{where}: {op} {i + 1 + head.count(chr(10))} ({lines[i].strip()[:40]!r})")
        if op == "delete line":
            del lines[i]
        elif op == "duplicate line":
            lines.insert(i, lines[i] if lines[i].endswith("\n") else lines[i] + "\n")
        else:
            lines[i], lines[j] = lines[j], lines[i]
        body = "".join(lines)
    elif op == "replace literal" and literals:
        m = rng.choice(literals)
        pool = TOML_LITERALS if toml else PYTHON_LITERALS + names
        pool = pool + [x.group() for x in literals]
        new = rng.choice(pool)
        log.append(f"{where}:{at(m)}: replace {m.group()[:40]!r} with {new[:40]!r}")
        body = body[: m.start()] + new + body[m.end() :]
    elif op.startswith("hostile string") and strings:
        chosen = strings if op.endswith("everywhere") else [rng.choice(strings)]
        raw = rng.random() < 0.15  # the string spliced in unescaped, as a careless edit would
        pieces, last = [], 0
        for m in chosen:
            value = rng.choice(HOSTILE_STRINGS)
            if raw:
                quote = m.group()[-1]
                new = quote + value + quote
            else:
                new = toml_string(value) if toml else repr(value)
            pieces += [body[last : m.start()], new]
            last = m.end()
            log.append(
                f"{where}:{at(m)}: {'raw ' if raw else ''}{value[:40]!r} for {m.group()[:40]!r}"
            )
        body = "".join(pieces) + body[last:]
    else:
        return text
    return head + body + tail


def rename(rng: random.Random, root: Path, log: list[str]) -> None:
    """Renames a file or folder of the project (never pyproject.toml itself) to a hostile name."""
    candidates = sorted(
        p
        for p in root.rglob("*")
        if "__pycache__" not in p.parts and p.name != "pyproject.toml" and ".cascade" not in p.parts
    )
    if not candidates:
        return
    path = rng.choice(candidates)
    name = rng.choice(HOSTILE_NAMES)
    if path.is_file() and path.suffix == ".py" and rng.random() < 0.8:
        name += ".py"
    target = path.with_name(name)
    if target.exists():
        return
    log.append(f"rename {path.relative_to(root).as_posix()!r} to {name!r}")
    path.rename(target)


def plant_user_file(rng: random.Random, root: Path, log: list[str]) -> None:
    """A file of the user's own (no generated header) in `out`: at a path gen writes, or new."""
    out = root / "generated"
    generated = sorted(p for p in out.rglob("*.py") if "__pycache__" not in p.parts)
    if generated and rng.random() < 0.6:
        target = rng.choice(generated)
    else:
        target = out / rng.choice(["mine.py", "schemas/mine.py", "assets/__init__.py", "x/y.py"])
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("# my own module: gen must never touch it\nMINE = 1\n")
    log.append(f"user file {target.relative_to(root).as_posix()!r}")


def symlink(rng: random.Random, root: Path, log: list[str]) -> None:
    """A file or folder of `out` replaced by a symlink to the project's neighbours (a pull
    request can commit symlinks): gen must not write through it."""
    out = root / "generated"
    targets = sorted(p for p in out.rglob("*") if "__pycache__" not in p.parts)
    if not targets:
        return
    path = rng.choice(targets)
    if path.is_symlink() or not path.exists():
        return
    neighbour = root.parent / ("neighbour.txt" if path.is_file() else "neighbour")
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(neighbour)
    log.append(f"symlink {path.relative_to(root).as_posix()!r} -> {neighbour.name}")


def set_setting(rng: random.Random, root: Path, log: list[str]) -> None:
    """One [tool.cascade] setting set to an odd value (paths outside, the project itself, a
    sibling's absolute path...)."""
    pyproject = root / "pyproject.toml"
    lines = pyproject.read_text(encoding="utf-8").splitlines(keepends=True)
    table = cascade_table(lines)
    key = rng.choice(["sources", "out", "namespace", "partition_start"])
    parent = root.parent
    values = TOML_LITERALS + [
        toml_string(str(parent / "abs_out")),
        toml_string(str(parent / "neighbour")),
        toml_string(str(root / "generated")),
        f"[{toml_string(str(parent / 'neighbour'))}]",
        toml_string(rng.choice(HOSTILE_STRINGS)),
    ]
    value = rng.choice(values)
    index = next((i for i in table if lines[i].startswith(f"{key} =")), None)
    line = f"{key} = {value}\n"
    if index is None:
        lines.insert(table.stop, line)
    else:
        lines[index] = line
    pyproject.write_text("".join(lines), encoding="utf-8")
    log.append(f"pyproject.toml: {line.strip()[:80]!r}")


def mutate(mutant: Mutant, rng: random.Random) -> None:
    for _ in range(rng.choice([1, 1, 2, 3])):
        kinds = ["text", "rename", "user file", "setting", "symlink"]
        kind = rng.choices(kinds, [14, 2, 1, 1, 1])[0]
        if kind == "rename":
            rename(rng, mutant.root, mutant.log)
        elif kind == "user file":
            plant_user_file(rng, mutant.root, mutant.log)
        elif kind == "symlink":
            symlink(rng, mutant.root, mutant.log)
        elif kind == "setting":
            set_setting(rng, mutant.root, mutant.log)
        else:
            files = source_files(mutant.root)
            # Mostly the ingestion and model modules, which the compiler reads.
            weights = [
                1 if {"generated", "fixtures"} & set(p.parts) or p.suffix == ".toml" else 4
                for p in files
            ]
            path = rng.choices(files, weights)[0]
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            new = mutate_text(rng, path, text, mutant.log, mutant.root)
            path.write_text(new, encoding="utf-8", errors="surrogateescape")


# --- what a run may change -----------------------------------------------------------------


def listing(parent: Path) -> dict[str, tuple[str, bool]]:
    """Every file and folder under `parent`: relative path -> (hash or 'dir', has the generated
    header). __pycache__ is left out (Python writes it on import, not the compiler)."""
    found = {}
    for folder, dirs, files in os.walk(parent):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        here = Path(folder)
        for d in dirs:
            found[(here / d).relative_to(parent).as_posix()] = ("dir", False)
        for f in files:
            path = here / f
            data = path.read_bytes() if not path.is_symlink() else b"link"
            found[path.relative_to(parent).as_posix()] = (
                hashlib.sha256(data).hexdigest(),
                data.startswith(GENERATED_MARK.encode()),
            )
    return found


def outside(listed: dict, prefixes: list[str]) -> dict:
    return {
        p: v
        for p, v in listed.items()
        if not any(p == x or p.startswith(x + "/") for x in prefixes)
    }


def out_prefix(root: Path) -> str | None:
    """`out` as the compiler reads it, relative to the project's parent; None when the
    configuration is refused (then nothing at all may change)."""
    try:
        config = load_config(root)
    except ConfigError:
        return None
    out = (config.root / config.out).resolve()
    parent = root.resolve().parent
    assert out.is_relative_to(root.resolve()) and out != root.resolve(), (
        f"load_config accepted out = {config.out!r}, which is not a folder inside the project"
    )
    return out.relative_to(parent).as_posix()


def run_cli(args: list[str], root: Path, console: bool) -> tuple[int, str, str]:
    if console:
        result = subprocess.run(
            [CASCADE, *args, "--project", str(root)], capture_output=True, text=True, timeout=120
        )
        return result.returncode, result.stdout, result.stderr
    runner = CliRunner()
    result = runner.invoke(main, [*args, "--project", str(root)], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        return -1, result.stdout, result.stderr + "\n" + trace
    return result.exit_code, result.stdout, result.stderr


def check_run(mutant: Mutant, command: str, console: bool) -> int:
    root = mutant.root
    parent = root.parent
    out = out_prefix(root)
    before = listing(parent)
    code, stdout, stderr = run_cli([command], root, console)
    after = listing(parent)
    context = (
        f"{mutant.describe()}\n`cascade {command}` exit {code}\n"
        f"stdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-5000:]}"
    )
    assert "Traceback" not in stderr and code in (0, 1), f"a traceback: {context}"
    cache = f"{root.name}/.cascade"
    if code == 1:
        assert DIAGNOSTIC.search(stderr), f"exit 1 without a path:line:col diagnostic: {context}"
        changed = {
            p
            for p in set(before) | set(after)
            if before.get(p) != after.get(p) and not (p == cache or p.startswith(cache + "/"))
        }
        assert not changed, f"a failed run changed {sorted(changed)}: {context}"
        return code
    assert out is not None, f"exit 0 although load_config refuses the project: {context}"
    kept = [out, cache]
    # The folders that lead to `out` (out = "a/b" when there is no a/ yet) are made too.
    made = [p for p in after if p not in before and out.startswith(p + "/")]
    assert all(after[p][0] == "dir" for p in made), f"{made}: {context}"
    kept += made
    kept_before, kept_after = outside(before, kept), outside(after, kept)
    differences = sorted(set(kept_before.items()) ^ set(kept_after.items()))
    assert kept_before == kept_after, f"written or deleted outside out: {differences}: {context}"
    for path, (digest, generated) in before.items():
        if digest == "dir" or generated or not path.startswith(out + "/"):
            continue
        if after.get(path) != (digest, generated):
            raise AssertionError(f"a user file without the header was lost: {path}: {context}")
    for path in sorted(after):
        if not (path.startswith(out + "/") and path.endswith(".py")) or not after[path][1]:
            continue
        text = (parent / path).read_text(encoding="utf-8")
        try:
            code_object = compile(text, path, "exec")
        except SyntaxError as error:
            raise AssertionError(f"{path} does not compile ({error}): {context}") from None
        if "/schemas/" in path and "\nSCHEMA = " in text:
            try:
                exec(code_object, {"__name__": "fuzzed_schema"})  # imports pyiceberg only
            except Exception:
                raise AssertionError(
                    f"{path} does not run:\n{traceback.format_exc()}\n{context}"
                ) from None
    return code


def base_of(seed: int) -> str:
    if seed % 2:
        return BASES[seed // 2 % len(BASES)]
    return VALID_BASES[seed // 2 % len(VALID_BASES)]


def seed_param(seed: int, base: str):
    bug = KNOWN_BUGS.get((seed, base))
    marks = [pytest.mark.xfail(reason=bug, strict=True)] if bug else []
    return pytest.param(seed, base, id=f"seed-{seed}-{base}", marks=marks)


PARAMS = [seed_param(s, base_of(s)) for s in range(FIRST_SEED, FIRST_SEED + COUNT)]
PARAMS += [seed_param(s, base) for s, base in FOUND if (s, base) not in KNOWN_BUGS]
PARAMS += [seed_param(s, base) for s, base in KNOWN_BUGS]


@pytest.mark.parametrize(("seed", "base"), PARAMS)
def test_mutant(seed: int, base: str, tmp_path: Path) -> None:
    rng = random.Random(seed)
    mutant = Mutant(seed, base, make_project(base, tmp_path / "parent"))
    mutate(mutant, rng)
    console = seed in CONSOLE_SEEDS
    if check_run(mutant, "gen", console) == 0:
        code, stdout, stderr = run_cli(["check"], mutant.root, console)
        assert code == 0, f"check after gen: exit {code}\n{stdout}\n{stderr}\n{mutant.describe()}"
        check_run(mutant, "gen", console)  # a second gen: nothing outside out either
