#!/usr/bin/env bash
# make test: the suite on Spark 4 (PYTHON_4's environment) and, at the same time, the tests marked
# spark35 on Spark 3.5 (PYTHON_35's), with those marked other_run, which run there only. Most of a test's time is spent waiting on JVMs and
# Spark's scheduling rather than computing, so the two runs side by side on two cores take little
# longer than the Spark 4 run alone. The Spark 3.5 run's report follows the Spark 4 run's; the
# exit status is non-zero if either failed.
#
#     tools/run_tests.sh PYTHON_4 PYTHON_35 [pytest options]
set -u
python4=$1 python35=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The class archive holds Spark 4's classes, so the Spark 3.5 run goes without it.
# Tests marked other_run (no Spark, long) run in the Spark 3.5 run only: it has time to spare.
SPARK_SUBMIT_OPTS=-XX:TieredStopAtLevel=1 "$python35" -m pytest -q -m "spark35 or other_run" -p no:cacheprovider \
    --basetemp="$work/spark35" "$@" >"$work/spark35.log" 2>&1 &
spark35=$!
"$python4" -m pytest -q -m "not other_run" "$@"
status4=$?
echo "waiting for the Spark 3.5 run ..."
wait $spark35
status35=$?
echo "--- the tests marked spark35, on Spark 3.5:"
cat "$work/spark35.log"
exit $((status4 || status35))
