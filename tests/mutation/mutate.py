#!/usr/bin/env python3
"""Mechanical mutation testing of the library's numeric code (driven by tests/mutation/run.sh; stdlib only).

Each mutant is one textual change to one source line outside comments and string literals. It is compiled from a
copy by build_mutant.sh (the tree is never touched); a mutant whose object code equals the unmutated file's is
equivalent by construction and is not run. The others are linked into a separate cnn_tests and run with the gtest
filter of the suites that exercise that file, under a time limit. Killed = a test failed, the binary crashed or it
ran out of time; survived = every test passed.
"""
import argparse
import concurrent.futures
import fnmatch
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SOURCES = ["src/layers/*.cpp", "src/kernels/*.cpp", "src/loss.cpp", "src/optimizer.cpp", "src/reference/reference.cpp",
           "src/reference/graph_ref.cpp"]  # subsampling_ref.cpp is compiled into test_subsampling.cpp, not a library

# The in-process suites that are fast and exercise the layers and kernels broadly: the fallback filter.
FAST = ["GradCheck.*", "*VsReference*", "Fast*", "Network.*", "Seed00*", "Subsampling.*", "Normalize.*", "Tensor.*"]
GRAD = ["GradCheck.*"]
REF = ["*VsReference*", "Seed00*"]
# one PyTorch run of a preset that holds the layer (a few seconds each)
TORCH = {k: f"Nets/PresetParity.*/{k}" for k in ("seed002", "alexnet_small", "leaky_l2pool", "lenet5_classic")}
# Per file (glob on the repository path): the suites that exercise it. The first match wins.
SUITES = [
    ("src/layers/conv2d.cpp", GRAD + REF + ["Fast*", "*ConvPads*", "Conv2DPads.*", "ConvPlanChoice.*",
                                            "Nets/Parity.*/seed5"]),
    ("src/layers/dense.cpp", GRAD + REF + ["FastDense*", "Network.*", "Nets/Parity.*/seed5"]),
    ("src/layers/batchnorm2d.cpp", GRAD + REF + ["FastNetwork.*", "ThreadBits.*", "ParityBatchNorm.*"]),
    ("src/layers/subsampling.cpp", GRAD + REF + ["Subsampling.*", TORCH["seed002"]]),
    ("src/layers/normalize.cpp", GRAD + ["Normalize.*"]),
    ("src/layers/dropout.cpp", GRAD + ["ThreadBits.*", TORCH["alexnet_small"]]),
    ("src/layers/[acm][doe]*.cpp", GRAD + ["MergeVsReference.*", "GraphFile.*", "FastNetwork.*", "ThreadBits.*"]),
    ("src/layers/*pool*.cpp", GRAD + REF + ["FastPool*", "FastConvReluPool*", "ThreadBits.*", TORCH["leaky_l2pool"]]),
    ("src/layers/activations.cpp", GRAD + REF + ["FastActivations.*", "Network.*", TORCH["leaky_l2pool"]]),
    ("src/layers/*.cpp", GRAD + REF + ["Fast*", "Network.*", "ThreadBits.*"]),
    ("src/kernels/*.cpp", GRAD + REF + ["Fast*", "*ConvPads*", "Conv2DPads.*", "ConvPlanChoice.*", "ThreadBits.*",
                                        "IsaBits.*", "Network.*"]),
    ("src/loss.cpp", GRAD + ["LabelSmoothing.*", "OptimizerParity.*", "Network.*", "Seed00*"]),
    ("src/optimizer.cpp", ["Optimizer.*", "OptimizerParity.*", "*Schedule.*", "OneCycleSchedule.*", "Network.*",
                           "Seed00*"]),
    ("src/reference/*.cpp", REF + ["Subsampling.*", "Fast*", "*ConvPads*", "ConvPlanChoice.*"]),
]
# slow and about allocation or one schedule, not arithmetic: left to the files they are about
SLOW = ["FastNetwork.SteadyStateTrainingStepAllocatesNothing", "OneCycleSchedule.*"]


# Vector kernel files are compiled twice: directly (AVX-512) and through src/kernels/avx2/<name> (AVX2 + FMA), whose
# `#include "../<name>"` then reads the mutated copy when the wrapper sits one folder below it.
WRAPPED = {os.path.basename(p) for p in glob.glob(os.path.join(REPO, "src/kernels/avx2/*.cpp"))}


# every layer's shape checks and set-up refusals, whatever suites exercise its arithmetic
LAYER_CHECKS = ["Network.EveryLayer*", "Network.Shapes*"]


