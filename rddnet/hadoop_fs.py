"""The Hadoop FileSystem API from the driver, so every path may be local, hdfs:// or gs://.

Inputs, outputs and checkpoints all go through these; nothing touches the driver's own disk.
"""

import contextlib
import functools
import io

from rddnet.errors import DataError


@functools.lru_cache(maxsize=1)  # one SparkContext at a time: a stopped one's are let go
def jvm_handles(sc):
    """(Hadoop's Path class, the context's Hadoop configuration): looked up once per context, as
    each step of a name like sc._jvm.org.apache.hadoop.fs.Path is a call into the JVM (a run
    makes some fifty paths, most to write its outputs)."""
    return sc._jvm.org.apache.hadoop.fs.Path, sc._jsc.hadoopConfiguration()


def hadoop_path(sc, path):
    """(FileSystem, Path) for any Hadoop path: local, hdfs://, gs://, ..."""
    path_class, conf = jvm_handles(sc)
    jpath = path_class(path)
    return jpath.getFileSystem(conf), jpath


@contextlib.contextmanager
def one_line(path, what):
    """Turn the file system's Java exception into a DataError "<path>: <what> (<Exception>: reason)"."""
    from py4j.protocol import Py4JJavaError
    try:
        yield
    except Py4JJavaError as e:  # e.g. permission denied, or a local file whose .crc checksum no longer matches
        reason = str(e.java_exception.getMessage()).splitlines()[0]
        raise DataError(f"{path}: {what} ({e.java_exception.getClass().getSimpleName()}: {reason})") from None


def qualified(sc, path):
    """A path in full (scheme, authority, absolute), without a trailing slash: to compare paths."""
    fs, jpath = hadoop_path(sc, path)
    return fs.makeQualified(jpath).toString().rstrip("/")


def size(sc, path):
    """The size of a file in bytes."""
    fs, jpath = hadoop_path(sc, path)
    with one_line(path, "cannot be read"):
        return int(fs.getFileStatus(jpath).getLen())


def matches(sc, path):
    """qualified() of every file or folder the comma-separated parts of ``path`` name (globs expanded)."""
    found = []
    for part in path.split(","):
        fs, jpath = hadoop_path(sc, part)
        found.extend(fs.makeQualified(st.getPath()).toString().rstrip("/") for st in fs.globStatus(jpath) or [])
    return found


def modified(sc, path):
    """The modification time of a file or folder, in milliseconds of the file system's clock; 0 if absent."""
    fs, jpath = hadoop_path(sc, path)
    return fs.getFileStatus(jpath).getModificationTime() if fs.exists(jpath) else 0


def path_exists(sc, path):
    fs, jpath = hadoop_path(sc, path)
    return fs.exists(jpath)


def visible(name):
    """False for the names Hadoop's readers skip in a folder: _SUCCESS, .crc files and the like."""
    return not name.startswith(("_", "."))


def input_files(sc, path, qualified_paths=False):
    """The files an input names, in plain lexical order of their paths: [(shown path, size in bytes)]
    (with ``qualified_paths``, each path in full, as qualified() writes it).

    ``path`` is a file, a folder (its visible files), a glob or a comma-separated list of those.
    The order is fixed here, not left to the file system's listing (which differs from folder to
    folder), so that the part files of features and of labels pair by name. A file given by its
    own name is shown as given; a file found in a folder or by a glob by its path.
    Raises DataError for a part that names no file.
    """
    found = []
    for part in path.split(","):
        fs, jpath = hadoop_path(sc, part)
        statuses = fs.globStatus(jpath) or []
        files = []
        for status in statuses:
            if status.isDirectory():
                files.extend(st for st in fs.listStatus(status.getPath())
                             if st.isFile() and visible(st.getPath().getName()))
            elif visible(status.getPath().getName()) or len(statuses) == 1:
                files.append(status)
        if not files:
            raise DataError(f"{part}: file not found" if not statuses else f"{part}: no files in it")
        literal = len(statuses) == 1 and not statuses[0].isDirectory()
        for status in files:
            shown = part if literal else shown_path(part, status.getPath())
            found.append((status.getPath().toString(), shown, status.getLen()))
    found.sort()
    return [(full if qualified_paths else shown, size) for full, shown, size in found]


def shown_path(given, jpath):
    """A path found under ``given`` (a folder or a glob), written as the user wrote ``given``: with
    its scheme only if ``given`` had one."""
    if "://" in given or given.startswith("file:"):
        return jpath.toString()
    return jpath.toUri().getPath()


def input_exists(sc, path):
    """True if every comma-separated part of ``path`` (a file, folder or glob) names a file."""
    for part in path.split(","):
        fs, jpath = hadoop_path(sc, part)
        found = fs.globStatus(jpath)
        if found is None or len(found) == 0:
            return False
    return True


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


CHUNK = 8 * 2 ** 20  # bytes per call into the JVM: py4j holds a call's bytes in the JVM's heap, twice over


