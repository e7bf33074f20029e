"""Speed and scale of main_task.py, measured side by side in one run: `make bench`.

    python bench/benchmark.py [--out docs] [--quick]

Runs the real job with spark-submit (local[2] unless said otherwise) on full MNIST, beside
what a user would pick instead (np.loadtxt, NumPy's float32 and float64 epochs, Keras 3 on JAX
in bench/.venv-keras, which `make bench` installs, and Spark MLlib), and writes
docs/benchmarks.md (tables, ratios, goals) and docs/benchmarks.png. Every figure comes from
this run; nothing is copied from an earlier one. About 12 minutes here.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from benchmark_report import from_json, write_report
from big_tables import measure_big_tables
from spark_jobs import ROOT, SPARK_SUBMIT, job, step

import nn_math
from rddnet import sampling
from rddnet.spark_setup import BLAS_THREAD_VARS

KERAS_PYTHON = os.path.join(ROOT, "bench", ".venv-keras", "bin", "python")
FAST_RECIPE = ["--hidden", "128", "--activation", "relu", "--loss", "cross-entropy", "--init", "he",
               "--optimizer", "adam", "--lr", "0.005", "--lr-schedule", "constant", "--sample-fraction", "1",
               "--local-steps", "120", "--block-size", "8192"]


# -------------------------------------------------------------- measuring


def generate_data(*args):
    """Run generate_data.py (the script beside the package) with ``args``."""
    subprocess.run([sys.executable, os.path.join(ROOT, "generate_data.py"), *args], check=True)


def epoch_median(summary):
    """Median seconds per epoch, the first (warm-up) epoch left out."""
    seconds = summary["epoch_seconds"]
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def floor_data(images, labels):
    """The training set as the floor's NumPy arrays: X (n, 784) uint8, Y (n, 10) uint8."""
    X = np.loadtxt(images, delimiter=",", dtype=np.uint8)
    return X, nn_math.one_hot(np.loadtxt(labels, dtype=np.int64), 10, np.uint8)


def numpy_floor(X, Y, epochs=8, dtype=np.float64):
    """Median seconds of the job's epoch (70% sample, 784-64-10 tanh/sigmoid forward and
    backward in ``dtype``, one SGD step on float64 weights) in one NumPy process, first epoch
    left out."""
    net = nn_math.Network([784, 64, 10], "tanh", "sse")
    theta = nn_math.init_parameters(net.sizes, np.random.default_rng(42))
    rows, seconds = np.arange(len(X)), []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        keep = sampling.sample_mask(42, epoch, rows, 0.7)
        X_in, Y_in = np.divide(X[keep], 255.0, dtype=dtype), Y[keep].astype(dtype)
        _, grad = nn_math.backprop(theta.astype(dtype), net, X_in, Y_in)
        theta = theta - 0.1 * grad / keep.sum()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[1:])


def floor_process(arrays):
    """Body of one side-by-side process (--floor-process): load, say "ready", wait for a line
    on stdin so all processes start together, then print the floor's median epoch."""
    with np.load(arrays) as saved:
        X, Y = saved["X"], saved["Y"]
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(numpy_floor(X, Y, epochs=12, dtype=np.float32)), flush=True)


def numpy_side_by_side(arrays, count):
    """[median seconds per epoch] of ``count`` NumPy processes, one BLAS thread each, running
    the floor's epochs at the same time: what ``count`` cores give to plain NumPy here."""
    env = dict(os.environ, **{var: "1" for var in BLAS_THREAD_VARS})
    command = [sys.executable, os.path.abspath(__file__), "--floor-process", arrays]
    started = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
               for _ in range(count)]
    for process in started:
        if process.stdout.readline().strip() != "ready":
            sys.exit("benchmark: a side-by-side NumPy process failed to start")
    for process in started:
        process.stdin.write("go\n")
        process.stdin.flush()
    medians = [float(process.stdout.readline()) for process in started]
    for process in started:
        process.wait()
    return medians


def loadtxt_seconds(paths, images_dtype, labels_dtype, images_delimiter):
    """Seconds np.loadtxt takes to read the four files (images, labels, images, labels) in this
    process: what one machine's NumPy takes to load the set."""
    started = time.perf_counter()
    for path, dtype, delimiter in zip(paths, (images_dtype, labels_dtype) * 2, (images_delimiter, None) * 2):
        np.loadtxt(path, delimiter=delimiter, dtype=dtype)
    return time.perf_counter() - started


