"""make bench's report: docs/benchmarks.md and benchmarks.png from the results record that
benchmark.py measures (``r``), through the figures derived from it (ratios, and lines through
the epochs' times)."""

import os
from collections import namedtuple

# The report's derived figures (figures()): ratios of epochs and loads, the cores' and the JVM's
# shares, and the lines through x1 and the largest set (fixed seconds per epoch + seconds per
# 60,000 rows) under local[1] (slope1, fixed1) and local[2] (slope2, fixed2).
Figures = namedtuple("Figures", "copies ratio_block ratio_floor ratio_scale big cores mllib_seconds ratio_mllib "
                                "ratio_floor64 load_ratio ratio_keras ratio_wall spill jvm limit best numpy1 numpy2 "
                                "slope1 slope2 fixed1 fixed2 needed")


def from_json(value):
    """A results record as benchmarks.json holds it -> as measured: the keys that JSON made strings
    of numbers (copies of the training set, cores) numbers again."""
    if isinstance(value, dict):
        return {int(key) if key.isdigit() else key: from_json(item) for key, item in value.items()}
    return value


def mb(n):
    return f"{n / 2 ** 20:,.0f} MB"


def verdict(ok):
    return "met" if ok else "**not met**"


def figures(r):
    """The Figures derived from the results record ``r``: ratios, and the lines through x1
    and the largest set (fixed seconds per epoch + seconds per 60,000 rows)."""
    copies = sorted(r["scaling"])
    ratio_block = r["block1"] / r["default"]
    ratio_floor = r["default"] / r["floor"]
    ratio_scale = r["scaling"][max(r["scaling"])] / r["scaling"][1]
    big = max(r["local1"])
    cores = {c: r["local1"][c] / r["scaling"][c] for c in r["local1"]}
    mllib_seconds = r["mllib"]["load_seconds"] + r["mllib"]["fit_seconds"]
    ratio_mllib = r["fast_seconds"] / mllib_seconds
    ratio_floor64 = r["default64"] / r["floor64"]
    load_ratio = {kind: r["load"][kind] / r["loadtxt"][kind] for kind in ("compact", "seed")}
    ratio_keras = r["fast_seconds"] / r["keras_seconds"] if r["keras_seconds"] else float("inf")
    ratio_wall = r["fast_wall"] / r["keras_wall"]
    spill = r["spill"]
    jvm = {c: r["cpu"][f"local[2] x{c}"]["JVM (driver and executor)"] for c in cores}
    limit = {c: sum(r["cpu"][f"local[2] x{c}"].values()) / 2 for c in cores}
    best = {c: r["local1"][c] / limit[c] for c in cores}
    numpy1, numpy2 = r["numpy_cores"][1], r["numpy_cores"][2] / 2  # seconds per epoch of work
    # lines through x1 and the largest set: fixed seconds per epoch + seconds per 60,000 rows
    slope1 = (r["local1"][big] - r["local1"][1]) / (big - 1)
    slope2 = (r["scaling"][big] - r["scaling"][1]) / (big - 1)
    fixed1, fixed2 = r["local1"][1] - slope1, r["scaling"][1] - slope2
    needed = r["local1"][1] / 1.7 - slope2  # local[2]'s fixed part that 1.7x at x1 would need
    return Figures(copies=copies, ratio_block=ratio_block, ratio_floor=ratio_floor, ratio_scale=ratio_scale, big=big,
                   cores=cores, mllib_seconds=mllib_seconds, ratio_mllib=ratio_mllib, ratio_floor64=ratio_floor64,
                   load_ratio=load_ratio, ratio_keras=ratio_keras, ratio_wall=ratio_wall, spill=spill, jvm=jvm,
                   limit=limit, best=best, numpy1=numpy1, numpy2=numpy2, slope1=slope1, slope2=slope2, fixed1=fixed1,
                   fixed2=fixed2, needed=needed)


def header_lines(r, d):
    """The title and what was measured."""
    return [
        "# Benchmarks",
        "",
        f"Measured by `make bench` (`bench/benchmark.py`) on {r['when']}, on this project's machine: "
        f"{os.cpu_count()} cores, `local[2]` unless said otherwise, Spark {r['spark']}, full MNIST "
        "(60,000 training and 10,000 test rows). Every number below comes from that one run"
        + (f", but section 2b's: `bench/benchmark.py --only big-tables` on {r['big']['when']}, a run of its own."
           if r.get("big", {}).get("when", r["when"]) != r["when"] else "."),
        "",
        "![benchmarks](benchmarks.png)",
        "",
    ]