def suites_for(path, default):
    for pattern, suites in SUITES:
        if fnmatch.fnmatch(path, pattern):
            return suites + (LAYER_CHECKS if path.startswith("src/layers/") else [])
    return default


def code_mask(text):
    """For each character of text: True where it is code (not a comment, string or character literal)."""
    mask = [True] * len(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            k = text.find("(", i + 2)
            delim = ")" + text[i + 2:k] + '"'
            j = text.find(delim, k)
            j = n if j < 0 else j + len(delim)
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # a digit separator (1'000)
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            i += 1
            continue
        for k in range(i, min(j, n)):
            mask[k] = False
        i = j
    return mask


NUMBER = re.compile(r"(?<![\w.])(\d+\.\d*(?:[eE][-+]?\d+)?|\d*\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)([fFuUlL]*)"
                    r"(?![\w.])")
DECL = re.compile(r"^\s*(?:(?:const|constexpr|static|inline|thread_local|unsigned|signed|long|short|volatile)\s+)*"
                  r"[A-Za-z_][\w:]*(?:<[^;=]*>)?[\s*&]+[A-Za-z_]\w*\s*(?:=|;|\{|\(|\[|,)")
NOT_DECL = re.compile(r"^\s*(return|break|continue|throw|delete|goto|case|else|co_return)\b")
# (pattern, replacement, name): binary operators as clang-format writes them, with a space either side
OPERATORS = [
    (" + ", " - ", "+ → -"), (" - ", " + ", "- → +"), (" * ", " / ", "* → /"), (" / ", " * ", "/ → *"),
    (" += ", " -= ", "+= → -="), (" -= ", " += ", "-= → +="), (" *= ", " /= ", "*= → /="), (" /= ", " *= ", "/= → *="),
    (" < ", " <= ", "< → <="), (" <= ", " < ", "<= → <"), (" > ", " >= ", "> → >="), (" >= ", " > ", ">= → >"),
    (" == ", " != ", "== → !="), (" != ", " == ", "!= → =="),
]
FOR_COND = re.compile(r"\bfor\s*\([^;]*;\s*([^;]*?)\s*(<=|<|>=|>)\s*([^;]+?)\s*;")


def is_code(mask, start, end):
    return all(mask[start:end])


def mutants_of(path, text):
    """Every mechanical mutant of a file: (line number, description, mutated text)."""
    mask = code_mask(text)
    lines = text.split("\n")
    offsets, o = [], 0
    for line in lines:
        offsets.append(o)
        o += len(line) + 1
    out = []
    prev_code = ""  # the last line's code, to see whether a line starts a statement
    in_directive = False
    for ln, line in enumerate(lines):
        base = offsets[ln]
        code = "".join(ch if mask[base + k] else " " for k, ch in enumerate(line))
        stripped = code.strip()
        directive = in_directive or stripped.startswith("#")
        in_directive = directive and code.rstrip().endswith("\\")
        # lines holding a string literal (error messages, names, JSON keys) are left to the suites that read them
        literal = any(not mask[base + k] and line[k] in "\"'" for k in range(len(line)))
        if directive or literal or not stripped or stripped.startswith("static_assert") or "template <" in code:
            prev_code = stripped or prev_code
            continue

        def put(start, end, new, what):
            out.append((ln + 1, what, text[:base + start] + new + text[base + end:]))

        for pat, rep, what in OPERATORS:
            for m in re.finditer(re.escape(pat), code):
                put(m.start(), m.end(), rep, what)
        for m in NUMBER.finditer(code):
            digits, suffix = m.group(1), m.group(2)
            is_float = any(ch in digits for ch in ".eE")
            if is_float:
                v = float(digits)
                nv = 1.0 if v == 0 else 0.0 if v == 1 else v + 1
                new = repr(nv)
                if "f" in suffix.lower() and "e" not in new and "." not in new:
                    new += ".0"
            else:
                v = int(digits)
                nv = 1 if v == 0 else 0 if v == 1 else v + 1
                new = str(nv)
            put(m.start(1), m.end(1), new, f"{digits}{suffix} → {new}{suffix}")
        m = FOR_COND.search(code)
        if m:
            bound_start, bound_end = m.start(3), m.end(3)
            bound = code[bound_start:bound_end]
            for d in ("- 1", "+ 1"):
                put(bound_start, bound_end, f"({bound}) {d}", f"loop bound {bound} → ({bound}) {d}")
        # drop a whole one-line statement that is not a declaration: it becomes an empty block
        starts_statement = prev_code.endswith((";", "{", "}", ")", ":")) or re.search(r"\belse$", prev_code)
        if stripped.endswith(";") and starts_statement and not DECL.match(code) and not NOT_DECL.match(code) \
                and code.count("(") == code.count(")") and code.count("{") == code.count("}") \
                and not stripped.startswith(("using ", "namespace ", "typedef ", "friend ", "}")):
            indent = len(line) - len(line.lstrip())
            put(indent, len(line), "{}", "drop statement")
        prev_code = stripped
    # the same text from two routes (e.g. `x - 1` as an operator and a bound) is one mutant
    seen, unique = set(), []
    for m in out:
        if m[2] not in seen and m[2] != text:
            seen.add(m[2])
            unique.append(m)
    return unique


def compile_object(build, src, mutated, obj):
    return subprocess.run(["bash", os.path.join(HERE, "build_mutant.sh"), "--object", build, obj, f"{src}={mutated}"],
                          capture_output=True, text=True)


def copies(work, path, text):
    """Writes the mutated file (and the AVX2 wrapper that includes it) into work: [(source, copy)]."""
    name = os.path.basename(path)
    with open(os.path.join(work, name), "w") as f:
        f.write(text)
    pairs = [(path, os.path.join(work, name))]
    if path.startswith("src/kernels/") and name in WRAPPED:
        os.makedirs(os.path.join(work, "avx2"), exist_ok=True)
        shutil.copy(os.path.join(REPO, "src/kernels/avx2", name), os.path.join(work, "avx2", name))
        pairs.append((f"src/kernels/avx2/{name}", os.path.join(work, "avx2", name)))
    return pairs


def run_mutant(args, path, text, baseline, build):
    work = tempfile.mkdtemp(prefix="cnn-mutant-")
    try:
        objects, same = [], True
        for src, copy in copies(work, path, text):
            obj = copy + ".o"
            r = compile_object(build, src, copy, obj)
            if r.returncode != 0:
                return "did not compile", r.stderr[-400:]
            with open(obj, "rb") as f:
                same = same and f.read() == baseline[src]
            objects.append(f"{src}={obj}")
        if same:
            return "same code", ""
        binary = os.path.join(work, "cnn_tests")
        r = subprocess.run(["bash", os.path.join(HERE, "build_mutant.sh"), build, binary] + objects + args.extra,
                           capture_output=True, text=True)
        if r.returncode != 0:
            return "did not link", r.stderr[-400:]
        suites = suites_for(path, FAST)
        flt = ":".join(suites) + "-" + ":".join(x for x in SLOW if x not in suites)
        try:
            r = subprocess.run(["timeout", "-k", "5", str(args.timeout), binary, f"--gtest_filter={flt}",
                                "--gtest_brief=1"], capture_output=True, text=True, cwd=build,
                               timeout=args.timeout + 30)
        except subprocess.TimeoutExpired:
            return "killed", "timeout"
        if r.returncode == 0:
            return "survived", ""
        if r.returncode in (124, 137):
            return "killed", "timeout"
        failed = re.findall(r"^\[  FAILED  \] (\S+)", r.stdout, re.M)
        return "killed", (" ".join(sorted(set(failed))[:3]) if failed else f"exit {r.returncode}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def baseline_objects(build, path):
    """The build's objects of the unmutated file (which an unchanged copy reproduces byte for byte): {source: bytes}."""
    import json
    with open(os.path.join(build, "compile_commands.json")) as f:
        commands = json.load(f)
    name = os.path.basename(path)
    sources = [path] + ([f"src/kernels/avx2/{name}"] if path.startswith("src/kernels/") and name in WRAPPED else [])
    out = {}
    for src in sources:
        for e in commands:
            c = e["command"]
            if e["file"].endswith("/" + src) and ("cnn_objects.dir" in c or "cnn_reference.dir" in c):
                with open(os.path.join(build, c.split(" -o ")[1].split()[0]), "rb") as f:
                    out[src] = f.read()
    return out


def write_report(args, sample, results):
    counts = {}
    for r in results:
        if r:
            counts[r[0]] = counts.get(r[0], 0) + 1
    ran = sum(counts.values())
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    rate = killed / (killed + survived) if killed + survived else float("nan")
    summary = (f"{ran} of {len(sample)} mutants run: {killed} killed, {survived} survived, "
               f"{counts.get('did not compile', 0)} did not compile, {counts.get('same code', 0)} compiled to the "
               f"same code (equivalent); kill rate {killed}/{killed + survived} = {100 * rate:.1f}%")
    with open(args.report + ".tmp", "w") as f:
        f.write(f"# Mutation run\n\n`tests/mutation/run.sh {' '.join(sys.argv[1:])}`\n\n{summary}.\n\n")
        f.write("| file | line | mutation | result | detail |\n| --- | --- | --- | --- | --- |\n")
        for (path, line, what, _), r in zip(sample, results):
            if r:
                detail = r[1].replace("|", "\\|").replace("\n", " ")[:120] if r[0] != "did not compile" else ""
                f.write(f"| {path} | {line} | `{what}` | {r[0]} | {detail} |\n")
    os.replace(args.report + ".tmp", args.report)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="build dir with an up-to-date cnn_tests")
    ap.add_argument("--files", default=",".join(SOURCES), help="comma-separated globs of sources to mutate")
    ap.add_argument("--per-file", type=int, default=12, help="mutants sampled per file")
    ap.add_argument("--max", type=int, default=300, help="mutants at most in all")
    ap.add_argument("--seed", type=int, default=1, help="seed of the sample")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per mutant's test run (over: killed)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants built and run at once")
    ap.add_argument("--report", default="mutation-report.md", help="markdown report to write")
    ap.add_argument("--list", action="store_true", help="only list the sampled mutants")
    ap.add_argument("--survivors-of", metavar="REPORT",
                    help="run only the mutants that survived in REPORT (of a run with the same sample options)")
    ap.add_argument("--with", dest="extra", action="append", default=[], metavar="SRC=OBJECT",
                    help="link this object for SRC too (e.g. a test file with new tests, compiled with --object)")
    ap.add_argument("--write", nargs=2, metavar=("FILE:LINE:MUTATION", "OUT"),
                    help="write that mutant (as --list names it; the first of its kind on the line) to OUT")
    args = ap.parse_args()
    if args.write:
        path, line, what = args.write[0].split(":", 2)
        with open(os.path.join(REPO, path)) as f:
            found = [m for m in mutants_of(path, f.read()) if m[0] == int(line) and m[1] == what.strip()]
        if not found:
            raise SystemExit(f"no mutant {args.write[0]}")
        with open(args.write[1], "w") as f:
            f.write(found[0][2])
        return 0

    files = sorted({os.path.relpath(p, REPO) for g in args.files.split(",") for p in glob.glob(os.path.join(REPO, g))
                    if "/avx2/" not in os.path.relpath(p, REPO)})
    rng = random.Random(args.seed)
    sample = []
    for path in files:
        with open(os.path.join(REPO, path)) as f:
            text = f.read()
        ms = mutants_of(path, text)
        rng.shuffle(ms)
        sample += [(path,) + m for m in ms[:args.per_file]]
    rng.shuffle(sample)
    sample = sample[:args.max]
    sample.sort(key=lambda m: (m[0], m[1]))
    if args.survivors_of:
        rows = [r.split(" | ") for r in open(args.survivors_of) if r.startswith("| src/")]
        rows = [(r[0][2:], int(r[1]), r[2].strip("`"), r[3]) for r in rows]
        results_of = {}  # the same mutation twice on a line: the report keeps them in the sample's order
        for r in rows:
            results_of.setdefault(r[:3], []).append(r[3])
        kept = [m for m in sample if results_of.get(m[:3]) and results_of[m[:3]].pop(0) == "survived"]
        sample = kept
    if args.list:
        for path, line, what, _ in sample:
            print(f"{path}:{line}: {what}")
        return 0

    build = os.path.abspath(args.build)
    baseline = {}
    for p in sorted({m[0] for m in sample}):
        baseline.update(baseline_objects(build, p))
    results = [None] * len(sample)
    start = time.time()

    def one(i):
        path, line, what, text = sample[i]
        return i, run_mutant(args, path, text, baseline, build)

    # run in the sample's random order, so a run cut short still covers every file; the report is rewritten after
    # each mutant
    order = list(range(len(sample)))
    random.Random(args.seed).shuffle(order)
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for i, (result, detail) in pool.map(one, order):
            results[i] = (result, detail)
            done += 1
            path, line, what, _ = sample[i]
            first = detail.strip().splitlines()[0][:160] if detail.strip() else ""
            print(f"[{done}/{len(sample)} {time.time() - start:.0f}s] {path}:{line} {what}: {result} {first}",
                  flush=True)
            summary = write_report(args, sample, results)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
