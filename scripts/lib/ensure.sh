# scripts/lib/ensure.sh: what the scripts/ensure-*.sh installers share.
# Source it after setting me (the script's name, for messages) and howto
# (what a person does when the script cannot install the tool itself).
# POSIX sh; messages go to stderr.

# works tells whether $1 is an executable that answers --version (within
# 30 s where timeout(1) exists).
works() {
	[ -n "$1" ] && [ -x "$1" ] || return 1
	if command -v timeout >/dev/null 2>&1; then
		timeout 30 "$1" --version >/dev/null 2>&1
	else
		"$1" --version >/dev/null 2>&1
	fi
}

# need_apt_root sets as_root to "" (root) or "sudo -n" (passwordless
# sudo), or exits 1 naming $1 (what is missing) and $howto when this
# process cannot run apt-get as root.
need_apt_root() {
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "$me: no $1 found and no apt-get to install it: $howto" >&2
		exit 1
	fi
	if [ "$(id -u)" = 0 ]; then
		as_root=""
	elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
		as_root="sudo -n"
	else
		echo "$me: no $1 found and not root (nor passwordless sudo) to install it: $howto" >&2
		exit 1
	fi
}

# apt_update refreshes the package lists; where that fails (no network)
# it goes on with the lists at hand.
apt_update() {
	$as_root apt-get update -qq >&2 || echo "$me: apt-get update failed; trying the package lists at hand" >&2
}

# apt_candidate exits 1 with $howto unless apt knows a package $1 to
# install.
apt_candidate() {
	if ! $as_root apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
		echo "$me: apt knows no $1 package to install: $howto" >&2
		exit 1
	fi
}

# apt_install installs the packages given, non-interactively, without
# recommends when the first argument is --no-recommends.
apt_install() {
	if [ "$1" = --no-recommends ]; then
		shift
		$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
	else
		$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
	fi
}
