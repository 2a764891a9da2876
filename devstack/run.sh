#!/usr/bin/env bash
# `make run`: the embedded stack, the producer and the consumer together, each line of output
# prefixed with the name of the process that wrote it. Ctrl-C (or SIGTERM to this script) stops
# all of them; so does any one of them exiting.
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/ ./cmd/producer ./cmd/consumer ./devstack

tmp=$(mktemp -d)
pids=()
stopping=
cleanup() {
  [[ -n $stopping ]] && return
  stopping=1
  trap - INT TERM
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# prefix NAME [READY_FILE]: prefixes lines; touches READY_FILE when the stack says it is ready.
prefix() {
  local line
  while IFS= read -r line; do
    printf '%-9s| %s\n' "$1" "$line"
    if [[ -n ${2:-} && $line == "devstack ready"* ]]; then : >"$2"; fi
  done
}

# Process substitution rather than a pipe, so that $! is the program itself, not the prefixer.
bin/devstack > >(prefix devstack "$tmp/ready") 2>&1 &
pids+=($!)
for _ in $(seq 600); do
  [[ -e $tmp/ready ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the dev stack failed to start" >&2; exit 1; }
  sleep 0.1
done
[[ -e $tmp/ready ]] || { echo "the dev stack was not ready within 60s" >&2; exit 1; }

export DDB_HOST=${DDB_HOST:-http://localhost:4566}
bin/consumer > >(prefix consumer) 2>&1 &
pids+=($!)
bin/producer > >(prefix producer) 2>&1 &
pids+=($!)

# Wait until both services answer before saying so.
for port in 3000 3001; do
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done

[[ -n ${API_TOKENS:-}${API_TOKENS_FILE:-} ]] && echo "Authentication is ON: POST needs -H 'Authorization: Bearer <token>'" || echo "Authentication is OFF: anyone who reaches :3000 can write (set API_TOKENS or API_TOKENS_FILE)"
cat <<'MSG'

Everything is up. Try it:

  curl -i -X POST localhost:3000/patientprofile -H 'Content-Type: application/json' \
    -d '{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}'

  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
    aws dynamodb scan --endpoint-url=http://localhost:4566 --table-name patient-profile

Ctrl-C stops everything.

MSG

# Any one exiting (or a signal) ends the whole run.
set +e
wait -n "${pids[@]}"
status=$?
exit "$status"
