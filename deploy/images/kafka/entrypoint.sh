#!/bin/bash
# Single-node KRaft broker+controller. Writes server.properties from defaults, then applies
# every KAFKA_<NAME> variable as property <name> (lower case, '_' -> '.', '__' -> '_'), the
# same convention as the official apache/kafka image, so callers can set either image up alike.
#
# Shortcuts (not turned into properties):
#   KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_BIND_HOST (0.0.0.0),
#   KAFKA_ADVERTISED_HOST (127.0.0.1), CLUSTER_ID (random when unset),
#   KAFKA_HEAP_OPTS, KAFKA_OPTS (JVM options).
set -euo pipefail

# A random cluster id: 16 random bytes, base64url without padding (a Kafka Uuid). Kafka's tools
# read an argument that begins with '-' as an option (its own random-uuid never draws one); the
# first character carries only the first byte's top six bits, so one that would be '-' or '_' is
# replaced by a letter: still 16 bytes, never a leading '-'.
draw_cluster_id() {
  local id
  id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  case "$id" in [-_]*) id="A${id:1}" ;; esac
  printf '%s\n' "$id"
}

# `kafka-entrypoint --draw-cluster-ids N` prints N ids as the entrypoint draws them (image tests).
if [ "${1:-}" = "--draw-cluster-ids" ]; then
  for _ in $(seq 1 "${2:-1}"); do draw_cluster_id; done
  exit 0
fi

KAFKA_HOME=/opt/kafka
CONF=/opt/kafka/config/server.properties
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
BIND="${KAFKA_BIND_HOST:-0.0.0.0}"
ADV="${KAFKA_ADVERTISED_HOST:-127.0.0.1}"
DATA="${KAFKA_LOG_DIRS:-/var/lib/kafka/data}"

cat >"$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CPORT}
listeners=PLAINTEXT://${BIND}:${PORT},CONTROLLER://127.0.0.1:${CPORT}
advertised.listeners=PLAINTEXT://${ADV}:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
min.insync.replicas=1
PROPS

# KAFKA_FOO_BAR=x -> foo.bar=x (later lines win in java.util.Properties).
skip='^(KAFKA_PORT|KAFKA_CONTROLLER_PORT|KAFKA_BIND_HOST|KAFKA_ADVERTISED_HOST|KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_LOG4J_OPTS|KAFKA_HOME|KAFKA_VERSION)$'
while IFS='=' read -r name value; do
  [[ "$name" =~ ^KAFKA_ ]] || continue
  [[ "$name" =~ $skip ]] && continue
  prop="${name#KAFKA_}"
  prop="$(echo "$prop" | tr '[:upper:]' '[:lower:]' | sed -e 's/__/\x01/g' -e 's/_/./g' -e 's/\x01/_/g')"
  echo "${prop}=${value}" >>"$CONF"
done < <(env)

CP="${KAFKA_HOME}/libs/*"
JAVA_OPTS=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dlog4j2.configurationFile="${KAFKA_HOME}/config/log4j2.xml" ${KAFKA_OPTS:-})

# Formatting is idempotent with --ignore-formatted: a restarted container keeps its data.
data_dir="$(grep '^log.dirs=' "$CONF" | tail -n1 | cut -d= -f2 | cut -d, -f1)"
mkdir -p "$data_dir"
if [ ! -f "$data_dir/meta.properties" ]; then
  if [ -n "${CLUSTER_ID:-}" ]; then
    # Kafka's tools read an argument that begins with '-' as an option (its own random-uuid never
    # draws one): refuse it by name rather than fail later with a usage message.
    case "$CLUSTER_ID" in -*) echo "kafka-entrypoint: CLUSTER_ID must not begin with '-' (got '$CLUSTER_ID')" >&2; exit 2 ;; esac
    cid="$CLUSTER_ID"
  else
    cid="$(draw_cluster_id)"
  fi
  java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="${KAFKA_HOME}/config/log4j2.xml" \
    -cp "$CP" kafka.tools.StorageTool format "--cluster-id=$cid" -c "$CONF" --ignore-formatted
fi

exec java "${JAVA_OPTS[@]}" -cp "$CP" kafka.Kafka "$CONF"
