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
howto="install Debian's prometheus package (apt-get install prometheus), or download promtool from https://prometheus.io/download/ and set PROMTOOL to it"
. "$(dirname "$0")/lib/ensure.sh"

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

need_apt_root "promtool (looked on PATH and /usr/bin/promtool)"

echo "$me: no promtool found; installing Debian's prometheus package" >&2
apt_update
apt_candidate prometheus

# Keep the install from starting the prometheus server: invoke-rc.d asks
# /usr/sbin/policy-rc.d, and 101 means "not allowed". An existing
# policy-rc.d is left as it is.
policy=/usr/sbin/policy-rc.d
made_policy=false
if [ ! -e "$policy" ] && $as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" 2>/dev/null; then
	made_policy=true
fi
apt_install --no-recommends prometheus
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
