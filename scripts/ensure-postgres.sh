#!/usr/bin/env bash
# Makes sure PostgreSQL's server programs (initdb, pg_ctl) are installed: the PostgreSQL
# catalog tests start a throwaway server of their own from them (tests/e2e/postgres.py).
# Idempotent: when they are there it changes nothing. Otherwise it installs Debian's
# `postgresql` package and stops the cluster the package starts, which the tests never use.
# `make test` runs it first, so CI (root, clean machine) and newcomers need no extra step.
set -euo pipefail

# The same places tests/e2e/postgres.py looks: Debian's versioned folders, then PATH.
server_bin() {
    local dir
    while read -r dir; do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return 0
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

if dir=$(server_bin); then
    echo "ensure-postgres: PostgreSQL server found in $dir"
    exit 0
fi

source "$(dirname "$0")/apt-install.sh"
apt_install ensure-postgres postgresql || {
    echo "ensure-postgres: no initdb/pg_ctl and no apt-get: install the PostgreSQL server" \
        "(e.g. 'brew install postgresql', then put its bin folder on PATH)" >&2
    exit 1
}
# CI runs as root; elsewhere pg_ctlcluster needs sudo.
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
fi

# The package creates a `main` cluster on port 5432 and may start it; the tests start their
# own server on a free port, so stop Debian's rather than leave a server running for nothing.
if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header | while read -r version name _port status _rest; do
        if [[ $status == online* ]]; then
            "${sudo[@]}" pg_ctlcluster "$version" "$name" stop
        fi
    done
fi

dir=$(server_bin) || {
    echo "ensure-postgres: installed postgresql but found no initdb/pg_ctl" >&2
    exit 1
}
echo "ensure-postgres: installed Debian's postgresql (server in $dir; its default cluster not running)"
