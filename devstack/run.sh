#!/usr/bin/env bash
# `make run`: the embedded stack, the producer and the consumer together, each line of output
# prefixed with the name of the process that wrote it. Ctrl-C (SIGINT to the whole process group,
# as a terminal sends it) or SIGTERM to this script stops all of them gracefully, and exits 0 if
# each stopped cleanly; so does any one of them exiting, with its status.
#
# Ports (defaults as the services and the README have them):
#   KAFKA_PORT=9092 DDB_PORT=4566 PRODUCER_PORT=3000 CONSUMER_PORT=3001
# Every other variable is passed on to the services as it is (see `bin/producer -h`).
set -euo pipefail
cd "$(dirname "$0")/.."

kafka_port=${KAFKA_PORT:-9092}
ddb_port=${DDB_PORT:-4566}
producer_port=${PRODUCER_PORT:-3000}
consumer_port=${CONSUMER_PORT:-3001}

go build -o bin/ ./cmd/producer ./cmd/consumer ./devstack

tmp=$(mktemp -d)
names=() pids=() prefixers=()
stopping=

# prefix NAME: prefixes each line read from $tmp/NAME.fifo, and keeps the latest one in
# $tmp/NAME.last until everything is up, to say why a process did not start. It ignores INT and
# TERM and ends at EOF, when its process has exited: the process must be able to write its last
# lines while it stops (a prefixer that died first used to kill it with SIGPIPE).
prefix() {
  trap '' INT TERM
  local line
  while IFS= read -r line; do
    printf '%-9s| %s\n' "$1" "$line"
    if [[ ! -e $tmp/up ]]; then
      printf '%s\n' "$line" >"$tmp/$1.last"
      if [[ $1 == devstack && $line == "devstack ready"* ]]; then : >"$tmp/ready"; fi
    fi
  done <"$tmp/$1.fifo"
}

# launch NAME COMMAND...: starts COMMAND with its output through a prefixer.
launch() {
  local name=$1
  shift
  mkfifo "$tmp/$name.fifo"
  prefix "$name" &
  prefixers+=($!)
  "$@" </dev/null >"$tmp/$name.fifo" 2>&1 &
  names+=("$name")
  pids+=($!)
}

# stop PID: SIGTERM, then up to 15 s (SHUTDOWN_TIMEOUT is 10 s by default) before SIGKILL. It
# returns the process's exit status, or 0 if it had already exited (and been reported).
stop() {
  if ! kill -TERM "$1" 2>/dev/null; then
    wait "$1" 2>/dev/null || true
    return 0
  fi
  for _ in $(seq 150); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  local status=0
  wait "$1" 2>/dev/null || status=$?
  return "$status"
}

# stop_all stops the services before the stack they need: the consumer's final commit and its
# leaving the group go to the broker. It returns non-zero if any stopped badly.
stop_all() {
  [[ -n $stopping ]] && return 0
  stopping=1
  trap '' INT TERM
  local i failed=0
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop "${pids[i]}" || { echo "${names[i]} exited with status $?" >&2; failed=1; }
  done
  # The prefixers end once their process has closed its output; wait so that the last lines are
  # printed before the prompt comes back.
  wait "${prefixers[@]}" 2>/dev/null || true
  rm -rf "$tmp"
  return "$failed"
}
trap 'stop_all || true' EXIT
trap 'stop_all && exit 0 || exit 1' INT TERM HUP

# failed NAME INDEX WHAT: says that a process did not come up, and why, and ends the run.
failed() {
  local status=running
  if ! kill -0 "${pids[$2]}" 2>/dev/null; then
    status=0
    wait "${pids[$2]}" 2>/dev/null || status=$?
    status="exited with status $status"
    # Its prefixer has seen the last line once it reaches EOF.
    wait "${prefixers[$2]}" 2>/dev/null || true
  fi
  echo >&2
  echo "$1 $3 ($status). Its last line:" >&2
  echo "  $(cat "$tmp/$1.last" 2>/dev/null || echo '(none)')" >&2
  exit 1
}

# healthy PORT: the process on PORT answers GET /healthz with 200.
healthy() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    IFS= read -r -t 2 status <&3
    [[ $status == HTTP/1.?" 200"* ]]
  ) 2>/dev/null
}

# Its own session, so that a Ctrl-C meant for the group does not stop the stack under the
# services while they still commit and flush: stop_all stops it last.
launch devstack setsid env KAFKA_PORT="$kafka_port" DDB_PORT="$ddb_port" bin/devstack
for _ in $(seq 600); do
  [[ -e $tmp/ready ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || break
  sleep 0.1
done
[[ -e $tmp/ready ]] || failed devstack 0 "did not say it was ready"

export KAFKA_BROKERS=${KAFKA_BROKERS:-localhost:$kafka_port}
export DDB_HOST=${DDB_HOST:-http://localhost:$ddb_port}
launch consumer env SERVER_PORT="$consumer_port" bin/consumer
launch producer env SERVER_PORT="$producer_port" bin/producer

# Say that everything is up only once each service answers its /healthz, itself: a service that
# could not listen (its port taken) may leave another process answering there, so it must still
# be running too.
ports=(- "$consumer_port" "$producer_port")
for i in 1 2; do
  for _ in $(seq 300); do
    kill -0 "${pids[i]}" 2>/dev/null || failed "${names[i]}" "$i" "did not start"
    healthy "${ports[i]}" && break
    sleep 0.1
  done
  healthy "${ports[i]}" || failed "${names[i]}" "$i" "did not answer /healthz on port ${ports[i]} within 30s"
done
for i in "${!pids[@]}"; do
  kill -0 "${pids[i]}" 2>/dev/null || failed "${names[i]}" "$i" "did not start"
done
: >"$tmp/up"

if [[ -n ${API_TOKENS:-}${API_TOKENS_FILE:-} ]]; then
  auth="Authentication is ON: POST needs -H 'Authorization: Bearer <token>'"
else
  auth="Authentication is OFF: anyone who reaches :$producer_port can write (set API_TOKENS or API_TOKENS_FILE)"
fi
cat <<MSG

Everything is up. $auth
Try it:

  curl -i -X POST localhost:$producer_port/patientprofile -H 'Content-Type: application/json' \\
    -d '{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}'

  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \\
    aws dynamodb scan --endpoint-url=http://localhost:$ddb_port --table-name patient-profile

Ctrl-C stops everything.

MSG

# Any one exiting ends the whole run, with its status; a signal ends it through the trap.
set +e
wait -n "${pids[@]}"
status=$?
for i in "${!pids[@]}"; do
  kill -0 "${pids[i]}" 2>/dev/null || echo "${names[i]} exited with status $status; stopping the others" >&2
done
stop_all
exit "$status"
