#!/usr/bin/python3
"""mact against PyTorch on the same CPU, side by side (issue 9).

    /usr/bin/python3 benchmarks/run.py --build BUILD [--threads 1,2] [--rounds R]
        [--iters K] [--warmup W] [--models a,b] [--data DIR] [--out results.json]
        [--check]

BUILD is a release build of mact:

    meson setup build-rel --buildtype=release -Dtests=false && ninja -C build-rel

(run.py refuses another build type: a debug build's numbers mean nothing here).

For every model of issue 9's table (benchmarks/models.py) both sides get the same
weights, loaded from one safetensors file, and the same input, read from one .npy file;
torch_side.py writes both, seeded, into DIR (default BUILD/benchmarks) once.  Then, for
each thread count and model, R rounds each run mact (`BUILD/tools/mact bench ... --json`)
and PyTorch (`torch_side.py run`) in turn, each in a fresh process: one cold run, W
warm-up runs and K timed ones, the median of which is the round's result.  Reported: the
median over the rounds of each side's median, their ratio, and each process's peak RSS
(ru_maxrss from os.wait4) and time to the first result, and how many cores other
processes kept busy meanwhile (from /proc/stat: a benchmark on a shared machine is only
as good as its quiet moments).

This process imports nothing but the standard library and stays small on purpose:
the child starts as a copy of it (fork or vfork) and Linux carries the parent's
high-water RSS into the child's ru_maxrss across exec, so a large parent (one that had
imported torch) would inflate both sides' peaks.  Its own peak is reported as the floor
under every RSS figure.
"""
import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402

PYTHON = "/usr/bin/python3"   # Debian's, with python3-torch and python3-torchvision


def fail(message):
    sys.exit("run.py: " + message)


# ---------------------------------------------------------------------------- children

