# Sourced by scripts/ensure-*.sh: `apt_install WHO PACKAGE...` installs Debian packages without
# their recommended extras, with sudo unless root (CI runs as root), apt's chatter kept in a log
# that is shown only if something fails. Returns 2, installing nothing, when there is no apt-get.

apt_install() {
    local who=$1
    shift
    command -v apt-get >/dev/null || return 2
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        sudo=(sudo)
    fi
    local log
    log=$(mktemp)
    local args
    for args in "update -qq" "install -y -qq --no-install-recommends $*"; do
        # shellcheck disable=SC2086  # the words of $args are apt-get's arguments
        if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get $args >>"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            echo "$who: apt-get $args failed" >&2
            exit 1
        fi
    done
    rm -f "$log"
}
