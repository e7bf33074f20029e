"""Write a Java class-data sharing archive of the classes a training run loads, for faster start-up.

A JVM that starts Spark loads and verifies thousands of classes from its jars; a dynamic CDS
archive (Java 13 and later) keeps them parsed and verified in one file that later JVMs map in.
Measured on two cores, the SparkContext starts in under half the time with it. The archive is
made by a short run of main_task.py on a tiny data set of its own, and used by passing
``-XX:SharedArchiveFile=ARCHIVE`` to the driver's JVM (the Makefile does, in SPARK_SUBMIT_OPTS).
It holds only this Spark's and this Java's classes: a JVM that finds it does not match says so in
one warning line and starts as it would without it.

Usage: python tools/archive_spark_classes.py ARCHIVE   (with spark-submit beside the interpreter)
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_tiny_mnist(folder, rows=200, seed=0):
    """Four CSVs shaped like the bundled ones (784 pixels 0-255; labels 0-9): their paths, in
    main_task.py's order."""
    rng = np.random.default_rng(seed)
    paths = []
    for name, n in (("train", rows), ("test", rows // 4)):
        images, labels = os.path.join(folder, f"images_{name}.csv"), os.path.join(folder, f"labels_{name}.csv")
        np.savetxt(images, rng.integers(0, 256, (n, 784)), fmt="%d", delimiter=",")
        np.savetxt(labels, np.arange(n) % 10, fmt="%d")
        paths += [images, labels]
    return paths


def main(archive):
    spark_submit = os.path.join(os.path.dirname(sys.executable), "spark-submit")
    partial = archive + ".partial"
    with tempfile.TemporaryDirectory() as folder:
        command = [spark_submit, "--master", "local[2]",
                   "--driver-java-options", f"-XX:ArchiveClassesAtExit={partial} -Xlog:cds=off -Xlog:cds+dynamic=off",
                   os.path.join(ROOT, "main_task.py"), *write_tiny_mnist(folder), os.path.join(folder, "out"),
                   "--epochs", "2"]
        env = dict(os.environ)
        env.pop("SPARK_SUBMIT_OPTS", None)  # not an older archive while writing this one
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0 or not os.path.isfile(partial):
        if os.path.exists(partial):
            os.remove(partial)
        last = done.stdout.strip().splitlines()[-1:] or ["no output"]
        print(f"archive_spark_classes: no archive (Java 13 or later writes one): {last[0]}", file=sys.stderr)
        return 0  # only start-up is slower without it
    os.replace(partial, archive)
    print(f"archive_spark_classes: wrote {archive} ({os.path.getsize(archive) // 2 ** 20} MB)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    sys.exit(main(sys.argv[1]))