def goals_lines(r, d):
    """The goals table, each goal's figure and verdict."""
    ratio_block, ratio_floor, ratio_scale = d.ratio_block, d.ratio_floor, d.ratio_scale
    ratio_mllib = d.ratio_mllib
    load_ratio, ratio_keras, ratio_wall = d.load_ratio, d.ratio_keras, d.ratio_wall
    big, cores, slope1, slope2 = d.big, d.cores, d.slope1, d.slope2
    return [
        "## Goals",
        "",
        "| goal | measured | |",
        "|---|---|---|",
        f"| default epoch at least 10x faster than `--block-size 1` | {ratio_block:.1f}x | "
        f"{verdict(ratio_block >= 10)} |",
        f"| load (full MNIST, compact) within 2x of `np.loadtxt` | {load_ratio['compact']:.2f}x | "
        f"{verdict(load_ratio['compact'] <= 2)} |",
        f"| load (the seed layout) within 2x of `np.loadtxt` | {load_ratio['seed']:.2f}x | "
        f"{verdict(load_ratio['seed'] <= 2)} |",
        f"| default epoch (float32) within 1.2x of the float32 NumPy floor | {ratio_floor:.2f}x | "
        f"{verdict(ratio_floor <= 1.2)} |",
        f"| time to 97% (load + training) at most Keras's | {ratio_keras:.2f}x | {verdict(ratio_keras <= 1)} |",
        f"| wall, command to outputs, within 1.5x of Keras's script | {ratio_wall:.2f}x | "
        f"{verdict(ratio_wall <= 1.5)} |",
        f"| x{max(r['scaling'])} data within {1.1 * max(r['scaling']):.1f}x the time | {ratio_scale:.2f}x | "
        f"{verdict(ratio_scale <= 1.1 * max(r['scaling']))} |",
        f"| `local[2]` at least 1.7x faster than `local[1]` | {cores[1]:.2f}x (x1), {cores[big]:.2f}x (x{big}); "
        f"per row {slope1 / slope2:.2f}x | {verdict(cores[1] >= 1.7)} at x1, {verdict(cores[big] >= 1.7)} at x{big} |",
        f"| time to 97% at most a quarter of MLlib's load + fit | {ratio_mllib:.2f} | "
        f"{verdict(ratio_mllib <= 0.25)} |",
        *big_table_goals(r),
        "",
    ]


def big_table_goals(r):
    """The goals of the large tables (section 2b), when they were measured."""
    if "big" not in r:
        return []
    loads, huge = r["big"]["loads"], r["big"]["huge"]
    ratio = {kind: loads[kind]["seconds"] / loads["parts"]["seconds"] for kind in ("columns", "array")}
    return [
        f"| one Parquet file of MNIST x{r['big']['copies']} loads within 1.2x of Spark's folder of the same rows | "
        f"{ratio['columns']:.2f}x (784 columns), {ratio['array']:.2f}x (an array column) | "
        f"{verdict(max(ratio.values()) <= 1.2)} |",
        f"| a Parquet file over 2 GB loads | {huge['rows']:,} rows, {huge['bytes'] / 2 ** 30:.1f} GB in "
        f"{huge['seconds']:.0f} s | {verdict(huge['bytes'] > 2 ** 31 and huge['rows'] > 0)} |",
    ]


def fixed_part_lines(r, d):
    """Reading the numbers: the fixed and per-row parts of an epoch."""
    big, slope2, fixed2 = d.big, d.slope2, d.fixed2
    return [
        f"Reading the numbers: a line through the epochs at x1 and x{big} (section 4) gives "
        f"**{fixed2:.3f} s fixed per epoch + {slope2:.3f} s per 60,000 rows**. The per-row part is "
        f"{slope2 / r['floor']:.2f}x the single-process float32 NumPy floor ({r['floor']:.3f} s per 60,000 rows). "
        "The fixed part is PySpark's cost of one job with a Python task per core, paid once per epoch "
        f"whatever the data size: {fixed2 / r['default']:.0%} of a default epoch on full MNIST. "
        "`--local-steps` pays it once for many optimizer steps (section 3). An epoch-shaped job with no work "
        "in it (a broadcast of the default network's weights, a Python task per core reading its cached "
        "partition, treeAggregate: `bench/empty_jobs.py`) takes "
        f"{r['empty_jobs']['python']:.3f} s in a warm application here, a job that stays in the JVM "
        f"{r['empty_jobs']['jvm']:.3f} s: the fixed part is the cost of PySpark handing a job to Python workers, "
        "not the epoch's work. Within 1.2x of the float32 floor, the fixed part would have to be at or below "
        f"{max(1.2 * r['floor'] - slope2, 0.0):.3f} s, less than that empty job: out of reach while each epoch "
        "is one Spark job with Python tasks.",
        "",
    ]