def json_report(command, what, env=None):
    """The last JSON line a helper script prints; the benchmark stops with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        sys.exit(f"benchmark: {what} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return json.loads(lines[-1])


def keras(data, out, epochs=5):
    """(Keras's JSON report, its script's wall seconds): bench/keras_mlp.py in the benchmark's
    own virtual environment, JAX on the CPU."""
    if not os.path.exists(KERAS_PYTHON):
        sys.exit(f"benchmark: {KERAS_PYTHON} not found; `make bench` installs Keras there "
                 "(bench/requirements-keras.txt)")
    started = time.perf_counter()
    report = json_report([KERAS_PYTHON, os.path.join(ROOT, "bench", "keras_mlp.py"), *data, out, str(epochs)],
                         "the Keras run", env=dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"))
    return report, time.perf_counter() - started


def load_twice(data):
    """{"first", "second"}: seconds of the job's load in a fresh JVM, then again in the same one."""
    return json_report([SPARK_SUBMIT, "--master", "local[2]", os.path.join(ROOT, "bench", "load_twice.py"), *data],
                       "load_twice.py")


def empty_jobs():
    """{"jvm", "python"}: median seconds of a JVM-only job and of an epoch-shaped job with no work."""
    return json_report([SPARK_SUBMIT, "--master", "local[2]", os.path.join(ROOT, "bench", "empty_jobs.py")],
                       "empty_jobs.py")


def without_start_options():
    """This process's environment without SPARK_SUBMIT_OPTS: Spark's own JVM defaults."""
    return {name: value for name, value in os.environ.items() if name != "SPARK_SUBMIT_OPTS"}


def mllib(data):
    """MLlib's report, its JVM on Spark's defaults: the quick compiler only (make's start-up option)
    suits our job, whose JVM mostly moves bytes, but slows MLlib's JVM-side training many times over."""
    return json_report([SPARK_SUBMIT, "--master", "local[2]", os.path.join(ROOT, "bench", "mllib_mlp.py"), *data],
                       "the MLlib run", env=without_start_options())


def time_to(summary, target):
    """(epoch, seconds) when the test accuracy first reached ``target``: load plus epochs."""
    for epoch, accuracy in summary["test_accuracy_history"]:
        if accuracy >= target:
            return epoch, summary["load_seconds"] + sum(summary["epoch_seconds"][:epoch])
    return None, None


def keras_time_to(report, target):
    """(epoch, seconds, accuracy) when Keras's test accuracy first reached ``target``: load plus
    training epochs (its evaluations left out, as ours are)."""
    for epoch, accuracy in enumerate(report["test_accuracy"], 1):
        if accuracy >= target:
            return epoch, report["load_seconds"] + sum(report["epoch_seconds"][:epoch]), accuracy
    return None, None, max(report["test_accuracy"])


# ------------------------------------------------------------------- main

def measure_epochs(r, data, work, epochs):
    """The NumPy floors, the default job (float32 and float64), its memory, --block-size 1, local[1]."""
    step("np.loadtxt of the compact files, then the NumPy floors (float64, float32)")
    r["loadtxt"] = {"compact": loadtxt_seconds(data, np.uint8, np.int64, ",")}
    X, Y = floor_data(data[0], data[1])
    r["floor64"] = numpy_floor(X, Y)
    r["floor"] = numpy_floor(X, Y, dtype=np.float32)
    step("NumPy, one BLAS thread: one process, then two side by side")
    arrays = os.path.join(work, "floor.npz")
    np.savez(arrays, X=X, Y=Y)
    del X, Y
    r["numpy_cores"] = {1: numpy_side_by_side(arrays, 1)[0], 2: max(numpy_side_by_side(arrays, 2))}
    step("default job, local[2]")
    summary = job(data, os.path.join(work, "default"), "--epochs", epochs)[0]
    r["default"] = r["scaling"][1] = epoch_median(summary)
    r["cpu"] = {"local[2] x1": summary["cpu_per_epoch"]}
    r["load"] = {"compact": summary["load_seconds"]}
    r["cached"], r["spark"] = summary["cached_bytes"], summary["spark_version"]
    step("default job with --dtype float64")
    r["default64"] = epoch_median(job(data, os.path.join(work, "default64"), "--epochs", epochs,
                                      "--dtype", "float64")[0])
    step("default job again, sampling its processes' memory")
    r["memory"] = job(data, os.path.join(work, "memory"), "--epochs", "5", memory=True)[2].by_role()
    step("--block-size 1")
    r["block1"] = epoch_median(job(data, os.path.join(work, "block1"), "--epochs", "3", "--block-size", "1")[0])
    step("local[1]")
    summary = job(data, os.path.join(work, "local1"), "--epochs", epochs, master="local[1]")[0]
    r["local1"], r["cpu"]["local[1] x1"] = {1: epoch_median(summary)}, summary["cpu_per_epoch"]


