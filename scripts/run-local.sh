#!/usr/bin/env bash
# `make run`: the whole relay's life on this machine, no Docker, no AWS account.
# Local AWS (moto: S3, SQS, Secrets Manager, CloudFormation), the local platform
# (scripts/local_platform.py) and the relay under cargo-lambda's emulator, all on 127.0.0.1.
# Then, as a user would: relayctl register --stack (the account-wide webhook, then a second one
# for the cameras' thumbnails beside it) → traffic → what arrived, by webhook; a renewal from the
# "dashboard" with secret set + quarantine replay; relayctl rotate while traffic flows; every
# delivery checked. With BUS=1 the event bus output is on (as EventBus=create with the example
# rules), and at the end `relayctl history replay` sends the last minutes' recordings again. Then
# relayctl wall (every stream's newest frame in a browser) while two streams keep publishing. It
# keeps serving until Ctrl-C, which stops what it started (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

MOTO_PORT="${MOTO_PORT:-5055}"
RELAY_PORT="${RELAY_PORT:-9000}"
PLATFORM_PORT="${PLATFORM_PORT:-7070}"
WALL_PORT="${WALL_PORT:-8130}"
INSTANCES="${INSTANCES:-2}"
STACK="relay-local"
URL="http://127.0.0.1:${RELAY_PORT}/lambda-url/_/"
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export MILLICAST_API_URL="http://127.0.0.1:${PLATFORM_PORT}" MILLICAST_API_SECRET=local-api-secret
export RELAY_STACK="$STACK"
PLATFORM="$MILLICAST_API_URL"

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

# The account-wide webhook gets every stream; the cameras' webhook the cam-* ones.
STREAMS='["live-main","cam-1","studio-a"]'

traffic() { # count, rate: streams realistic deliveries and waits until all are made
  local id
  id=$(curl -sf -X POST "$PLATFORM/_local/traffic" -d "{\"count\":$1,\"rate\":$2,\"streams\":$STREAMS}" | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  until curl -sf "$PLATFORM/_local/traffic/$id" | python -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["done"] else 1)'; do sleep 0.5; done
  curl -sf "$PLATFORM/_local/traffic/$id" \
    | python -c 'import json,sys; d=json.load(sys.stdin); print("platform: %d deliveries at %.0f/s, answers %s" % (d["sent"], d["rate"], d["statuses"]))'
}

echo "== building the relay and relayctl"
# The same features as `make test` builds with (dev-dependencies included), so that a run after
# the tests reuses their build instead of compiling everything again.
cargo build --quiet --features cli --all-targets
RELAYCTL=target/debug/relayctl

echo "== local AWS (moto) on 127.0.0.1:${MOTO_PORT}, local platform on 127.0.0.1:${PLATFORM_PORT}"
python scripts/moto_server.py "$MOTO_PORT" --ignore-stdin >/dev/null 2>/tmp/relay-local-moto.log </dev/null &
pids+=($!)
python scripts/local_platform.py --port "$PLATFORM_PORT" --ignore-stdin >/dev/null 2>/tmp/relay-local-platform.log </dev/null &
pids+=($!)
wait_port "$MOTO_PORT" moto
wait_port "$PLATFORM_PORT" "the local platform"
BUS_FLAG=()
[ "${BUS:-}" = 1 ] && BUS_FLAG=(--bus)
read -r BUCKET QUEUE_URL SECRET_ARN BUS_NAME < <(python scripts/local_aws.py setup "$STACK" "$URL" "${BUS_FLAG[@]}")
echo "stack ${STACK}: bucket ${BUCKET}, queue ${QUEUE_URL}, secret ${SECRET_ARN##*:}, event bus ${BUS_NAME}"
BUS_ENV=()
[ "$BUS_NAME" != - ] && BUS_ENV=(EVENT_BUS_NAME="$BUS_NAME")

LOG=/tmp/relay-local.log
echo "== the relay: ${INSTANCES} instance(s) under cargo lambda's emulator on 127.0.0.1:${RELAY_PORT} (logs: ${LOG})"
cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$RELAY_PORT" >/tmp/relay-local-emulator.log 2>&1 </dev/null &
pids+=($!)
wait_port "$RELAY_PORT" "cargo lambda watch"
: >"$LOG"
for _ in $(seq 1 "$INSTANCES"); do
  env -i PATH="$PATH" AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:${RELAY_PORT}/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 AWS_LAMBDA_LOG_FORMAT=JSON \
    AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    WEBHOOK_SECRET_ID="$SECRET_ARN" THUMBNAIL_BUCKET="$BUCKET" EVENT_QUEUE_URL="$QUEUE_URL" \
    "${BUS_ENV[@]}" target/debug/webhook-relay >>"$LOG" 2>&1 </dev/null &
  pids+=($!)
done