def second_core_lines(r, d):
    """What a second core gives."""
    big, numpy1, numpy2, slope1, slope2, fixed1, fixed2, needed = (
        d.big, d.numpy1, d.numpy2, d.slope1, d.slope2, d.fixed1, d.fixed2, d.needed)
    return [
        f"What a second core gives (section 4). Plain NumPy, one process per core, does {numpy1 / numpy2:.2f}x the "
        f"work on two cores that it does on one: that is what this machine's two cores allow. Our `local[1]` "
        f"epoch is {r['local1'][1] / numpy1:.2f}x a one-core NumPy epoch; under `local[2]` it is "
        f"{r['scaling'][1] / numpy2:.2f}x a two-core one. Lines through x1 and x{big}: `local[1]` costs "
        f"{fixed1:.3f} s fixed per epoch + {slope1:.3f} s per 60,000 rows, `local[2]` {fixed2:.3f} s + "
        f"{slope2:.3f} s. Per row the second core "
        f"gives {slope1 / slope2:.2f}x, and the speed-up approaches that as the data grows. The fixed part does not "
        f"shrink: it is one Spark job with a Python task per core, and under `local[1]` the JVM's share of it runs "
        f"on the second core, idle otherwise. 1.7x at x1 would need `local[2]`'s fixed part at or below "
        f"{max(needed, 0.0):.3f} s per epoch; it is {fixed2:.3f} s.",
        "",
    ]


def cpu_lines(r, d):
    """Where the CPU goes."""
    big, jvm, limit, best = d.big, d.jvm, d.limit, d.best
    return [
        f"Where the CPU goes (section 4, CPU table): each epoch the JVM spends {jvm[1]:.3f} s of CPU (x1) "
        "scheduling the job, handing the cached blocks to Python, answering the Python driver and compiling "
        "its own hot paths. Under `local[2]` it shares the two cores with the two Python workers, so an epoch "
        f"cannot take less than all their CPU over two: {limit[1]:.3f} s at x1, a speed-up of at most "
        f"{best[1]:.2f}x whatever the scheduling; at x{big}, {best[big]:.2f}x. The JVM also gets faster over the "
        "first few dozen epochs as it compiles its hot paths, so short runs overstate an epoch.",
        "",
    ]


def epochs_lines(r, d):
    """Section 1: seconds per epoch."""
    ratio_block, ratio_floor64 = d.ratio_block, d.ratio_floor64
    return [
        f"## 1. Seconds per epoch (median, first epoch left out; {r['epochs']['default']} epochs)",
        "",
        "| what | seconds per epoch | vs default |",
        "|---|---|---|",
        f"| single-process NumPy, same math in float32, all cores for BLAS (the floor) | {r['floor']:.3f} | "
        f"{r['floor'] / r['default']:.2f}x |",
        f"| default job (float32, blocks of 1024 rows) | {r['default']:.3f} | 1x |",
        f"| single-process NumPy in float64 | {r['floor64']:.3f} | {r['floor64'] / r['default']:.2f}x |",
        f"| job with `--dtype float64` | {r['default64']:.3f} | {r['default64'] / r['default']:.2f}x "
        f"({ratio_floor64:.2f}x its floor) |",
        f"| `--block-size 1` (the original's one row per element) | {r['block1']:.3f} | {ratio_block:.1f}x |",
        "",
    ]


