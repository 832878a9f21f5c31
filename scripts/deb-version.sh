#!/bin/sh
# Prints the Debian package version for a `git describe` version ($1):
# v1.2.0 -> 1.2.0; v1.2.0-3-gabc1234-dirty -> 1.2.0.3.gabc1234.dirty;
# without a tag, 0~gitYYYYMMDD.HASH (the last commit's date), so that a
# later tag (0.x, 1.x) sorts after any untagged build.
set -eu
v=${1:?usage: deb-version.sh GIT-DESCRIBE-VERSION}
case $v in
v[0-9]* | [0-9]*.*) echo "${v#v}" | tr - . ;;
*) echo "0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$v" | tr - . ;;
esac