def write_bytes(sc, path, data):
    """Write ``data`` (bytes) to a file, replacing it."""
    fs, jpath = hadoop_path(sc, path)
    stream = fs.create(jpath, True)
    try:
        for start in range(0, len(data), CHUNK):
            stream.write(bytearray(data[start:start + CHUNK]))
    finally:
        stream.close()


def write_text(sc, path, text):
    """Write ``text`` (UTF-8) to a file, replacing it."""
    write_bytes(sc, path, text.encode("utf-8"))


def read_text(sc, path):
    """The whole of a (small) file as text; DataError if the file system cannot read it."""
    fs, jpath = hadoop_path(sc, path)
    chunks = []
    with one_line(path, "cannot be read"):
        left = fs.getFileStatus(jpath).getLen()
        stream = fs.open(jpath)
        try:
            while left > 0:
                chunks.append(bytes(sc._jvm.org.apache.commons.io.IOUtils.toByteArray(stream, min(CHUNK, left))))
                left -= len(chunks[-1])
        finally:
            stream.close()
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file") from None


def first_lines(sc, path, n):
    """The first ``n`` lines of one file (decompressed if need be): fewer if it is shorter.

    Read on the driver through the FileSystem API: a Spark job that stops reading early
    (take) leaves a Python worker writing into a closed pipe.
    """
    fs, jpath = hadoop_path(sc, path)
    jvm = sc._jvm
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(sc._jsc.hadoopConfiguration()).getCodec(jpath)
    with one_line(path, "cannot be read"):  # e.g. a file named .gz that is not gzip-compressed
        stream = fs.open(jpath)
        if codec is not None:
            stream = codec.createInputStream(stream)
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        try:
            lines = [reader.readLine() for _ in range(n)]
        finally:
            reader.close()
    return [line for line in lines if line is not None]


def read_failure(error):
    """The java.io.IOException (its class's simple name, its message's first line) behind a failed
    Spark job's Py4JJavaError ``error`` (a task that could not read its file: a truncated .gz,
    say), or None if it failed for another reason."""
    found = error.java_exception
    while found is not None:
        name = found.getClass().getName()
        if name.endswith(("IOException", ".EOFException", ".ZipException", ".ChecksumException")):
            return found.getClass().getSimpleName(), str(found.getMessage()).splitlines()[0]
        found = found.getCause()
    text = str(error.java_exception.getMessage())  # a task's failure, as the scheduler reports it
    for line in text.splitlines():
        if "java.io.EOFException" in line or "java.io.IOException" in line:
            name, _, message = line.strip().partition(": ")
            return name.rsplit(".", 1)[-1].split()[-1], message.strip() or "no message"
    return None


@contextlib.contextmanager
def readable(sc, files, reads=None):
    """A Spark job over ``files`` that fails because one cannot be read (read_failure) -> DataError
    naming that file, with the reason and what to look for. Of several, the first that fails a
    read of its own (a Spark job each, only then): ``reads``(path), or reading it as text."""
    from py4j.protocol import Py4JJavaError
    try:
        yield
    except Py4JJavaError as e:
        failure = read_failure(e)
        if failure is None or not files:
            raise

        def fails(path):
            try:
                (reads or (lambda each: sc.textFile(each).count()))(path)
            except Py4JJavaError:
                return True
            return False
        culprit = files[0] if len(files) == 1 else next((path for path in files if fails(path)), files[0])
        raise unreadable(culprit, *failure) from None


def unreadable(path, exception, message):
    """The DataError of a file the file system could not read: ``exception`` the Java exception's
    class name, ``message`` its first line; with what to look for."""
    if exception == "ChecksumException":
        return DataError(f"{path}: does not match its .crc checksum file ({exception}: {message}): it was changed or "
                         "damaged after it was written; if it was changed on purpose, delete its .crc file")
    return DataError(f"{path}: cannot be read ({exception}: {message}); a compressed file cut short or corrupt?")


class HadoopFile(io.RawIOBase):
    """A file of any Hadoop file system as a seekable, read-only Python file, for pyarrow to read
    a table's footer and first row on the driver: each read is one seek and read in the JVM."""

    def __init__(self, sc, path):
        super().__init__()
        fs, jpath = hadoop_path(sc, path)
        with one_line(path, "cannot be read"):
            self.size = fs.getFileStatus(jpath).getLen()
            self.stream = fs.open(jpath)
        self.read_bytes = sc._jvm.org.apache.commons.io.IOUtils.toByteArray
        self.position = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def seek(self, offset, whence=io.SEEK_SET):
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence] + offset
        return self.position

    def readinto(self, buffer):
        """Fill ``buffer`` (up to the end of the file) in pieces of at most CHUNK bytes."""
        n = max(0, min(len(buffer), self.size - self.position))
        self.stream.seek(self.position)
        for start in range(0, n, CHUNK):
            piece = bytes(self.read_bytes(self.stream, min(CHUNK, n - start)))
            buffer[start:start + len(piece)] = piece
        self.position += n
        return n

    def close(self):
        if not self.closed:
            self.stream.close()
        super().close()
