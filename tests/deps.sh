#!/bin/sh
# Install the Debian packages listed in tests/debian-packages.txt that are missing.
# As root it runs apt-get; otherwise it names the command to run and fails.
set -eu
here=$(dirname "$0")
missing=""
for p in $(grep -v '^#' "$here/debian-packages.txt"); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root: apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
