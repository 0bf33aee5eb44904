#!/usr/bin/env bash
# `make run`: the whole relay on this machine, no Docker, no AWS account.
# moto (S3 + SQS) and cargo-lambda's emulator on 127.0.0.1, the sample webhooks posted to the
# local function URL, what arrived printed; then it keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

MOTO_PORT="${MOTO_PORT:-5055}"
RELAY_PORT="${RELAY_PORT:-9000}"
SECRET="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" # MILLICAST.md's test secret
BUCKET="relay-local"
URL="http://127.0.0.1:${RELAY_PORT}/lambda-url/webhook-relay/"
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

pids=()
stop() {
  trap - EXIT INT TERM
  echo
  echo "stopping (pids ${pids[*]:-none})"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

wait_port() { # port, what
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.2
  done
  echo "$2 did not start on 127.0.0.1:$1" >&2
  exit 1
}

echo "== building relayctl"
cargo build --quiet --features cli --bin relayctl
RELAYCTL=target/debug/relayctl

echo "== moto (S3 + SQS) on 127.0.0.1:${MOTO_PORT}"
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/tmp/relay-local-moto.log 2>&1 </dev/null &
pids+=($!)
wait_port "$MOTO_PORT" moto
QUEUE_URL=$(python scripts/local_aws.py setup "$BUCKET" relay-local-events)
echo "bucket ${BUCKET}, queue ${QUEUE_URL}"

LOG=/tmp/relay-local.log
echo "== relay under cargo lambda watch on 127.0.0.1:${RELAY_PORT} (logs: tail -f ${LOG})"
# REPLAY_WINDOW_SECONDS=0 so that the fixed-time files of events/ can be invoked too.
cargo lambda watch -A 127.0.0.1 -P "$RELAY_PORT" \
  --env-var "WEBHOOK_SECRET=${SECRET}" \
  --env-var "THUMBNAIL_BUCKET=${BUCKET}" \
  --env-var "EVENT_QUEUE_URL=${QUEUE_URL}" \
  --env-var "REPLAY_WINDOW_SECONDS=0" \
  --env-var "AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL}" \
  --env-var "AWS_REGION=us-east-1" \
  --env-var "AWS_ACCESS_KEY_ID=test" \
  --env-var "AWS_SECRET_ACCESS_KEY=test" >"$LOG" 2>&1 &
pids+=($!)
wait_port "$RELAY_PORT" "cargo lambda watch"

echo "== posting the sample webhooks to ${URL}"
for event in $("$RELAYCTL" send --url "$URL" --secret "$SECRET" --list); do
  printf '%-26s ' "$event"
  # The first request waits for cargo lambda to build and start the function.
  "$RELAYCTL" send --url "$URL" --secret "$SECRET" "$event" || true
done
printf '%-26s ' "wrong secret"
"$RELAYCTL" send --url "$URL" --secret c29tZWJvZHktZWxzZXMtc2VjcmV0 feeds-started 2>/dev/null || true

echo "== what arrived"
python scripts/local_aws.py show "$BUCKET" "$QUEUE_URL"

cat <<MSG

== the relay keeps running; try it:
  target/debug/relayctl send --url ${URL} --secret ${SECRET} media-completed
  cargo lambda invoke -A 127.0.0.1 -P ${RELAY_PORT} --data-file events/thumbnail.json webhook-relay
  body='{"type":"feeds","event":"started","timestamp":'\$(date +%s%3N)',"data":{"streamId":"acct/stream"}}'
  curl -s -H 'content-type: application/json' \\
    -H "x-millicast-signature: \$(printf %s "\$body" | target/debug/relayctl sign --secret ${SECRET})" \\
    -d "\$body" ${URL}
  AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL} .venv/bin/python scripts/local_aws.py show ${BUCKET} ${QUEUE_URL}
Ctrl-C stops everything.
MSG
wait