def load_lines(r, d):
    """Section 2: the load."""
    load_ratio = d.load_ratio
    return [
        "## 2. Load: files to cached blocks (training and test sets)",
        "",
        "The job's load is from its \"loading\" line to the cached, checked blocks of both sets, in a fresh "
        "JVM (so it includes the first Spark job's start-up). `np.loadtxt` reads the same four files in this "
        "process: pixels as bytes and labels as integers for the compact files (NumPy's fastest way to read "
        "them), floats for the seed layout.",
        "",
        f"Where the compact files' load goes: loaded twice in one application, the first load took "
        f"{r['load_twice']['first']:.1f} s and the second {r['load_twice']['second']:.1f} s "
        f"({r['load_twice']['second'] / r['loadtxt']['compact']:.2f}x `np.loadtxt`). The difference is the first "
        "Spark jobs of an application: the JVM loading and compiling the scheduler's and the readers' classes, "
        "the Python workers starting. What remains is moving the lines from the JVM to the Python workers, "
        "parsing them with `np.loadtxt` (a split per core) and checking them.",
        "",
        "| format | training file | job's load seconds | `np.loadtxt` seconds | ratio |",
        "|---|---|---|---|---|",
        *[f"| {label} | {mb(r['sizes'][kind])} | {r['load'][kind]:.1f} | {r['loadtxt'][kind]:.1f} | "
          f"{load_ratio[kind]:.2f}x |" for kind, label in (("compact", "compact (integers, commas)"),
                                                          ("seed", "seed (the original's `np.savetxt` floats)"))],
        *[f"| Parquet, {label} | {mb(r['sizes'][kind])} | {r['load'][kind]:.1f} | {r['loadtxt']['compact']:.1f} "
          f"(compact) | {r['load'][kind] / r['loadtxt']['compact']:.2f}x |"
          for kind, label in (("parquet-columns", "784 integer columns"), ("parquet-array", "one array column"),
                              ("parquet-vector", "one vector column")) if kind in r["load"]],
        "",
        "The Parquet tables hold the compact files' rows (pyarrow wrote them, one file per set); each file is "
        "smaller than one of Spark's splits (`spark.sql.files.maxPartitionBytes`), so the job reads it whole in a "
        "task with pyarrow (`sc.binaryFiles`): each set is one task. Larger tables: section 2b.",
        "",
    ]


def big_table_lines(r, d):
    """Section 2b: large tables, one file against Spark's folder and CSV files."""
    if "big" not in r:
        return []
    big = r["big"]
    loads, huge = big["loads"], big["huge"]
    labels = {"columns": "one Parquet file, 784 uint8 columns (pandas)", "array": "one Parquet file, an array column",
              "parts": "Spark's folder of parts (784 columns)",
              "columns-pieces": "the 784-column file in 64 MB pieces (Spark's reader)",
              "csv": f"CSV files (the compact file, listed {big['copies']} times)"}
    return [
        f"### 2b. Large tables: MNIST x{big['copies']} ({loads['csv']['rows']:,} training rows)",
        "",
        "A table file up to four of Spark's splits (`spark.sql.files.maxPartitionBytes`: 512 MB by default) is "
        "read whole and decoded by pyarrow in one task; a larger one by Spark's file reader in pieces, the row "
        "groups (ORC: stripes) of each split, several tasks to a file. The one-file tables were written in row "
        f"groups of {big['row_group']:,} rows; Spark wrote its folder from the 784-column file. The fourth row "
        "reads the 784-column file in pieces of 64 MB, as a file over 512 MB is read: Spark's reader hands each "
        "value to Python through its rows (the numeric columns packed into one array a row), where pyarrow "
        "decodes whole columns. Each load is a fresh `spark-submit` on `local[2]`, training and test sets (the "
        "10,000 test rows in the same layout); the Python workers' peak is the largest resident size of one "
        "worker process, and the sum over all of them.",
        "",
        "| input | training size | load seconds | vs the folder | Python worker peak | all workers |",
        "|---|---|---|---|---|---|",
        *[f"| {labels[kind]} | {mb(big['sizes'][kind])} | {loads[kind]['seconds']:.1f} | "
          f"{loads[kind]['seconds'] / loads['parts']['seconds']:.2f}x | {mb(loads[kind]['worker_peak'])} | "
          f"{mb(loads[kind]['workers_total'])} |" for kind in ("columns", "array", "parts", "columns-pieces", "csv")],
        "",
        f"A file over 2 GB: {huge['rows']:,} rows of a float64 array column of 784, stored without dictionary or "
        f"compression ({huge['bytes'] / 2 ** 30:.2f} GB), loaded in {huge['seconds']:.0f} s; the largest Python "
        f"worker peaked at {mb(huge['worker_peak'])}. Read whole by one task, as the job read every table file "
        "before, such a file stopped with `java.lang.OutOfMemoryError: Required array size too large`.",
        "",
    ]


