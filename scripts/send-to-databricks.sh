#!/usr/bin/env bash
# The article's send-to-databricks script, now one line: push the working copy into the branch's folder.
#   scripts/send-to-databricks.sh BI-4811 [--env joe] [--prune]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BRANCH [invoke checkout flags]" >&2; exit 2; }
cd "$(dirname "$0")/.." && exec invoke checkout-branch "$@"
