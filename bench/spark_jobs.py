"""The benchmark's runs of main_task.py: spark-submit with its options, the summary it writes,
and the CPU seconds and peak memory of each of its processes, by role (JVM, Python driver, Python
workers), read from /proc."""

import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPARK_SUBMIT = os.path.join(os.path.dirname(sys.executable), "spark-submit")


def step(text):
    """One progress line, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def role(command):
    """Which part of a Spark job a process is, from its command line (None: not ours, such as
    the spark-submit shell script, the short JVM that builds its command, or jspawnhelper)."""
    program = os.path.basename(command.split(" ")[0])
    if program == "java":
        return None if "org.apache.spark.launcher.Main" in command else "JVM (driver and executor)"
    if not program.startswith("python"):
        return None
    if "pyspark.daemon" in command or "pyspark/worker" in command or "pyspark.worker" in command:
        return "Python worker"
    return "Python driver" if "main_task.py" in command else None


def processes(root):
    """[(pid, role)] of ``root`` and every process under it that belongs to the job."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/cmdline") as f:
                kind = role(f.read().replace("\0", " "))
        except OSError:
            continue
        if kind:
            found.append((pid, kind))
    return found


def cpu_seconds(root):
    """{role: CPU seconds (user + system) used so far} over the job's processes."""
    tick, used = os.sysconf("SC_CLK_TCK"), {}
    for pid, kind in processes(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[kind] = used.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


class PeakMemory(threading.Thread):
    """Samples the peak resident memory (VmHWM) of a process and all it starts."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peaks, self.done = pid, {}, threading.Event()

    def run(self):
        while not self.done.wait(0.2):
            for pid, kind in processes(self.pid):
                try:
                    with open(f"/proc/{pid}/status") as f:
                        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) * 1024
                except (OSError, AttributeError):
                    continue
                self.peaks[pid] = (kind, max(hwm, self.peaks.get(pid, (kind, 0))[1]))

    def by_role(self):
        """{role: (largest single process, sum over processes)} in bytes."""
        roles = {}
        for kind, peak in self.peaks.values():
            largest, total = roles.get(kind, (0, 0))
            roles[kind] = (max(largest, peak), total + peak)
        return roles


def job(data, out, *options, master="local[2]", spark_options=(), memory=False, env=None):
    """Run main_task.py (in ``env``, default this process's environment); returns (its summary
    dict, wall seconds, PeakMemory or None).

    The summary gains "cpu_per_epoch": {role: CPU seconds per epoch}, counted from the end
    of the first epoch to the end of the last (so over the epochs the median is taken of).
    """
    command = [SPARK_SUBMIT, "--master", master, *spark_options, os.path.join(ROOT, "main_task.py"), *data, out,
               "--overwrite", *options]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    sampler = PeakMemory(process.pid) if memory else None
    if sampler:
        sampler.start()
    output, marks = [], []
    for line in process.stdout:  # the job prints a line as each epoch ends
        output.append(line)
        epoch = re.match(r"epoch\s+(\d+)/(\d+) ", line)
        if epoch and (epoch.group(1) == "1" or epoch.group(1) == epoch.group(2)):
            marks.append((int(epoch.group(1)), cpu_seconds(process.pid)))
    process.wait()
    output = "".join(output)
    wall = time.perf_counter() - started
    if sampler:
        sampler.done.set()
        sampler.join()
    if process.returncode:
        sys.exit(f"benchmark: job failed ({' '.join(command)}):\n{output[-3000:]}")
    with open(os.path.join(out, "summary", "part-00000")) as f:
        summary = json.load(f)
    if len(marks) == 2 and marks[1][0] > 1:
        (first, before), (last, after) = marks
        summary["cpu_per_epoch"] = {kind: (after[kind] - before.get(kind, 0.0)) / (last - first) for kind in after}
    return summary, wall, sampler