def measure_loads(r, data, work, names):
    """The load twice in one JVM, an empty job, and the seed layout's load against np.loadtxt."""
    step("the job's load, twice in one JVM")
    r["load_twice"] = load_twice(data)
    step("an empty job, in the JVM and in Python")
    r["empty_jobs"] = empty_jobs()
    step("seed format: writing it")
    seed = os.path.join(work, "seed")
    generate_data("--out", seed, "--format", "seed")
    step("seed format: np.loadtxt, then the job's load")
    r["loadtxt"]["seed"] = loadtxt_seconds([os.path.join(seed, n) for n in names], np.float64, np.float64, None)
    r["load"]["seed"] = job([os.path.join(seed, n) for n in names], os.path.join(work, "seed-run"),
                            "--epochs", "1")[0]["load_seconds"]
    r["sizes"] = {"compact": os.path.getsize(data[0]), "seed": os.path.getsize(os.path.join(seed, names[0]))}


def write_tables(data, folder):
    """{layout: (train, test)}: the compact files' rows as one-file Parquet tables, written by
    pyarrow in the three layouts the job reads: 784 integer columns, one array column, one
    column of pyspark.ml dense vectors (the struct Spark stores them as)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    os.makedirs(folder, exist_ok=True)
    tables = {}
    for name, (images, labels) in (("train", data[:2]), ("test", data[2:])):
        X = np.loadtxt(images, delimiter=",", dtype=np.uint8)
        y = pa.array(np.loadtxt(labels, dtype=np.int64))
        rows = np.arange(0, X.size + 1, X.shape[1], dtype=np.int32)
        values = pa.ListArray.from_arrays(rows, pa.array(X.ravel().astype(np.float64)))
        vectors = pa.StructArray.from_arrays(
            [pa.array(np.ones(len(X), dtype=np.int8)), pa.nulls(len(X), pa.int32()),
             pa.nulls(len(X), pa.list_(pa.int32())), values], ["type", "size", "indices", "values"])
        layouts = {"columns": {**{f"p{j}": pa.array(X[:, j]) for j in range(X.shape[1])}, "label": y},
                   "array": {"features": pa.ListArray.from_arrays(rows, pa.array(X.ravel())), "label": y},
                   "vector": {"features": vectors, "label": y}}
        for layout, columns in layouts.items():
            path = os.path.join(folder, f"{name}-{layout}.parquet")
            pq.write_table(pa.table(columns), path)
            tables.setdefault(layout, []).append(path)
    return tables


def measure_table_loads(r, data, work):
    """The job's load of the same rows as Parquet tables, in each layout (a fresh JVM each)."""
    step("Parquet tables: writing them (pyarrow), then the job's load of each layout")
    tables = write_tables(data, os.path.join(work, "tables"))
    r["sizes"].update({f"parquet-{layout}": os.path.getsize(paths[0]) for layout, paths in tables.items()})
    for layout, paths in tables.items():
        features = () if layout == "columns" else ("--features", "features")
        r["load"][f"parquet-{layout}"] = job(paths, os.path.join(work, f"table-{layout}"), "--label-column", "label",
                                             *features, "--epochs", "1")[0]["load_seconds"]


def measure_time_to_97(r, data, work):
    """Time to 97% test accuracy: our fastest recipe (with and without the start-up options),
    Keras, MLlib."""
    step("time to 97%: our fastest recipe")
    summary, wall, _ = job(data, os.path.join(work, "fast"), *FAST_RECIPE, "--epochs", "5", "--eval-every", "1")
    r["fast_recipe"] = FAST_RECIPE
    r["fast_epoch"], r["fast_seconds"] = time_to(summary, 0.97)
    if r["fast_epoch"] is None:
        sys.exit("benchmark: the fast recipe did not reach 97% in 5 epochs")
    r["fast_accuracy"] = dict(summary["test_accuracy_history"])[r["fast_epoch"]]
    r["fast_load"], r["fast_wall"] = summary["load_seconds"], wall
    r["fast_training"] = sum(summary["epoch_seconds"])
    step("time to 97%: our fastest recipe without the JVM start-up options")
    summary, wall, _ = job(data, os.path.join(work, "plain"), *FAST_RECIPE, "--epochs", "5", "--eval-every", "1",
                           env=without_start_options())
    r["plain"] = {"seconds": time_to(summary, 0.97)[1], "load": summary["load_seconds"], "wall": wall}
    step("time to 97%: Keras 3, JAX backend, CPU")
    r["keras"], r["keras_wall"] = keras(data, os.path.join(work, "keras"))
    r["keras_epoch"], r["keras_seconds"], r["keras_accuracy"] = keras_time_to(r["keras"], 0.97)
    step("time to 97%: MLlib")
    r["mllib"] = mllib(data)