def time_to_97_lines(r, d):
    """Section 3: time to 97% test accuracy, and the start-up."""
    mllib_seconds, ratio_wall = d.mllib_seconds, d.ratio_wall
    return [
        "## 3. Time to 97% test accuracy",
        "",
        "| run | reached | test accuracy | seconds |",
        "|---|---|---|---|",
        f"| ours: `{' '.join(r['fast_recipe'])} --eval-every 1` | epoch {r['fast_epoch']} | "
        f"{r['fast_accuracy']:.4f} | {r['fast_seconds']:.1f} (load {r['fast_load']:.1f} + training; wall "
        f"{r['fast_wall']:.1f} with start-up and evaluations) |",
        f"| Keras {r['keras']['keras']} ({r['keras']['backend']} backend, CPU, one process): Dense(128, relu), "
        f"Adam 1e-3, batch 128, `np.loadtxt` | epoch {r['keras_epoch']} | {r['keras_accuracy']:.4f} | "
        f"{r['keras_seconds'] or float('nan'):.1f} (load {r['keras']['load_seconds']:.1f} + training) |",
        f"| MLlib `MultilayerPerceptronClassifier` 784-64-10, l-bfgs, maxIter 100 | end of fit | "
        f"{r['mllib']['test_accuracy']:.4f} | {mllib_seconds:.1f} (load {r['mllib']['load_seconds']:.1f} + fit "
        f"{r['mllib']['fit_seconds']:.1f}) |",
        "",
        "From the command to written outputs, 5 epochs each with the test accuracy after every epoch: "
        f"our job {r['fast_wall']:.1f} s (`spark-submit`, JVM start included), Keras's script "
        f"{r['keras_wall']:.1f} s (Python, imports and JAX's compilation included): {ratio_wall:.2f}x. Of our "
        f"{r['fast_wall']:.1f} s, loading took {r['fast_load']:.1f} s and the five epochs "
        f"{r['fast_training']:.1f} s; the other {r['fast_wall'] - r['fast_load'] - r['fast_training']:.1f} s are "
        "`spark-submit` starting the JVM and the SparkContext, five evaluations, the outputs and stopping.",
        "",
        "Start-up. Every Spark run of this benchmark but MLlib's had `SPARK_SUBMIT_OPTS` = "
        f"`{r['start_options'] or '(none)'}`, as `make` sets it (a class-data sharing archive of Spark's classes "
        "and the JVM's quick compiler only), and its Python processes imported PySpark "
        + ("from `pyspark.zip`, as spark-submit puts it first on their path. " if r["pyspark_zip"] else
           "from site-packages, its `pyspark.zip` renamed out of the way as `make` does "
           "(`tools/pyspark_from_site_packages.py`). ")
        + f"Without the JVM options the same recipe took {r['plain']['wall']:.1f} s from command to outputs "
        f"({r['plain']['wall'] / r['keras_wall']:.2f}x Keras's script), loaded in {r['plain']['load']:.1f} s "
        f"and reached 97% after {r['plain']['seconds'] or float('nan'):.1f} s. "
        "MLlib ran on Spark's JVM defaults: it trains in the JVM, which the quick compiler alone slows many "
        "times over.",
        "",
    ]


def scaling_lines(r, d):
    """Section 4: scaling with data and cores, and CPU by process."""
    copies, cores, limit, best = d.copies, d.cores, d.limit, d.best
    numpy1, numpy2 = d.numpy1, d.numpy2
    return [
        f"## 4. Scaling (x1: the default job's {r['epochs']['default']} epochs; larger sets "
        f"{r['epochs']['scaled']} epochs)",
        "",
        "| training set | rows | seconds per epoch | per epoch vs x1 |",
        "|---|---|---|---|",
        *[f"| x{c} | {60000 * c:,} | {r['scaling'][c]:.3f} | {r['scaling'][c] / r['scaling'][1]:.2f}x |"
          for c in copies],
        "",
        "| work | one core | two cores | speed-up |",
        "|---|---|---|---|",
        f"| NumPy epoch, one BLAS thread per process (two cores: two processes side by side, "
        f"each taking {r['numpy_cores'][2]:.3f} s) | {numpy1:.3f} | {numpy2:.3f} per epoch of work | "
        f"{numpy1 / numpy2:.2f}x |",
        *[f"| our epoch, x{c}: `local[1]`, `local[2]` | {r['local1'][c]:.3f} | {r['scaling'][c]:.3f} | "
          f"{cores[c]:.2f}x |" for c in sorted(cores)],
        "",
        "CPU seconds per epoch (user + system, from the end of the first epoch to the end of the last), "
        "by process, and what they allow on 2 cores:",
        "",
        "| run | JVM | Python workers | Python driver | all over 2 cores | best speed-up over `local[1]` |",
        "|---|---|---|---|---|---|",
        *[f"| x{c} `{m}` | " + " | ".join(f"{r['cpu'][f'{m} x{c}'].get(k, 0.0):.3f}" for k in
                                         ("JVM (driver and executor)", "Python worker", "Python driver"))
          + (f" | {limit[c]:.3f} | {best[c]:.2f}x |" if m == "local[2]" else " | | |")
          for c in sorted(cores) for m in ("local[1]", "local[2]")],
        "",
    ]


