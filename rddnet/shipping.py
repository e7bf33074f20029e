"""The job's code for the executors: the rddnet package and nn_math.py as one zip, built once per
run from wherever the driver imported them (a checkout or an installed package), and added to the
SparkContext, so that a task's pickled functions import the same code on any cluster."""

import atexit
import hashlib
import os
import shutil
import tempfile
import zipfile

import nn_math
import rddnet


def package_files():
    """[(path on this machine, name in the zip)] of rddnet's modules and nn_math.py; [] when the
    driver imported them from a zip (--py-files): the executors have that zip already."""
    package = os.path.dirname(os.path.abspath(rddnet.__file__))
    if not (os.path.isdir(package) and os.path.isfile(nn_math.__file__)):
        return []
    files = [(nn_math.__file__, "nn_math.py")]
    for folder, subfolders, names in os.walk(package):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        files += [(os.path.join(folder, name), os.path.relpath(os.path.join(folder, name), os.path.dirname(package)))
                  for name in sorted(names) if name.endswith(".py")]
    return files


def write_zip(path, files=None):
    """Write the zip of ``files`` (package_files() by default) to ``path``; returns ``path``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for source, name in files if files is not None else package_files():
            zipped.write(source, name)
    return path


def zip_name(files):
    """rddnet-<digest>.zip, the digest of the files' names and contents: a context takes a file
    name once, so code changed since it was first shipped (a notebook's edit) needs a new name."""
    digest = hashlib.sha256()
    for source, name in files:
        with open(source, "rb") as f:
            digest.update(name.encode() + b"\0" + f.read() + b"\0")
    return f"rddnet-{digest.hexdigest()[:16]}.zip"


_over_connect = set()  # (a Spark Connect session's id, a zip's name) shipped to it


def ship_code_over_connect(spark):
    """The zip of the job's code as a Python artifact of the Spark Connect session ``spark``, once
    per session and content: the server's Python workers then import it as executors do."""
    files = package_files()
    if not files:
        return
    name = zip_name(files)
    if (spark.session_id, name) in _over_connect:
        return
    spark.addArtifacts(temporary_zip(name, files), pyfile=True)
    _over_connect.add((spark.session_id, name))


def ship_code(sc):
    """Add the zip of the job's code to the SparkContext ``sc``, once per context and content
    (nothing to add when it came as --py-files)."""
    files = package_files()
    if not files:
        return
    name = zip_name(files)
    if name in sc._python_includes:  # shipped already: a second call (register_model, a test)
        return
    sc.addPyFile(temporary_zip(name, files))


def temporary_zip(name, files):
    """The path of the zip ``name`` of ``files``, written into a temporary folder of the driver's
    that lives until the driver exits (an executor fetches the zip when its first task starts)."""
    folder = tempfile.mkdtemp(prefix="rddnet-code-")
    atexit.register(shutil.rmtree, folder, True)
    return write_zip(os.path.join(folder, name), files)
