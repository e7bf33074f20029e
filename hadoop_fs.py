"""The Hadoop FileSystem API from the driver, so every path may be local, hdfs:// or gs://.

Inputs, outputs and checkpoints all go through these; nothing touches the driver's own disk.
"""

from errors import DataError


def hadoop_path(sc, path):
    """(FileSystem, Path) for any Hadoop path: local, hdfs://, gs://, ..."""
    jpath = sc._jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(sc._jsc.hadoopConfiguration()), jpath


def path_exists(sc, path):
    fs, jpath = hadoop_path(sc, path)
    return fs.exists(jpath)


def input_exists(sc, path):
    """True if every comma-separated part of ``path`` (a file, folder or glob) names a file."""
    for part in path.split(","):
        fs, jpath = hadoop_path(sc, part)
        found = fs.globStatus(jpath)
        if found is None or len(found) == 0:
            return False
    return True


def input_bytes(sc, path):
    """Total size of the files a path names (a file, folder, glob or comma-separated list)."""
    total = 0
    for part in path.split(","):
        fs, jpath = hadoop_path(sc, part)
        for status in fs.globStatus(jpath) or []:
            total += fs.getContentSummary(status.getPath()).getLength()
    return total


def delete_path(sc, path):
    fs, jpath = hadoop_path(sc, path)
    fs.delete(jpath, True)


def rename_path(sc, source, target):
    fs, jsource = hadoop_path(sc, source)
    if not fs.rename(jsource, hadoop_path(sc, target)[1]):
        raise OSError(f"could not move {source} to {target}")


def list_names(sc, folder):
    """Names of the entries of a folder, [] if it does not exist."""
    fs, jpath = hadoop_path(sc, folder)
    if not fs.exists(jpath):
        return []
    return [status.getPath().getName() for status in fs.listStatus(jpath)]


def write_bytes(sc, path, data):
    """Write ``data`` (bytes) to a file, replacing it."""
    fs, jpath = hadoop_path(sc, path)
    stream = fs.create(jpath, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()


def write_text(sc, path, text):
    """Write ``text`` (UTF-8) to a file, replacing it."""
    write_bytes(sc, path, text.encode("utf-8"))


def read_text(sc, path):
    """The whole of a (small) file as text; DataError if the file system cannot read it."""
    from py4j.protocol import Py4JJavaError
    fs, jpath = hadoop_path(sc, path)
    try:
        stream = fs.open(jpath)
        try:
            data = sc._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
        finally:
            stream.close()
    except Py4JJavaError as e:  # e.g. a local file whose .crc checksum no longer matches
        reason = str(e.java_exception.getMessage()).splitlines()[0]
        raise DataError(f"{path}: cannot be read ({e.java_exception.getClass().getSimpleName()}: {reason})") from None
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file") from None


def first_file(sc, path):
    """The first file a path names, in the order Spark reads them (hidden files skipped):
    (FileSystem, Path or None)."""
    fs, jpath = hadoop_path(sc, path.split(",")[0])
    for status in sorted(fs.globStatus(jpath) or [], key=lambda st: st.getPath().toString()):
        if status.isDirectory():
            inside = sorted((st for st in fs.listStatus(status.getPath()) if st.isFile()),
                            key=lambda st: st.getPath().getName())
            inside = [st for st in inside if not st.getPath().getName().startswith(("_", "."))]
            if inside:
                return fs, inside[0].getPath()
        else:
            return fs, status.getPath()
    return fs, None


def first_lines(sc, path, n):
    """The first ``n`` lines of an input (decompressed if need be): fewer if it is shorter.

    Read on the driver through the FileSystem API: a Spark job that stops reading early
    (take) leaves a Python worker writing into a closed pipe.
    """
    fs, jpath = first_file(sc, path)
    if jpath is None:
        return []
    jvm = sc._jvm
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(sc._jsc.hadoopConfiguration()).getCodec(jpath)
    stream = fs.open(jpath)
    if codec is not None:
        stream = codec.createInputStream(stream)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
    try:
        lines = [reader.readLine() for _ in range(n)]
    finally:
        reader.close()
    return [line for line in lines if line is not None]
