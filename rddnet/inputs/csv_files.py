"""CSV files as people write them, read through Spark and checked while parsed: the files of an
input in sorted order, each file's layout from its first lines, its splits' lines numbered
within their file, and lines of numbers parsed with np.loadtxt, every fault one error that
names the file and the line. inputs/csv_input.py builds the data sets from these.
"""

import threading
import warnings
from collections import namedtuple

import numpy as np

from rddnet import hadoop_fs
from rddnet.errors import DataError, first_error

BOM = "\ufeff"  # UTF-8 byte-order mark, as Excel's "CSV UTF-8" starts a file



def split_values(line, sep):
    """The value strings of one line: comma-separated, or whitespace-separated if sep is None."""
    return [v.strip() for v in line.split(sep)] if sep else line.split()



def is_numbers(line):
    """True if every value of a line (comma- or whitespace-separated) is a number."""
    values = split_values(line, "," if "," in line else None)
    try:
        [float(v) for v in values]
    except ValueError:
        return False
    return bool(values)



def detect_format(path, first_lines, label_column=None):
    """How a file is written, from its first two lines (a byte-order mark dropped).

    Returns {"sep": "," or None (whitespace), "width": values per line, "header": True if line 1
    is a header (not numbers, when line 2 is), "label_column": 0-based column of the label, or None}.
    """
    lines = [first_lines[0].lstrip(BOM), *first_lines[1:2]]
    if not lines[0].strip():
        raise DataError(f"{path}: line 1: empty line")
    header = len(lines) > 1 and not is_numbers(lines[0]) and is_numbers(lines[1])
    row = lines[1] if header else lines[0]
    sep = "," if "," in row else None
    values = split_values(row, sep)
    layout = {"sep": sep, "width": len(values), "header": header, "label_column": None}
    if label_column is not None:
        names = [name.strip('"') for name in split_values(lines[0], sep)] if header else None
        layout["label_column"] = label_index(path, label_column, names, len(values))
    return layout



def label_index(path, label_column, names, width):
    """The 0-based column --label-column names: a header's column of that name (a name wins over
    first, last or a number), else first, last or a number from 1. ``names``: the header's, or None."""
    if names is not None and str(label_column) in names:
        return names.index(str(label_column))
    if label_column in ("first", "last"):
        return 0 if label_column == "first" else width - 1
    if isinstance(label_column, int):
        if not 1 <= label_column <= width:
            raise DataError(f"{path}: --label-column {label_column}: the rows have {width} values")
        return label_column - 1
    where = f"its header: {', '.join(names)}" if names else "it has no header line to name its columns"
    raise DataError(f"{path}: --label-column {label_column}: no such column ({where})")



# An input's files, in the order they are read: paths (as shown in messages) and sizes in bytes.
Input = namedtuple("Input", "files sizes layout")



def open_input(sc, path, label_column=None):
    """The Input a Hadoop path names (a file, folder, glob or comma-separated list, files in sorted
    order), with detect_format of its first file; one-line errors for a missing or empty file."""
    files = hadoop_fs.input_files(sc, path)
    lines = hadoop_fs.first_lines(sc, files[0][0], 2)
    if not lines:
        raise DataError(f"{files[0][0]}: empty file")
    return Input([name for name, _ in files], [size for _, size in files],
                 detect_format(files[0][0], lines, label_column))



def data_lines(lines, layout, file_start, report):
    """Yield a split's data lines as (line, index) pairs, index counted from the split's first
    line: the header and blank lines left out. ``file_start``: the split begins a file, so its
    first line may be a header (when the first file has one) or start with a byte-order mark.

    Once exhausted, ``report`` holds {"lines": the split's number of lines, "blank": the number of
    its first blank line or None, "last": the number of its last data line or 0, "header": 1 if
    it skipped a header line}, numbered within the split. Whether a blank line is allowed (only
    after the last data line of its file) is decided once every split has reported (check_splits).
    """
    report.update(lines=0, blank=None, last=0, header=0)
    for index, line in enumerate(lines):
        report["lines"] = index + 1
        if index == 0 and file_start:
            line = line.lstrip(BOM)
            if layout["header"] and not is_numbers(line):
                report["header"] = 1
                continue
        if line.strip():
            report["last"] = index + 1
            yield line, index
        elif report["blank"] is None:
            report["blank"] = index + 1



def shifted(error, path, lines_before, word="line"):
    """A (line, message) error numbered within its split -> numbered within its file.

    Every message of a split's parse starts "<path>: line <n>: " (a table's: ``word`` "row").
    """
    line, message = error
    prefix = f"{path}: {word} {line}: "
    assert message.startswith(prefix), message
    return line + lines_before, f"{path}: {word} {line + lines_before}: {message[len(prefix):]}"



