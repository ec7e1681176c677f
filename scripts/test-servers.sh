#!/usr/bin/env bash
# Run by `npm test` before any test: the servers the tests start on loopback must be installed.
# redis-server (rate-limiting), slapd with ldap-utils and openssl (ldap-auth). Installs Debian's packages when
# it can (as root, or with passwordless sudo); otherwise stops at once with the one command to run.
set -euo pipefail

# On the PATH, or in /usr/sbin (slapd's place, off a user's PATH).
found() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing_packages() {
  local out=()
  found redis-server || out+=(redis-server)
  found slapd || out+=(slapd)
  found ldappasswd || out+=(ldap-utils)
  found openssl || out+=(openssl)
  echo "${out[@]+"${out[@]}"}"
}

missing=$(missing_packages)
[ -z "$missing" ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root=(sudo -n); else as_root=(false); fi
  fi
  if [ "${as_root[*]-}" != false ]; then
    echo "installing the servers the tests need: $missing" >&2
    # shellcheck disable=SC2086
    "${as_root[@]+"${as_root[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      "${as_root[@]+"${as_root[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || true
    missing=$(missing_packages)
    [ -z "$missing" ] && exit 0
  fi
fi

echo "The tests need servers that are not installed: $missing" >&2
echo "Install them, then run npm test again:" >&2
echo "  sudo apt-get install -y $missing" >&2
exit 1
