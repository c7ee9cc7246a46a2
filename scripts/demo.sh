#!/usr/bin/env bash
# streamcell demo (`npm run demo`): sets itself up on a fresh machine, brings up a single-node
# Kafka + Redis from the project's images, seeds a forecaster and a classifier into the registry,
# starts the stream-worker and the trainer, feeds sample sensor and ticket streams and prints
# live predictions for DEMO_SECONDS (default 60; 0 = until Ctrl-C). At the end it stops exactly
# what it started: its processes by pid, its containers by id.
#
# Half-way through (when DEMO_SECONDS >= 40) the trainer retrains the forecaster from the sensor
# topic and activates it: the view shows the worker switching versions without a restart.
#
# Prometheus (the project's image, deploy/prometheus config and alert rules) scrapes the worker
# and the trainer; its address is printed at the start.
#
# Env: DEMO_SECONDS (60), DEMO_SKIP_BUILD=1 (reuse dist/ when present), DEMO_LOG_DIR
# (default .cache/demo; worker, trainer, producer and build logs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
DEMO_SECONDS="${DEMO_SECONDS:-60}"
LOG_DIR="${DEMO_LOG_DIR:-$ROOT/.cache/demo}"
mkdir -p "$LOG_DIR"

say() { echo "[demo] $*" >&2; }

containers=()
pids=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  for cid in "${containers[@]}"; do
    docker stop -t 5 "$cid" >/dev/null 2>&1 || true
    docker rm -f "$cid" >/dev/null 2>&1 || true
  done
  [ "${#containers[@]}" -gt 0 ] && say "stopped containers ${containers[*]}"
  say "logs in $LOG_DIR"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Set-up: dependencies, build, Docker engine, images.
if [ ! -d node_modules ]; then
  say "installing dependencies (npm ci)"
  npm ci
fi
if [ "${DEMO_SKIP_BUILD:-0}" != "1" ] || [ ! -f dist/apps/stream-worker/src/main.js ]; then
  say "building (npm run build)"
  npm run build >"$LOG_DIR/build.log" 2>&1 || { tail -n 40 "$LOG_DIR/build.log" >&2; exit 1; }
fi
bash scripts/docker-engine.sh
bash deploy/images/build.sh

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
KAFKA_PORT="$(free_port)"
KAFKA_CONTROLLER_PORT="$(free_port)"
REDIS_PORT="$(free_port)"
HTTP_PORT="$(free_port)"
TRAINER_PORT="$(free_port)"
PROMETHEUS_PORT="$(free_port)"

wait_log() { # container, pattern, seconds
  local deadline=$(( $(date +%s) + $3 ))
  until docker logs "$1" 2>&1 | grep -q "$2"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "container $1 did not log '$2' within $3 s:"; docker logs --tail 30 "$1" >&2 || true; return 1
    fi
    sleep 0.5
  done
}

# 2. Single-node stack on loopback (host networking, free ports).
say "starting Redis on 127.0.0.1:$REDIS_PORT"
cid="$(docker run -d --network host streamcell/redis:7 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode no --save '' --appendonly no)"
containers+=("$cid")
wait_log "$cid" 'Ready to accept connections' 60
say "starting Kafka on 127.0.0.1:$KAFKA_PORT"
cid="$(docker run -d --network host -e KAFKA_PORT="$KAFKA_PORT" -e KAFKA_CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" \
  -e KAFKA_BIND_HOST=127.0.0.1 -e KAFKA_ADVERTISED_HOST=127.0.0.1 streamcell/kafka:4)"
containers+=("$cid")
wait_log "$cid" 'Kafka Server started' 120

export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export SENSOR_TOPIC=sensor.readings TEXT_TOPIC=text.events FORECAST_TOPIC=predictions.forecasts
export CLASSIFICATION_TOPIC=predictions.classifications DLQ_TOPIC=streamcell.dlq MODELS_TOPIC=streamcell.models
export FORECAST_MODEL=forecaster CLASSIFY_MODEL=classifier

# 3. Topics and models.
node dist/scripts/demo/seed.js

# 4. Worker and trainer.
HTTP_PORT="$HTTP_PORT" node dist/apps/stream-worker/src/main.js >"$LOG_DIR/worker.log" 2>&1 &
pids+=("$!")
say "stream-worker pid ${pids[-1]} (health http://127.0.0.1:$HTTP_PORT/health, metrics /metrics)"
deadline=$(( $(date +%s) + 90 ))
until grep -q 'streamcell worker ready' "$LOG_DIR/worker.log"; do
  if ! kill -0 "${pids[-1]}" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    say "the worker did not become ready:"; tail -n 30 "$LOG_DIR/worker.log" >&2; exit 1
  fi
  sleep 0.3