echo "== relayctl register --stack ${STACK}"
"$RELAYCTL" register
echo "== relayctl register --add: a second webhook, thumbnails of the cameras only, at its own path"
"$RELAYCTL" register --add --hooks thumbnails --filter '^(cam-|relayctl-probe-)'

echo "== the platform sends 200 deliveries (every hook type, thumbnails)"
traffic 200 50
python scripts/local_aws.py show "$BUCKET" "$QUEUE_URL"

echo "== renewed in the dashboard (the relay is not told); the platform sends 60 more"
WEBHOOK_ID=$(curl -sf "$PLATFORM/_local/webhooks" | python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
CAMERAS_ID=$(curl -sf "$PLATFORM/_local/webhooks" | python -c 'import json,sys; print(json.load(sys.stdin)[1]["id"])')
curl -sf -X POST "$PLATFORM/_local/webhooks/${WEBHOOK_ID}/renew" >/dev/null
traffic 60 30
"$RELAYCTL" quarantine list 2>&1 | head -4
echo "   …"
echo "== relayctl secret set (the secret copied from the dashboard), then relayctl quarantine replay"
curl -sf "$PLATFORM/_local/webhooks/${WEBHOOK_ID}" | python -c 'import json,sys; print(json.load(sys.stdin)["secret"])' \
  | "$RELAYCTL" secret set --webhook-id "$WEBHOOK_ID"
"$RELAYCTL" quarantine replay

echo "== relayctl rotate, each webhook in turn, while the platform sends 600 deliveries at 60/s"
curl -sf -X POST "$PLATFORM/_local/traffic" -d "{\"count\":600,\"rate\":60,\"streams\":$STREAMS}" >/dev/null
sleep 3
"$RELAYCTL" rotate --webhook-id "$WEBHOOK_ID"
"$RELAYCTL" rotate --webhook-id "$CAMERAS_ID"
until curl -sf "$PLATFORM/_local/traffic" | python -c 'import json,sys; sys.exit(0 if all(r["done"] for r in json.load(sys.stdin)) else 1)'; do sleep 0.5; done

echo "== every delivery the platform made, looked for where the relay put it"
python scripts/local_aws.py verify "$PLATFORM" "$BUCKET" "$QUEUE_URL"
python scripts/local_aws.py show "$BUCKET" "$QUEUE_URL"

if [ "$BUS_NAME" != - ]; then
  echo "== the event bus: its archive, then the last 5 minutes' recordings replayed onto it"
  "$RELAYCTL" history
  python scripts/local_aws.py drain "$(python -c 'import boto3; print(boto3.client("sqs").get_queue_url(QueueName="'"$STACK"'-recordings")["QueueUrl"])')" "live, by the recordings rule"
  "$RELAYCTL" history replay --from 5m --type recordings
  python scripts/local_aws.py drain "$(python -c 'import boto3; print(boto3.client("sqs").get_queue_url(QueueName="'"$STACK"'-recordings")["QueueUrl"])')" "replayed"
fi

echo "== relayctl status (the relay's EMF records put into local CloudWatch first, as CloudWatch Logs would)"
python scripts/emf_to_cloudwatch.py "$LOG"
"$RELAYCTL" status || true

echo "== live-main and cam-1 keep publishing: the platform sends a thumbnail of each every 30 s"
publish() {
  while true; do
    for stream in live-main cam-1; do
      curl -sf -X POST "$PLATFORM/_local/traffic" \
        -d "{\"count\":1,\"rate\":1,\"streams\":[\"$stream\"],\"thumbnailShare\":1}" >/dev/null || true
    done
    sleep 30
  done
}
publish </dev/null &
pids+=($!)

echo "== relayctl wall: every stream's newest frame, live first (logs: /tmp/relay-local-wall.log)"
"$RELAYCTL" wall --port "$WALL_PORT" >/tmp/relay-local-wall.log 2>&1 </dev/null &
pids+=($!)
wait_port "$WALL_PORT" "relayctl wall"
WALL_URL="http://127.0.0.1:${WALL_PORT}/"
echo "the wall: ${WALL_URL} (studio-a and the relayctl-probe-… streams go quiet 90 s after their last thumbnail)"

cat <<MSG

== the relay keeps running; try it (AWS_ENDPOINT_URL, MILLICAST_API_URL/SECRET and RELAY_STACK as above):
  open ${WALL_URL} in a browser            # relayctl wall: every stream's newest frame
  $RELAYCTL webhooks
  $RELAYCTL tail --exit-when-empty --wait-seconds 0 | head
  $RELAYCTL unregister --webhook-id ${CAMERAS_ID}      # the way out, one webhook (or all: no --webhook-id)
  curl -s -X POST $PLATFORM/_local/traffic -d '{"count":100,"rate":20}'
  $RELAYCTL send --url $URL --secret "\$(curl -s $PLATFORM/_local/webhooks/${WEBHOOK_ID} | python -c 'import json,sys; print(json.load(sys.stdin)["secret"])')" media-completed
Ctrl-C stops everything.
MSG
wait