def check_splits(splits, reports):
    """Raise the first error of an input read in splits: the earliest line of the first file that
    has one, numbered within that file. ``splits``: the (file, starts the file) of each split, as
    split_files gives them; ``reports``: one per split, in the input's order, {"lines", "blank",
    "last" (data_lines), "error": (line, message) or None}, numbered within the split.
    """
    files = []  # per file: its errors, its splits' first blank lines and last data lines
    for (path, starts), report in zip(splits, reports):
        if starts or not files:
            files.append({"path": path, "errors": [], "blanks": [], "lasts": [], "before": 0})
        file = files[-1]
        if report["error"] is not None:
            file["errors"].append(shifted(report["error"], path, file["before"]))
        if report["blank"] is not None:
            file["blanks"].append(report["blank"] + file["before"])
        if report["last"]:
            file["lasts"].append(report["last"] + file["before"])
        file["before"] += report["lines"]
    for file in files:
        first_error(file["errors"] + [blank_line_error(file["path"], file["blanks"], file["lasts"])])



def blank_line_error(path, first_blanks, last_datas):
    """(line, message) for the first blank line that has data after it, or None (blank lines at
    the end of a file, as many editors leave, are ignored)."""
    blanks = [b for b in first_blanks if b is not None]
    if blanks and min(blanks) < max(last_datas, default=0):
        return (min(blanks), f"{path}: line {min(blanks)}: empty line")
    return None



def locate_bad_line(lines, first_line, path, layout):
    """The DataError for the first line of ``lines`` that is not ``width`` numbers."""
    for i, line in enumerate(lines):
        number = first_line + i
        where = f"{path}: line {number}"
        if not line.strip():
            return DataError(f"{where}: empty line", number)
        values = split_values(line, layout["sep"])
        if len(values) != layout["width"]:
            return DataError(f"{where}: expected {layout['width']} values, found {len(values)}", number)
        for value in values:
            try:
                float(value)
            except ValueError:
                return DataError(f"{where}: {value[:20]!r} is not a number", number)
    return DataError(f"{path}: line {first_line}: cannot be read as numbers (nor can {len(lines) - 1} lines after "
                     "it, as one table)", first_line)



def parse_rows(lines, first_line, path, layout):
    """Lines of numbers -> (len(lines), width) float64, every value finite.

    ``first_line`` is the 1-based line number of lines[0], for error messages.
    """
    try:
        rows = np.loadtxt(lines, delimiter=layout["sep"], dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        rows = None
    if rows is None or rows.shape != (len(lines), layout["width"]):
        raise locate_bad_line(lines, first_line, path, layout)
    reject_rows(~np.isfinite(rows), rows, first_line, path, "is not a finite number")
    return rows



def parse_values(lines, first_line, path, layout):
    """Lines of numbers -> (len(lines), width) int16 when every value is written as a whole number
    that fits (NumPy parses those about eight times faster than floats), else parse_rows's float64."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # NumPy 1.x would read "1.5" as 1, with a warning
            rows = np.loadtxt(lines, delimiter=layout["sep"], dtype=np.int16, ndmin=2, comments=None)
    except (ValueError, DeprecationWarning):  # a float, a value out of int16's range, a bad line: the full check
        rows = None
    if rows is None or rows.shape != (len(lines), layout["width"]):
        return parse_rows(lines, first_line, path, layout)
    return rows



def reject_rows(bad, rows, first_line, path, what, columns=None):
    """Raise a DataError naming the first True of ``bad`` (same shape as rows), if any.
    ``columns``: the file's column number of each column of rows (default 1, 2, ...)."""
    if bad.any():
        i, j = np.argwhere(bad)[0]
        column = columns[j] if columns is not None else j + 1
        raise DataError(f"{path}: line {first_line + i}: value {rows[i, j]:g} (column {column}) {what}",
                        first_line + i)



def per_file(splits, counts):
    """Counts per split -> their sums per file, in the order of the files."""
    sums = []
    for (_, starts), count in zip(splits, counts):
        if starts or not sums:
            sums.append(0)
        sums[-1] += count
    return sums



# Held while the shared Hadoop configuration carries one input's minimum split size.
SPLIT_SETTING = threading.Lock()



def text_lines(sc, source, partitions):
    """(the lines of an Input's files, in their order, read in about ``partitions`` splits of even
    size; the (file, starts the file) of each split).

    sc.textFile cuts at the file system's block size (32 MB on local disk), which leaves
    uneven splits; a minimum split size of size / partitions, set while the splits are
    listed, makes them even. Each file is an RDD of its own, in a union, so the order of the
    files is the Input's (not the file system's listing order) and every split knows its file.
    """
    conf, key = sc._jsc.hadoopConfiguration(), "mapreduce.input.fileinputformat.split.minsize"
    with SPLIT_SETTING:  # the labels are listed in a thread beside the features: one at a time
        before = conf.get(key)
        conf.set(key, str(max(1, -(-sum(source.sizes) // partitions))))
        try:
            files = [sc.textFile(path) for path in source.files]
            counts = [rdd.getNumPartitions() for rdd in files]  # lists the splits now, under this minimum
        finally:
            if before is None:
                conf.unset(key)
            else:
                conf.set(key, before)
    splits = [(path, i == 0) for path, count in zip(source.files, counts) for i in range(count)]
    return (files[0] if len(files) == 1 else sc.union(files)), splits
