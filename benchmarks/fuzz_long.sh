#!/usr/bin/env bash
# The long loader fuzzing and fault run: thousands of examples per loader (hypothesis profile "long")
# and 500 cancel points. Minutes to an hour on a 2-core CPU; CI runs the short "ci" profile.
#   benchmarks/fuzz_long.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
export HYPOTHESIS_PROFILE=long MOTION_IO_FUZZ_EXAMPLES=3000 FAULTS_CANCEL_POINTS=500
exec .venv/bin/python -m pytest -q -p no:cacheprovider \
    tests/core/test_fuzz_loaders.py tests/core/test_motion_io_fuzz.py \
    tests/core/test_faults_pipeline.py tests/core/test_faults_cli.py "$@"
