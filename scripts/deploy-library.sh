#!/usr/bin/env bash
# The article's deploy-library script, now one line: build the libraries and upload the master copies.
#   scripts/deploy-library.sh [--dry-run]
set -euo pipefail
cd "$(dirname "$0")/.." && exec invoke upload-lib --master "$@"
