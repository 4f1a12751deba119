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
howto="install Debian's chromium package (apt-get install chromium) or Google Chrome, or set CHROMIUM to a Chromium binary"
. "$(dirname "$0")/lib/ensure.sh"

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

need_apt_root "Chromium (looked for chromium, chromium-browser, google-chrome on PATH and /usr/bin/chromium)"

echo "$me: no Chromium found; installing Debian's chromium package" >&2
apt_update
apt_candidate chromium
if ! apt_install chromium; then
	echo "$me: apt-get could not install chromium (no network or no such package?): $howto" >&2
	exit 1
fi

if find_chromium; then
	exit 0
fi
echo "$me: installed chromium but found no working binary: $howto" >&2
exit 1