def memory_lines(r, d):
    """Section 5: memory."""
    return [
        "## 5. Memory",
        "",
        "Peak resident memory (VmHWM) of a default job's processes (5 epochs), sampled every 0.2 s in a run "
        "of its own. Python workers are forked from one daemon and share pages, so their sum overstates.",
        "",
        "| process | the largest one | sum over them |",
        "|---|---|---|",
        *[f"| {role} | {mb(largest)} | {mb(total)} |" for role, (largest, total) in sorted(r["memory"].items())],
        "",
        f"Cached training set: {mb(r['cached']['memory'])} in memory, {mb(r['cached']['disk'])} on disk "
        "(pixels as bytes; the pickled blocks kept as they are, `MEMORY_AND_DISK_DESER`).",
        "",
    ]


def spill_lines(r, d):
    """Section 6: a set larger than memory."""
    spill = d.spill
    return [
        f"## 6. Larger than memory: x{spill['copies']} ({60000 * spill['copies']:,} rows), "
        f"`--driver-memory {spill['memory']}`",
        "",
        "The blocks are cached with `MEMORY_AND_DISK_DESER`, so what does not fit in the executor's storage memory "
        "is kept on local disk instead of being parsed again every epoch.",
        "",
        "| run | cached in memory | cached on disk | seconds per epoch | rows per second |",
        "|---|---|---|---|---|",
        f"| x1, default memory | {mb(r['cached']['memory'])} | {mb(r['cached']['disk'])} | {r['default']:.3f} | "
        f"{0.7 * 60000 / r['default']:,.0f} |",
        f"| x{spill['copies']}, {spill['memory']} | {mb(spill['cached']['memory'])} | {mb(spill['cached']['disk'])} | "
        f"{spill['epoch']:.3f} | {0.7 * 60000 * spill['copies'] / spill['epoch']:,.0f} |",
        "",
    ]


def plot(folder, r):
    """benchmarks.png: an epoch beside its floors, scaling with data, and time to 97%."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    names = ["NumPy\nfloat32", "default job\n(float32)", "NumPy\nfloat64", "job\nfloat64", "--block-size 1"]
    values = [r["floor"], r["default"], r["floor64"], r["default64"], r["block1"]]
    axes[0].bar(names, values, color=["tab:gray", "tab:blue", "tab:gray", "tab:cyan", "tab:red"])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("seconds per epoch (log)")
    axes[0].set_title("one epoch, full MNIST, local[2]")
    for i, v in enumerate(values):
        axes[0].text(i, v, f"{v:.2f} s", ha="center", va="bottom")
    copies = sorted(r["scaling"])
    axes[1].plot(copies, [r["scaling"][c] for c in copies], "o-", label="measured")
    axes[1].plot(copies, [r["scaling"][1] * c for c in copies], "--", color="gray", label="linear")
    axes[1].set_xlabel("copies of the training set")
    axes[1].set_ylabel("seconds per epoch")
    axes[1].set_title("scaling with data")
    axes[1].legend()
    axes[2].bar(["ours", "Keras 3\n(JAX, CPU)", "MLlib MLP\n(to 96.x%)"],
                [r["fast_seconds"], r["keras_seconds"] or 0, r["mllib"]["load_seconds"] + r["mllib"]["fit_seconds"]],
                color=["tab:blue", "tab:green", "tab:orange"])
    axes[2].set_ylabel("seconds, load included")
    axes[2].set_title("to 97% test accuracy")
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "benchmarks.png"))
    plt.close(fig)


def write_report(folder, r):
    """benchmarks.md and benchmarks.png in ``folder``, from the results record ``r``."""
    os.makedirs(folder, exist_ok=True)
    plot(folder, r)
    d = figures(r)
    sections = (header_lines, goals_lines, fixed_part_lines, second_core_lines, cpu_lines, epochs_lines, load_lines,
                big_table_lines, time_to_97_lines, scaling_lines, memory_lines, spill_lines)
    with open(os.path.join(folder, "benchmarks.md"), "w") as f:
        f.write("\n".join(line for section in sections for line in section(r, d)))
