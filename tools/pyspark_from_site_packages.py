"""Let Spark's Python processes import PySpark from site-packages rather than from its zip.

A pip-installed PySpark carries a second copy of itself, python/lib/pyspark.zip, for Spark to
ship to YARN. spark-submit puts that zip first on the path of the Python driver and of every
Python worker it starts, and from a zip Python compiles each module from source every time
(it caches no bytecode there) and, on Python 3.10 and 3.11, re-reads the zip's directory once
per package whenever a worker's path changes. Measured on two cores, that is about a second of
each run's start: the driver's imports and the first Python job. With the zip renamed out of
the way, the same PySpark is imported from site-packages, byte-compiled by pip.

This virtual environment then cannot submit to YARN, which needs the zip: rename
pyspark.zip.unused back to pyspark.zip for that.

Usage: python tools/pyspark_from_site_packages.py   (with the environment's interpreter)
"""

import importlib.util
import os
import sys


def pyspark_zip():
    """The path of the installed PySpark's python/lib/pyspark.zip (it may not exist)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyspark_from_site_packages: PySpark is not installed in this environment")
    return os.path.join(list(spec.submodule_search_locations)[0], "python", "lib", "pyspark.zip")


def main():
    archive = pyspark_zip()
    if os.path.isfile(archive):
        os.replace(archive, archive + ".unused")
        print(f"pyspark_from_site_packages: {archive} renamed to pyspark.zip.unused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
