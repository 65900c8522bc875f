#!/usr/bin/env bash
# Runs a command where Qt and vispy can draw: under Xvfb with the xcb platform. Xvfb and the xcb
# libraries Qt needs beyond the base image are installed with apt-get when missing (as root).
# Without them (not root, no network) it falls back to Qt's offscreen platform and says so;
# widget tests still run there, OpenGL tests skip.
set -euo pipefail
PACKAGES="xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0"

missing() {
    command -v xvfb-run >/dev/null 2>&1 || return 0
    dpkg -s $PACKAGES >/dev/null 2>&1 || return 0
    return 1
}

if missing && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "with_display: installing $PACKAGES" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq $PACKAGES >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $PACKAGES >/dev/null; }
fi

if command -v xvfb-run >/dev/null 2>&1; then
    QT_QPA_PLATFORM=xcb exec xvfb-run -a -s "-screen 0 1600x1000x24" "$@"
fi
echo "with_display: no Xvfb here; using Qt's offscreen platform (OpenGL views will not draw)" >&2
QT_QPA_PLATFORM=offscreen exec "$@"
