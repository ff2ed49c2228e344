"""The single-file build's tests run against a built binary: ``.ci/run`` builds it with
``make dist`` after ``make test`` and runs them with ``ENGINE_DIST_BINARY=dist/engine``.
Without that variable they are not collected (``make test`` does not build)."""

import os

collect_ignore_glob = [] if os.environ.get("ENGINE_DIST_BINARY") else ["test_*.py"]