done
if [ -f dist/apps/trainer/src/main.js ]; then
  ADMIN_TOKEN="$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')"
  TRAINER_PORT="$TRAINER_PORT" TRAINER_HOST=127.0.0.1 ADMIN_TOKEN="$ADMIN_TOKEN" \
    node dist/apps/trainer/src/main.js >"$LOG_DIR/trainer.log" 2>&1 &
  pids+=("$!")
  say "trainer pid ${pids[-1]}: admin API http://127.0.0.1:$TRAINER_PORT/v1 (Authorization: Bearer $ADMIN_TOKEN)"
  # The operator console: the same token logs in.
  CONSOLE_PORT="$(free_port)"
  TRAINER_URL="http://127.0.0.1:$TRAINER_PORT" WORKER_METRICS_URLS="http://127.0.0.1:$HTTP_PORT" \
    CONSOLE_PORT="$CONSOLE_PORT" CONSOLE_HOST=127.0.0.1 node dist/apps/console/src/main.js >"$LOG_DIR/console.log" 2>&1 &
  pids+=("$!")
  deadline=$(( $(date +%s) + 60 ))
  until grep -q 'console on http' "$LOG_DIR/console.log"; do
    if ! kill -0 "${pids[-1]}" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      say "the console did not start:"; tail -n 30 "$LOG_DIR/console.log" >&2; exit 1
    fi
    sleep 0.3
  done
  say "console: http://127.0.0.1:$CONSOLE_PORT  (log in with the token $ADMIN_TOKEN)"
  # Half-way through, retrain the forecaster from the topic history and hot-swap it in.
  if [ "$DEMO_SECONDS" = "0" ] || [ "$DEMO_SECONDS" -ge 40 ]; then
    retrain_after=$(( DEMO_SECONDS > 0 ? DEMO_SECONDS / 2 : 30 ))
    TRAINER_URL="http://127.0.0.1:$TRAINER_PORT" ADMIN_TOKEN="$ADMIN_TOKEN" DEMO_RETRAIN_AFTER="$retrain_after" \
      node dist/scripts/demo/retrain.js &
    pids+=("$!")
  fi
fi

# Prometheus: the shipped config with this run's targets, and the shipped alert rules.
mkdir -p "$LOG_DIR/prometheus"
sed -e "s/'stream-worker:9464'/'127.0.0.1:$HTTP_PORT'/" -e "s/'trainer:3001'/'127.0.0.1:$TRAINER_PORT'/" \
  deploy/prometheus/prometheus.yml >"$LOG_DIR/prometheus/prometheus.yml"
cp deploy/prometheus/alerts.yml "$LOG_DIR/prometheus/"
cid="$(docker run -d --network host -v "$LOG_DIR/prometheus:/etc/prometheus:ro" streamcell/prometheus:2 \
  --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus \
  --web.listen-address="127.0.0.1:$PROMETHEUS_PORT")"
containers+=("$cid")
wait_log "$cid" 'Server is ready to receive web requests' 60
rules="$(node -e 'fetch(process.argv[1]).then(r=>r.json()).then(j=>console.log(j.data.groups.reduce((n,g)=>n+g.rules.length,0)))' \
  "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/rules")"
say "Prometheus http://127.0.0.1:$PROMETHEUS_PORT ($rules alert rules loaded; /alerts, /api/v1/query)"

# 5. Sample streams and the live view.
DEMO_SECONDS=0 node dist/scripts/demo/produce.js >"$LOG_DIR/producer.log" 2>&1 &
pids+=("$!")
say "feeding sensors pump-1, pump-2, boiler-1 and tickets ticket-101..103 (producer pid ${pids[-1]})"
DEMO_SECONDS="$DEMO_SECONDS" node dist/scripts/demo/watch.js

# How good each forecaster version was on this run, graded live by the readings it forecast
# (GET /v1/models/{name}/accuracy; docs/accuracy.md).
if [ -n "${ADMIN_TOKEN:-}" ]; then
  node -e '
    fetch(process.argv[1], { headers: { authorization: "Bearer " + process.argv[2] } })
      .then((r) => r.json())
      .then((j) => {
        for (const v of j.versions ?? []) {
          const f = (x) => (x === null ? "-" : x.toFixed(3));
          console.log(`[demo] live accuracy ${j.model} v${v.version}${v.active ? " (active)" : ""}: ${v.errors} errors scored over ${v.events} readings, MAE ${f(v.mae)}, RMSE ${f(v.rmse)}, bias ${f(v.bias)}`);
        }
      })
      .catch((e) => console.log(`[demo] live accuracy not read: ${e.message}`));
  ' "http://127.0.0.1:$TRAINER_PORT/v1/models/forecaster/accuracy" "$ADMIN_TOKEN"
fi
