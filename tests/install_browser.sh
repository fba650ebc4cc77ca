#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests and poppler-utils (pdftotext, for the report's PDF test,
# tests/test_report_pdf.py) when either is missing (needs root, as on CI).
# playwright's own browser download does not work on these machines; the tests drive /usr/bin/chromium.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium or pdftotext is missing and this is not root: install them with" >&2
  echo "'sudo apt-get install -y chromium poppler-utils'" >&2
  echo "(the browser and PDF tests will be skipped without them)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium poppler-utils >/dev/null 2>&1 \
  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium poppler-utils >/dev/null; }
chromium --version
pdftotext -v 2>&1 | head -1
