#!/usr/bin/env bash
# Make the execution engines the test suite runs for real available on this machine:
#   - docker: dockerd answering on DOCKER_HOST (default unix:///var/run/docker.sock) and the local
#     test image regatta/busybox:test, built from busybox-static with `docker import`;
#   - bubblewrap, for the local engine's sandbox.
# Installs docker.io, busybox-static and bubblewrap with apt when missing, starts dockerd detached
# when `docker info` fails, and builds the image only when it is absent. No registry is reachable
# from the machines this runs on, so nothing is ever pulled. Idempotent, and quick when all is there.
# Exits non-zero with the reason (the tail of dockerd's log) when dockerd cannot start.
set -euo pipefail

TEST_IMAGE="${REGATTA_TEST_IMAGE:-regatta/busybox:test}"
STATE_DIR="${REGATTA_DOCKERD_DIR:-/var/lib/regatta-dockerd}"
DOCKERD_LOG="$STATE_DIR/dockerd.log"
DOCKERD_PID="$STATE_DIR/dockerd.pid"
DEFAULT_SOCKET="unix:///var/run/docker.sock"
START_TIMEOUT_SECONDS=30

say() { echo "ensure-engines: $*"; }
fail() { echo "ensure-engines: $*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  say "installing $* with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# /usr/local/bin/docker may be an old client with no daemon: what says docker is installed is
# dockerd, and busybox-static is what the test image is made of.
ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

docker_answers() { as_root docker info >/dev/null 2>&1; }

# Any dockerd on the machine counts, ours (pid file) or not: a second one would only fail on
# /var/run/docker.pid and hide the first one's reason.
dockerd_running() { pgrep -x dockerd >/dev/null; }

start_dockerd() {
  if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$DEFAULT_SOCKET" ]; then
    fail "docker at DOCKER_HOST=$DOCKER_HOST does not answer (it is not ours to start): $(as_root docker info 2>&1 | tail -n 3)"
  fi
  as_root mkdir -p "$STATE_DIR"
  # The log is kept across starts: on failure, show only what this start wrote.
  local log_start
  log_start=$(as_root stat -c %s "$DOCKERD_LOG" 2>/dev/null || echo 0)
  if ! dockerd_running; then
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid + nohup: the daemon leaves this shell's session and process group, so it outlives
    # `make test` (and whatever stops that run) and the next run finds it up. It must not inherit
    # the lock (fd 9), or it would hold it for as long as it lives.
    as_root bash -c "setsid nohup dockerd >>'$DOCKERD_LOG' 2>&1 </dev/null 9>&- & echo \$! >'$DOCKERD_PID'"
  fi
  for _ in $(seq 1 $((START_TIMEOUT_SECONDS * 2))); do
    docker_answers && return 0
    dockerd_running || break
    sleep 0.5
  done
  echo "ensure-engines: dockerd did not come up; the end of $DOCKERD_LOG:" >&2
  as_root tail -c +"$((log_start + 1))" "$DOCKERD_LOG" | tail -n 20 >&2 || true
  exit 1
}

# A busybox rootfs: every applet symlinked in /bin, except `bash` (busybox's sh is not bash, and an
# image that claims bash must have it: the docker engine picks the shell by the `shell` option).
build_test_image() {
  local work
  work=$(mktemp -d)
  local root="$work/rootfs"
  mkdir -p "$root"/{bin,tmp,proc,sys,dev,etc,home}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    case "$applet" in busybox | bash) continue ;; esac
    ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$work/rootfs.tar" .
  say "building $TEST_IMAGE with docker import"
  as_root docker import \
    --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
    --message "regatta test image: busybox-static $(/bin/busybox | head -n 1 | cut -d' ' -f2)" \
    "$work/rootfs.tar" "$TEST_IMAGE" >/dev/null
  rm -rf "$work"
}

ensure_test_image() {
  as_root docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 || build_test_image
}

main() {
  # Several runs may start at once (make test in parallel worktrees): one installs and starts,
  # the others wait for it and then find everything there.
  as_root mkdir -p "$STATE_DIR"
  [ -e "$STATE_DIR/ensure.lock" ] || as_root install -m 666 /dev/null "$STATE_DIR/ensure.lock"
  exec 9>"$STATE_DIR/ensure.lock"
  flock 9
  ensure_packages
  docker_answers || start_dockerd
  ensure_test_image
  say "docker answers and $TEST_IMAGE exists; bubblewrap is installed"
}

main "$@"
