#!/bin/sh
# ensure-promtool.sh prints the path of a promtool (the Prometheus rule and
# config checker) and exits 0. It uses $PROMTOOL if set, else promtool on
# PATH or /usr/bin/promtool. If there is none and it can (root or
# passwordless sudo, and apt-get), it installs Debian's prometheus package
# non-interactively, which ships promtool, then prints its path. The
# package's prometheus server is not started by the install (a policy-rc.d
# refuses it for the length of the install) and is disabled if systemd
# runs. Otherwise it exits 1 saying what to install.
#
# Only the path goes to stdout; apt-get's output and messages go to stderr.
#
# Used by cmd/liege's TestAlertRules (promtool check rules and test rules
# on deploy/prometheus) and by .ci/run; also usable by hand:
#   "$(scripts/ensure-promtool.sh)" test rules deploy/prometheus/liege-rules_test.yml

set -u

me=ensure-promtool.sh

# works tells whether $1 is an executable that answers --version.
works() {
	[ -n "$1" ] && [ -x "$1" ] || return 1
	if command -v timeout >/dev/null 2>&1; then
		timeout 30 "$1" --version >/dev/null 2>&1
	else
		"$1" --version >/dev/null 2>&1
	fi
}

find_promtool() {
	if [ -n "${PROMTOOL:-}" ]; then
		if works "$PROMTOOL"; then
			echo "$PROMTOOL"
			return 0
		fi
		echo "$me: \$PROMTOOL=$PROMTOOL does not run; looking elsewhere" >&2
	fi
	if p=$(command -v promtool 2>/dev/null) && works "$p"; then
		echo "$p"
		return 0
	fi
	if works /usr/bin/promtool; then
		echo /usr/bin/promtool
		return 0
	fi
	return 1
}

if find_promtool; then
	exit 0
fi

howto="install Debian's prometheus package (apt-get install prometheus), or download promtool from https://prometheus.io/download/ and set PROMTOOL to it"

if ! command -v apt-get >/dev/null 2>&1; then
	echo "$me: no promtool found (looked on PATH and /usr/bin/promtool) and no apt-get to install one: $howto" >&2
	exit 1
fi

if [ "$(id -u)" = 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
	as_root="sudo -n"
else
	echo "$me: no promtool found and not root (nor passwordless sudo) to install it: $howto" >&2
	exit 1
fi

echo "$me: no promtool found; installing Debian's prometheus package" >&2
$as_root apt-get update -qq >&2 || echo "$me: apt-get update failed; trying the package lists at hand" >&2
if ! $as_root apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	echo "$me: apt knows no prometheus package to install: $howto" >&2
	exit 1
fi

# Keep the install from starting the prometheus server: invoke-rc.d asks
# /usr/sbin/policy-rc.d, and 101 means "not allowed". An existing
# policy-rc.d is left as it is.
policy=/usr/sbin/policy-rc.d
made_policy=false
if [ ! -e "$policy" ] && $as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" 2>/dev/null; then
	made_policy=true
fi
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
status=$?
if $made_policy; then
	$as_root rm -f "$policy"
fi
if [ "$status" != 0 ]; then
	echo "$me: apt-get could not install prometheus (no network?): $howto" >&2
	exit 1
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

if find_promtool; then
	exit 0
fi
echo "$me: installed prometheus but found no working promtool: $howto" >&2
exit 1
