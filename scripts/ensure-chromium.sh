#!/bin/sh
# ensure-chromium.sh prints the path of a Chromium that can run headless
# and exits 0. It uses $CHROMIUM if set, else the first of chromium,
# chromium-browser, google-chrome (and google-chrome-stable) on PATH or
# /usr/bin/chromium that answers --version. If there is none and it can
# (root or passwordless sudo, and apt-get), it installs Debian's chromium
# package non-interactively, then prints its path. Otherwise it exits 1
# saying what to install.
#
# Only the path goes to stdout; apt-get's output and messages go to stderr.
#
# Used by internal/inject's TestReportHTMLInChromium; also usable by hand:
#   "$(scripts/ensure-chromium.sh)" --headless --dump-dom file:///tmp/report.html

set -u

me=ensure-chromium.sh

# works tells whether $1 is an executable that answers --version.
works() {
	[ -n "$1" ] && [ -x "$1" ] || return 1
	if command -v timeout >/dev/null 2>&1; then
		timeout 30 "$1" --version >/dev/null 2>&1
	else
		"$1" --version >/dev/null 2>&1
	fi
}

find_chromium() {
	if [ -n "${CHROMIUM:-}" ]; then
		if works "$CHROMIUM"; then
			echo "$CHROMIUM"
			return 0
		fi
		echo "$me: \$CHROMIUM=$CHROMIUM does not run; looking elsewhere" >&2
	fi
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		p=$(command -v "$name" 2>/dev/null) || continue
		if works "$p"; then
			echo "$p"
			return 0
		fi
	done
	for p in /usr/bin/chromium /usr/lib/chromium/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
		if works "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

if find_chromium; then
	exit 0
fi

howto="install Debian's chromium package (apt-get install chromium) or Google Chrome, or set CHROMIUM to a Chromium binary"

if ! command -v apt-get >/dev/null 2>&1; then
	echo "$me: no Chromium found (looked for chromium, chromium-browser, google-chrome on PATH and /usr/bin/chromium) and no apt-get to install one: $howto" >&2
	exit 1
fi

if [ "$(id -u)" = 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
	as_root="sudo -n"
else
	echo "$me: no Chromium found and not root (nor passwordless sudo) to install it: $howto" >&2
	exit 1
fi

echo "$me: no Chromium found; installing Debian's chromium package" >&2
if ! $as_root apt-get update -qq >&2 ||
	! $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; then
	echo "$me: apt-get could not install chromium (no network or no such package?): $howto" >&2
	exit 1
fi

if find_chromium; then
	exit 0
fi
echo "$me: installed chromium but found no working binary: $howto" >&2
exit 1
