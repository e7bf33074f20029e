"""Will the network fit? Its memory, estimated from its layer sizes before any data is loaded,
held against what is known of the machines: one line with the figures when it cannot fit.

The estimates count what scales with the network (P weights and biases), as the job holds it:

    driver, Python:  float64 copies of theta, the mean gradient and the step's result, the
                     optimizer's moments (momentum 1, adam 2), and one task's result as it is
                     combined (the gradient sums and their rounding errors: two copies).
    driver, JVM:     the broadcast weights (P values of --dtype) and one task's serialized result.
    each task:       the broadcast weights, the gradient sums and rounding errors in float64, and
                     one block's activations (rows x the layer widths, three matrices a layer).

What they are held against: in local mode, the machine's available memory for the driver and
every core's task together; the driver JVM's heap (spark-submit's --driver-memory); and on a
cluster, spark.executor.memory and spark.executor.pyspark.memory where they are set.
"""

import nn_math
from rddnet.errors import DataError

GB = 2 ** 30
TASK_RESULT = 2  # float64 vectors in a task's result: the gradient sums and their rounding errors
MOMENTS = {"sgd": 0, "momentum": 1, "adam": 2}


def estimate(sizes, optimizer, dtype_bytes, block_size):
    """{"weights": bytes of one float64 copy of the weights, "driver": the driver's Python,
    "driver_jvm", "task": one task's Python, "task_jvm": one task's share of its executor's JVM}."""
    P = nn_math.parameter_count(sizes)
    activations = 3 * block_size * sum(sizes) * dtype_bytes
    return {"weights": 8 * P,
            "driver": 8 * P * (3 + MOMENTS[optimizer] + TASK_RESULT),
            "driver_jvm": dtype_bytes * P + 8 * P * TASK_RESULT,
            "task": dtype_bytes * P + 8 * P * TASK_RESULT + activations,
            "task_jvm": dtype_bytes * P + 8 * P * TASK_RESULT}


def available_memory():
    """Bytes of memory this machine has available (Linux's MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def size_bytes(sc, key):
    """A memory setting of Spark's configuration in bytes (e.g. "4g"), or None if it is not set."""
    value = sc.getConf().get(key)
    if not value:
        return None
    return int(sc._jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(value if value[-1].isalpha()
                                                                               else value + "m"))


def check(sc, sizes, optimizer, dtype_bytes, block_size):
    """DataError, with the figures and the option to change, if the network cannot fit."""
    need = estimate(sizes, optimizer, dtype_bytes, block_size)
    network = f"the {'-'.join(map(str, sizes))} network ({need['weights'] / GB:.2f} GB a float64 copy of its weights)"
    change = "lower --hidden"
    cores = sc.defaultParallelism
    if sc.master.startswith("local") and not sc.master.startswith("local-cluster"):
        total, available = need["driver"] + cores * need["task"], available_memory()
        if available is not None and total > available:
            raise DataError(f"{network} needs about {total / GB:.1f} GB in the driver and {cores} tasks, this "
                            f"machine has {available / GB:.1f} GB available; {change}")
    heap = sc._jvm.java.lang.Runtime.getRuntime().maxMemory()
    jvm = need["driver_jvm"] + (cores * need["task_jvm"] if sc.master.startswith("local") else 0)
    if jvm > heap:
        raise DataError(f"{network} needs about {jvm / GB:.1f} GB in the driver's JVM (its broadcast weights and "
                        f"the tasks' results), its heap is {heap / GB:.1f} GB; {change} or raise spark-submit's "
                        "--driver-memory")
    executor, python = size_bytes(sc, "spark.executor.memory"), size_bytes(sc, "spark.executor.pyspark.memory")
    per_executor = int(sc.getConf().get("spark.executor.cores", "1"))
    if executor is not None and not sc.master.startswith("local["):
        if per_executor * need["task_jvm"] > executor:
            raise DataError(f"{network} needs about {per_executor * need['task_jvm'] / GB:.1f} GB in each executor's "
                            f"JVM, spark.executor.memory is {executor / GB:.1f} GB; {change} or raise it")
    if python is not None and need["task"] > python:
        raise DataError(f"{network} needs about {need['task'] / GB:.1f} GB in each task's Python worker, "
                        f"spark.executor.pyspark.memory is {python / GB:.1f} GB; {change} or raise it")