def measure_scaling(r, data, work, scaled_epochs, quick):
    """Copies of the training set under local[2] (the largest under local[1] too), and a set larger
    than the driver's memory."""
    for copies in ((2, 4) if quick else (2, 4, 8)):
        step(f"training set x{copies}")
        repeated = [",".join([data[0]] * copies), ",".join([data[1]] * copies), data[2], data[3]]
        summary = job(repeated, os.path.join(work, f"x{copies}"), "--epochs", scaled_epochs)[0]
        r["scaling"][copies], r["cpu"][f"local[2] x{copies}"] = epoch_median(summary), summary["cpu_per_epoch"]
    step(f"training set x{copies}, local[1]")
    summary = job(repeated, os.path.join(work, f"x{copies}-local1"), "--epochs", scaled_epochs, master="local[1]")[0]
    r["local1"][copies], r["cpu"][f"local[1] x{copies}"] = epoch_median(summary), summary["cpu_per_epoch"]

    copies, memory = (4, "512m") if quick else (20, "512m")
    step(f"x{copies} under --driver-memory {memory}")
    repeated = [",".join([data[0]] * copies), ",".join([data[1]] * copies), data[2], data[3]]
    summary = job(repeated, os.path.join(work, f"spill{copies}"), "--epochs", "3",
                  spark_options=("--driver-memory", memory))[0]
    r["spill"] = {"copies": copies, "memory": memory, "epoch": epoch_median(summary),
                  "cached": summary["cached_bytes"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="where benchmarks.md and .png go")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and copies, to try the script")
    parser.add_argument("--only", choices=["big-tables"],
                        help="measure one section, put its figures in OUT's benchmarks.json and write the report again")
    parser.add_argument("--floor-process", metavar="NPZ", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_process:
        return floor_process(args.floor_process)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    work = tempfile.mkdtemp(prefix="bench-")
    compact = os.path.join(ROOT, "data")
    if not os.path.exists(os.path.join(compact, "mnist_labels_test.csv")):
        generate_data("--out", compact)
    names = ["mnist_images_train.csv", "mnist_labels_train.csv", "mnist_images_test.csv", "mnist_labels_test.csv"]
    data = [os.path.join(compact, n) for n in names]
    # The JVM compiles its hot paths during the first few dozen epochs (JIT), which then run about
    # 40% faster: the default job runs its default 100 epochs; larger sets warm up in fewer epochs.
    epochs, scaled_epochs = ("8", "5") if args.quick else ("100", "40")
    r = {"when": time.strftime("%Y-%m-%d"), "scaling": {}, "start_options": os.environ.get("SPARK_SUBMIT_OPTS", ""),
         "pyspark_zip": os.path.exists(os.path.join(importlib.util.find_spec("pyspark").submodule_search_locations[0],
                                                     "python", "lib", "pyspark.zip")),
         "epochs": {"default": int(epochs), "scaled": int(scaled_epochs)}}
    if args.only:  # one section, into the last full run's record: the section gives its own date
        measure_big_tables(r, data, work, args.quick)
        print(json.dumps(r["big"], indent=1))
        with open(os.path.join(args.out, "benchmarks.json")) as f:
            record = from_json(json.load(f))
        r = {**record, "big": {**r["big"], "when": r["when"]}}
        subprocess.run(["rm", "-rf", work])
    else:
        measure_all(r, data, work, names, args.quick)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "benchmarks.json"), "w") as f:
        json.dump(r, f, indent=1)
    write_report(args.out, r)
    step(f"wrote {os.path.join(args.out, 'benchmarks.md')}")


def measure_all(r, data, work, names, quick):
    """Every section, in one run, into the results record ``r``."""
    epochs, scaled_epochs = str(r["epochs"]["default"]), str(r["epochs"]["scaled"])
    measure_epochs(r, data, work, epochs)
    measure_loads(r, data, work, names)
    measure_table_loads(r, data, work)
    measure_big_tables(r, data, work, quick)
    measure_time_to_97(r, data, work)
    measure_scaling(r, data, work, scaled_epochs, quick)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