def busy_cpu_seconds():
    """CPU time spent by everything on the machine so far (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_child(argv, env):
    """Runs @argv to completion; returns (stdout, stderr, peak RSS in MB, wall s, the
    average number of cores other processes kept busy meanwhile)."""
    with tempfile.TemporaryFile() as err:
        busy0 = busy_cpu_seconds()
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env)
        out = p.stdout.read()
        p.stdout.close()
        # wait4, not Popen.wait: the child's own rusage
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        busy1 = busy_cpu_seconds()
        # what the machine did beyond this child: other users of the cores
        others = None
        if busy0 is not None and busy1 is not None and wall > 0:
            others = max(0.0, (busy1 - busy0 - usage.ru_utime - usage.ru_stime) / wall)
        err.seek(0)
        err_text = err.read().decode(errors="replace")
    if p.returncode != 0:
        fail("%s exited with status %d:\n%s" % (shlex.join(argv), p.returncode, err_text))
    return out.decode(), err_text, usage.ru_maxrss / 1024.0, wall, others


def child_env(build, threads):
    env = dict(os.environ)
    env["MACT_PLUGIN_PATH"] = os.path.join(build, "plugins")
    env["MACT_NUM_THREADS"] = str(threads)
    # PyTorch's OpenMP and MKL pools, for the same count from their very start
    env["OMP_NUM_THREADS"] = str(threads)
    env["MKL_NUM_THREADS"] = str(threads)
    return env


def mact_once(args, data, name, threads):
    spec = models.MODELS[name]
    base = os.path.join(data, name)
    argv = [os.path.join(args.build, "tools", "mact"), "bench", base + ".json",
            "--weights", base + ".safetensors", "--input", base + ".npy",
            "--threads", str(threads), "--iters", str(args.iters),
            "--warmup", str(args.warmup), "--json"]
    if spec["train"]:
        argv.append("--train")
    out, _, rss, wall, others = run_child(argv, child_env(args.build, threads))
    r = json.loads(out)
    if r["threads"] != threads:
        fail("mact ran %s threads, not %d" % (r["threads"], threads))
    res = r["results"][0]
    return {"median_ms": res["median_ms"], "min_ms": res["min_ms"], "max_ms": res["max_ms"],
            "rss_mb": rss, "first_ms": r["time_to_first_result_ms"],
            "build_ms": r["build_ms"], "wall_s": wall, "other_cores": others}


def torch_once(args, data, name, threads):
    argv = [PYTHON, os.path.join(HERE, "torch_side.py"), "run", data, name,
            "--threads", str(threads), "--iters", str(args.iters),
            "--warmup", str(args.warmup)]
    out, _, rss, wall, others = run_child(argv, child_env(args.build, threads))
    r = json.loads(out)
    if r["threads"] != threads:
        fail("PyTorch ran %s threads, not %d" % (r["threads"], threads))
    return {"median_ms": r["median_ms"], "min_ms": min(r["times_ms"]),
            "max_ms": max(r["times_ms"]), "rss_mb": rss,
            "first_ms": r["time_to_first_result_ms"], "wall_s": wall,
            "other_cores": others, "torch": r["torch"]}


# ---------------------------------------------------------------------------- set-up

def check_build(build, allow_any):
    mact = os.path.join(build, "tools", "mact")
    if not os.access(mact, os.X_OK):
        fail("%s is not there: build mact first (meson setup %s --buildtype=release "
             "-Dtests=false && ninja -C %s)" % (mact, build, build))
    info = os.path.join(build, "meson-info", "intro-buildoptions.json")
    try:
        with open(info) as f:
            options = {o["name"]: o["value"] for o in json.load(f)}
    except (OSError, ValueError) as e:
        fail("cannot read the build's options (%s): is %s a meson build directory?"
             % (e, build))
    if options.get("buildtype") != "release" and not allow_any:
        fail("%s is a %s build; benchmarks need a release build (meson setup BUILD "
             "--buildtype=release -Dtests=false), or pass --allow-any-build to try the "
             "harness" % (build, options.get("buildtype")))
    return options.get("buildtype")


def prepare(data, names):
    todo = []
    for name in names:
        try:
            with open(os.path.join(data, name + ".stamp")) as f:
                if int(f.read()) == models.DATA_VERSION:
                    continue
        except (OSError, ValueError):
            pass
        todo.append(name)
    if todo:
        print("preparing weights and inputs of %s in %s" % (", ".join(todo), data),
              flush=True)
        subprocess.run([PYTHON, os.path.join(HERE, "torch_side.py"), "prepare", data] + todo,
                       check=True)


def check_outputs(args, data, names):
    """`mact infer` on each inference model's input: its scores against PyTorch's."""
    ok = True
    for name in names:
        if models.MODELS[name]["train"]:
            continue
        base = os.path.join(data, name)
        out, _, _, _, _ = run_child([os.path.join(args.build, "tools", "mact"), "infer",
                                  base + ".json", base + ".safetensors", base + ".infer.npy",
                                  "--json", "--average-clips", "score"],
                                 child_env(args.build, max(args.threads)))
        got = json.loads(out)["scores"]
        with open(base + ".expected.json") as f:
            want = json.load(f)
        scale = max(1.0, max(abs(v) for v in want))
        err = max(abs(a - b) for a, b in zip(got, want)) / scale
        good = len(got) == len(want) and err < 1e-3
        ok = ok and good
        print("check %-18s max |mact - PyTorch| / max(1, max|PyTorch|) = %.2e  %s"
              % (name, err, "ok" if good else "DIFFERENT"), flush=True)
    if not ok:
        fail("mact and PyTorch do not compute the same scores: the comparison would not "
             "be fair")


def machine():
    info = {"platform": platform.platform(), "python": platform.python_version()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core",
                               "Core(s) per socket"):
                info[key.strip()] = value.strip()
            if key.strip() == "Flags":
                flags = value.split()
                info["flags"] = [f for f in ("avx2", "fma", "avx512f") if f in flags]
    except OSError:
        pass
    return info


# ---------------------------------------------------------------------------- report

def fmt_ms(v):
    return "%.0f" % v if v >= 100 else "%.1f" % v


def print_table(threads, rows, args):
    print()
    print("%d thread%s: median of %d rounds, each the median of %d timed runs after a "
          "cold run and %d warm-up" % (threads, "" if threads == 1 else "s", args.rounds, args.iters,
                       args.warmup))
    head = ("model", "mact ms", "PyTorch ms", "mact/PyTorch", "mact MB", "PyTorch MB",
            "RSS ratio", "mact 1st ms", "PyTorch 1st ms", "others")
    table = [head]
    for r in rows:
        table.append((r["model"], fmt_ms(r["mact_ms"]), fmt_ms(r["torch_ms"]),
                      "%.2fx" % r["ratio"], "%.0f" % r["mact_rss_mb"],
                      "%.0f" % r["torch_rss_mb"], "%.2fx" % r["rss_ratio"],
                      "%.0f" % r["mact_first_ms"], "%.0f" % r["torch_first_ms"],
                      "-" if r["other_cores_max"] is None
                      else "%.2f" % r["other_cores_max"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))
    print("(1st: time to the first result, from the process's start; others: the most "
          "cores other processes kept busy, on average, during any one of these runs)")
    sys.stdout.flush()


def main(argv):
    p = argparse.ArgumentParser(
        description="mact against PyTorch, same models, weights, input and threads.",
        epilog="Example: /usr/bin/python3 benchmarks/run.py --build build-rel "
               "--threads 1,2 --out results.json")
    p.add_argument("--build", required=True, help="mact's release build directory")
    p.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=3, help="A/B rounds (default 3)")
    p.add_argument("--iters", type=int, default=3,
                   help="timed runs per process (default 3)")
    p.add_argument("--warmup", type=int, default=0,
                   help="warm-up runs per process after the cold, untimed one (default 0: "
                        "the second run is already warm on both sides)")
    p.add_argument("--models", default=",".join(models.MODELS),
                   help="comma-separated, of: " + ", ".join(models.MODELS))
    p.add_argument("--data", help="weights, inputs, configs (default BUILD/benchmarks)")
    p.add_argument("--out", help="write every measurement here as JSON")
    p.add_argument("--check", action="store_true",
                   help="first compare mact's scores with PyTorch's on each input")
    p.add_argument("--allow-any-build", action="store_true",
                   help="accept a non-release build (to try the harness, not to measure)")
    args = p.parse_args(argv)

    try:
        args.threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        fail("--threads: expected comma-separated integers, got %r" % args.threads)
    if any(t < 1 for t in args.threads) or args.rounds < 1 or args.iters < 1 or \
            args.warmup < 0:
        fail("--threads, --rounds and --iters must be at least 1, --warmup at least 0")
    names = [m for m in args.models.split(",") if m]
    unknown = [m for m in names if m not in models.MODELS]
    if unknown or not names:
        fail("unknown model(s) %s; known: %s" % (", ".join(unknown) or "(none)",
                                                   ", ".join(models.MODELS)))
    args.build = os.path.abspath(args.build)
    buildtype = check_build(args.build, args.allow_any_build)
    data = os.path.abspath(args.data or os.path.join(args.build, "benchmarks"))

    load_start = os.getloadavg()
    if load_start[0] > 1.5:
        print("warning: load average %.2f: the machine is busy, the numbers will be too"
              % load_start[0], file=sys.stderr, flush=True)
    prepare(data, names)
    if args.check:
        check_outputs(args, data, names)

    t_start = time.monotonic()
    results = {"command": shlex.join([PYTHON] + [os.path.relpath(__file__)] + argv),
               "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
               "buildtype": buildtype, "rounds": args.rounds, "iters": args.iters,
               "warmup": args.warmup, "load_average_start": load_start, "threads": {}}
    for threads in args.threads:
        rows = []
        for name in names:
            spec = models.MODELS[name]
            per_round = []
            for r in range(args.rounds):
                m = mact_once(args, data, name, threads)
                t = torch_once(args, data, name, threads)
                per_round.append({"mact": m, "torch": t})
                print("  %d threads %-17s round %d: mact %s ms, PyTorch %s ms"
                      % (threads, name, r + 1, fmt_ms(m["median_ms"]),
                         fmt_ms(t["median_ms"])), file=sys.stderr, flush=True)
            mact_ms = statistics.median(x["mact"]["median_ms"] for x in per_round)
            torch_ms = statistics.median(x["torch"]["median_ms"] for x in per_round)
            mact_rss = max(x["mact"]["rss_mb"] for x in per_round)
            torch_rss = max(x["torch"]["rss_mb"] for x in per_round)
            # how busy other processes kept the cores, at worst, while either side ran
            others = [x[side]["other_cores"] for x in per_round for side in ("mact", "torch")
                      if x[side]["other_cores"] is not None]
            rows.append({
                "model": name, "title": spec["title"], "input": spec["input"],
                "train": spec["train"], "mact_ms": mact_ms, "torch_ms": torch_ms,
                "ratio": mact_ms / torch_ms, "mact_rss_mb": mact_rss,
                "torch_rss_mb": torch_rss, "rss_ratio": mact_rss / torch_rss,
                "mact_first_ms": statistics.median(x["mact"]["first_ms"]
                                                   for x in per_round),
                "torch_first_ms": statistics.median(x["torch"]["first_ms"]
                                                    for x in per_round),
                "other_cores_max": max(others) if others else None, "rounds": per_round})
        results["threads"][str(threads)] = rows
        print_table(threads, rows, args)

    results["seconds"] = time.monotonic() - t_start
    results["load_average_end"] = os.getloadavg()
    results["parent_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n%.0f s; load average %.2f at the start, %.2f at the end; this process's "
          "peak RSS %.0f MB (a floor under every RSS above)"
          % (results["seconds"], load_start[0], results["load_average_end"][0],
             results["parent_peak_rss_mb"]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        print("results in %s" % args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
