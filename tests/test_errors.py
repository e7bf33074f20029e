"""Bad input: one line naming the file, the line and what is wrong; nothing created."""


import os

import pytest

import main_task
from rddnet.errors import DataError

pytestmark = pytest.mark.spark

WIDTH = 784


def pixels(row, n=WIDTH):
    """The compact layout: integers 0-255 separated by commas."""
    return ",".join(str((row * 7 + j) % 256) for j in range(n))


def floats(row, n=WIDTH):
    """The seed layout: pixels in [0, 1], separated by spaces."""
    return " ".join(f"{((row * 7 + j) % 256) / 255:.6e}" for j in range(n))


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A valid little data set: 40 training rows, 10 test rows, 10 classes."""
    folder = tmp_path_factory.mktemp("good")
    return {
        "train_images": write(folder / "train_images.csv", [pixels(i) for i in range(40)]),
        "train_labels": write(folder / "train_labels.csv", [str(i % 10) for i in range(40)]),
        "test_images": write(folder / "test_images.csv", [pixels(i) for i in range(10)]),
        "test_labels": write(folder / "test_labels.csv", [str(i % 10) for i in range(10)]),
    }


def run_with(sc, files, out, *options):
    args = main_task.parse_args([files["train_images"], files["train_labels"], files["test_images"],
                                 files["test_labels"], str(out), "--epochs", "1", *options])
    return main_task.run(sc, args, log=lambda line: None)


def bad_file(tmp_path, good, role, lines):
    """The good files with one of them replaced by ``lines``."""
    files = dict(good)
    files[role] = write(tmp_path / f"{role}.csv", lines)
    return files


CASES = {
    # name: (which file, its lines, the message after "<path>: "[, the file named if another])
    "empty file": ("train_images", [], "empty file"),
    "blank first line": ("train_images", [""] + [pixels(i) for i in range(39)], "line 1: empty line"),
    "blank line inside": ("train_images", [pixels(i) for i in range(5)] + [""] + [pixels(i) for i in range(34)],
                          "line 6: empty line"),
    "too few values": ("train_images", [pixels(i) for i in range(12)] + [pixels(12, WIDTH - 1)]
                       + [pixels(i) for i in range(27)], f"line 13: expected {WIDTH} values, found {WIDTH - 1}"),
    "too many values": ("test_images", [pixels(i) for i in range(3)] + [pixels(3, WIDTH + 2)]
                        + [pixels(i) for i in range(6)], f"line 4: expected {WIDTH} values, found {WIDTH + 2}"),
    "not a number": ("train_images", [pixels(i) for i in range(20)] + [pixels(20).replace("140", "x4", 1)]
                     + [pixels(i) for i in range(19)], "line 21: 'x4' is not a number"),
    "NaN": ("train_images", [pixels(i) for i in range(7)] + ["nan," + pixels(7, WIDTH - 1)]
            + [pixels(i) for i in range(32)], "line 8: value nan (column 1) is not a finite number"),
    "infinity": ("test_images", [pixels(i) for i in range(9)] + [pixels(9, WIDTH - 1) + ",inf"],
                 f"line 10: value inf (column {WIDTH}) is not a finite number"),
    "label not a class number": ("train_labels", ["1"] * 10 + ["2.5"] + ["1"] * 29,
                                 "line 11: value 2.5 (column 1) is not a class number 0, 1, 2, ..."),
    "negative label": ("train_labels", ["1"] * 4 + ["-3"] + ["1"] * 35,
                       "line 5: value -3 (column 1) is not a class number 0, 1, 2, ..."),
    "test label outside the classes": ("test_labels", [str(i % 10) for i in range(6)] + ["10"] + ["0"] * 3,
                                       "line 7: class 10 is outside the 10 classes of the training labels"),
    "target row not one-hot": ("train_labels", ["0 1 0"] * 8 + ["0 1 1"] + ["1 0 0"] * 31,
                               "line 9: target row is not one-hot (one 1, the rest 0)"),
    "target row all zero": ("train_labels", ["0 1 0"] * 3 + ["0 0 0"] + ["1 0 0"] * 36,
                            "line 4: target row is not one-hot (one 1, the rest 0)"),
    "more images than labels": ("train_labels", [str(i % 10) for i in range(35)],
                                "line 36: more images than labels (35 in {train_labels})", "train_images"),
    "fewer images than labels": ("train_labels", [str(i % 10) for i in range(45)], None),
    "test width differs": ("test_images", [pixels(i, 100) for i in range(10)],
                           f"line 1: 100 values per row, the training images have {WIDTH}"),
    "one class only": ("train_labels", ["0"] * 40, "every label is 0: at least two classes are needed"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_creates_nothing(sc, tmp_path, good, case):
    role, lines, message, *named = CASES[case]
    files = bad_file(tmp_path, good, role, lines)
    out = tmp_path / "out"
    with pytest.raises(DataError) as error:
        run_with(sc, files, out)
    text = str(error.value)
    if message is None:  # reported against the image file, with both counts
        assert text == f"{files['train_images']}: 40 images, but {files['train_labels']} has 45 labels"
    else:
        assert text == f"{files[named[0] if named else role]}: {message.format(**files)}"
    assert "\n" not in text
    assert not out.exists()


@pytest.mark.spark35
def test_missing_file(sc, tmp_path, good):
    files = dict(good, test_labels=str(tmp_path / "nowhere.csv"))
    with pytest.raises(DataError, match="nowhere.csv: file not found$"):
        run_with(sc, files, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_earliest_bad_line_is_reported_whichever_partition_finds_it(sc, tmp_path, good):
    lines = [pixels(i) for i in range(40)]
    lines[3] = pixels(3, 10)
    lines[35] = "oops," + pixels(35, WIDTH - 1)
    files = bad_file(tmp_path, good, "train_images", lines)
    with pytest.raises(DataError, match=r"line 4: expected 784 values, found 10$"):
        run_with(sc, files, tmp_path / "out", "--block-size", "2")


@pytest.mark.parametrize("options,message", [
    (["--lr", "0"], "argument --lr: expected a number > 0, got '0'"),
    (["--lr", "-0.1"], "argument --lr: expected a number > 0, got '-0.1'"),
    (["--sample-fraction", "0"], "argument --sample-fraction: expected a number in (0, 1], got '0'"),
    (["--sample-fraction", "1.5"], "argument --sample-fraction: expected a number in (0, 1], got '1.5'"),
    (["--block-size", "0"], "argument --block-size: expected an integer >= 1, got '0'"),
    (["--epochs", "ten"], "argument --epochs: expected an integer >= 0, got 'ten'"),
    (["--hidden", "64,0"], "argument --hidden: expected sizes >= 1 like 64 or 256,128, got '64,0'"),
    (["--dropout", "1"], "argument --dropout: expected a number in [0, 1), got '1'"),
    (["--activation", "swish"], "argument --activation: invalid choice: 'swish'"),
    (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
    (["--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
    (["--learning-rate", "0.1"], "unrecognized arguments: --learning-rate 0.1"),
])
def test_bad_options_are_one_line_with_exit_code_2(capsys, options, message):
    with pytest.raises(SystemExit) as exit_:
        main_task.parse_args(["a", "b", "c", "d", "out", *options])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("main_task.py: error: ") and message in err


def test_missing_arguments_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main_task.parse_args(["a", "b"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the following arguments are required" in err


def test_epochs_0_needs_a_model_to_evaluate(capsys):
    with pytest.raises(SystemExit) as exit_:
        main_task.parse_args(["a", "b", "c", "d", "out", "--epochs", "0"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("main_task.py: error: --epochs 0 trains nothing: it evaluates the model "
                                       "given with --init-model (see --help)\n")


@pytest.mark.parametrize("script, diverges, signals", [("main_task", True, True), ("predict", False, True),
                                                       ("generate_plots", False, False),
                                                       ("generate_data", False, False)])
def test_help_lists_the_exit_codes_the_script_returns(capsys, script, diverges, signals):
    module = __import__(script)
    with pytest.raises(SystemExit) as exit_:
        module.parse_args(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 done; 2 bad input or options" in text
    assert ("3 training diverged" in text) == diverges  # only training diverges
    assert ("130 interrupted (Ctrl-C)" in text) == ("143 terminated (SIGTERM)" in text) == signals


def test_the_schedule_follows_the_optimizer_when_none_is_given():
    schedule = {optimizer: main_task.parse_args(["a", "b", "c", "d", "out", "--optimizer", optimizer]).lr_schedule
                for optimizer in ("sgd", "momentum", "adam")}
    assert schedule == {"sgd": "bold-driver", "momentum": "constant", "adam": "constant"}
    given = main_task.parse_args(["a", "b", "c", "d", "out", "--optimizer", "adam", "--lr-schedule", "step"])
    assert given.lr_schedule == "step"


def test_adam_without_a_schedule_keeps_the_rate_it_was_given(sc, tmp_path, good):
    summary = run_with(sc, good, tmp_path / "out", "--optimizer", "adam", "--lr", "0.01", "--epochs", "5")
    assert summary["learning_rates"] == [0.01] * 5
    assert summary["settings"]["lr_schedule"] == "constant"


def test_scale_auto_names_the_value_that_ruled_pixels_out(sc, tmp_path, good):
    lines = [pixels(i) for i in range(40)]
    values = lines[12].split(",")
    values[99] = "999"  # one stray value in a file of pixels
    files = bad_file(tmp_path, good, "train_images", [",".join(values) if i == 12 else line
                                                      for i, line in enumerate(lines)])
    said = []
    args = main_task.parse_args([files["train_images"], files["train_labels"], files["test_images"],
                                 files["test_labels"], str(tmp_path / "out"), "--epochs", "1"])
    summary = main_task.run(sc, args, log=said.append)
    assert summary["scaling"] == "standardize"
    assert (f"--scale auto: standardizing, not pixels, because of {files['train_images']}: line 13: value 999 "
            "(column 100), not a whole number in 0-255") in said


@pytest.mark.parametrize("hidden,message", [
    ("100000,100000", r"^the 784-100000-100000-10 network \(75\.10 GB a float64 copy of its weights\) needs about "
                      r"\d+\.\d GB in the driver and 2 tasks, this machine has \d+\.\d GB available; lower --hidden$"),
    ("4000,4000", r"^the 784-4000-4000-10 network \(0\.14 GB .*\) needs about 1\.\d GB in the driver's JVM \(its "
                  r"broadcast weights and the tasks' results\), its heap is \d\.\d GB; lower --hidden or raise "
                  r"spark-submit's --driver-memory$"),
])
def test_a_network_too_large_for_the_memory_is_one_line_before_loading(sc, tmp_path, good, hidden, message):
    files = dict(good, train_labels=write(tmp_path / "one-hot.csv", ["0 " * i + "1" + " 0" * (9 - i)
                                                                      for i in range(10)] * 4))
    said = []
    args = main_task.parse_args([files["train_images"], files["train_labels"], files["test_images"],
                                 files["test_labels"], str(tmp_path / "out"), "--hidden", hidden])
    with pytest.raises(DataError, match=message):
        main_task.run(sc, args, log=said.append)
    assert said == [] and not (tmp_path / "out").exists()


def test_a_truncated_or_false_gzip_file_is_one_line_naming_it(sc, tmp_path, good):
    import gzip
    data = "".join(pixels(i) + "\n" for i in range(2000)).encode()  # enough that half the stream is data
    packed = gzip.compress(data)
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.csv.gz").write_bytes(packed)
    (tmp_path / "parts" / "b.csv.gz").write_bytes(packed[:len(packed) // 2])  # cut short, as a copy that stopped
    labels = write(tmp_path / "labels.csv", [str(i % 10) for i in range(4000)])
    with pytest.raises(DataError, match=rf"^{tmp_path}/parts/b.csv.gz: cannot be read \(EOFException: Unexpected end "
                                        r"of input stream\); a compressed file cut short or corrupt\?$"):
        run_with(sc, {**good, "train_images": str(tmp_path / "parts"), "train_labels": labels}, tmp_path / "out")
    false = tmp_path / "labels.csv.gz"
    false.write_text("".join(f"{i % 10}\n" for i in range(40)))  # plain text under a .gz name
    with pytest.raises(DataError, match=rf"^{false}: cannot be read \(IOException: not a gzip file\)$"):
        run_with(sc, {**good, "train_labels": str(false)}, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["labels.csv", "labels.csv.gz", "parts"]


def test_help_gives_the_default_of_every_option_that_has_one():
    from rddnet import option_table
    parser = option_table.training_parser("main_task.py", "")
    helps = {action.option_strings[0][2:]: action.help for action in parser._actions if action.option_strings}
    for option in option_table.OPTIONS:
        if option.default is None or option.kind is bool or callable(option.default):
            continue
        assert f"(default: {option_table.shown(option.default)})" in helps[option.flag], option.flag
    for flag in ("l1", "l2", "dropout", "input-dropout", "min-delta"):  # zeros are defaults too
        assert helps[flag].endswith("(default: 0.0)"), helps[flag]
