#!/bin/sh
# Install a Debian package a test needs, as root with apt-get, or say why it is skipped.
#
#   sh tools/need.sh NAME 'CHECK' 'PACKAGES' 'PURPOSE'
#
# NAME is what a person calls it ("chromium"), CHECK a shell test that holds when it is
# installed, PACKAGES the apt-get arguments, PURPOSE what needs it ("the browser test of
# the report"). It never fails the build: without it, the tests that need it skip, and
# this says why (apt-get's own error lines when apt-get fails, such as a lock held).
name=$1 check=$2 packages=$3 purpose=$4
if eval "$check"; then
  exit 0
elif [ "$(id -u)" != 0 ]; then
  echo "note: $name is not installed and installing it needs root; $purpose will be skipped (as root: apt-get update && apt-get install -y $packages)"
elif ! command -v apt-get >/dev/null 2>&1; then
  echo "note: $name is not installed and there is no apt-get here; $purpose will be skipped"
else
  echo "installing $name for $purpose (apt-get)"
  log=$(mktemp)
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages; }
  install >"$log" 2>&1 || { apt-get update -q >>"$log" 2>&1 && install >>"$log" 2>&1; } \
    || { echo "note: apt-get could not install $name (its own words below); $purpose will be skipped"
         grep -E '^(E|W|Err):' "$log" | awk '!seen[$0]++' | tail -n 5 | sed 's/^/  apt-get: /'; }
  rm -f "$log"
fi
exit 0
