#!/usr/bin/env bash
# Creates Caseflow's Kafka topics and their dead-letter topics; running it again changes nothing.
# Runs in the Apache Kafka image (kafka-topics.sh), as the Kubernetes Job `create-topics` and as
# the `topics` service of docker-compose.yml.
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS              the brokers, host:port[,host:port...] (required)
#   CASEFLOW_TOPIC_PARTITIONS            partitions of each event topic (default 3)
#   CASEFLOW_TOPIC_REPLICATION_FACTOR    replicas of every topic (default 1)
#   CASEFLOW_TOPIC_MIN_INSYNC_REPLICAS   min.insync.replicas of every topic (default: the broker's)
#   KAFKA_TOPICS_COMMAND_CONFIG          a client properties file (TLS/SASL), if the brokers need one
#   CASEFLOW_KAFKA_WAIT_SECONDS          how long to wait for the brokers to answer (default 120)
set -euo pipefail

# The event topics of caseflow_contracts.topics.ALL_TOPICS; each gets `<topic>.dlq` beside it.
TOPICS=(
  channels.web.v1
  channels.cti.v1
  intake.interaction.v1
  intake.notification.v1
  cases.case.v1
  routing.queue-item.v1
  sla.kpi.v1
  knowledge.article.v1
  scheduling.booking.v1
)
DLQ_PARTITIONS=1

bootstrap="${KAFKA_BOOTSTRAP_SERVERS:?KAFKA_BOOTSTRAP_SERVERS must be set}"
partitions="${CASEFLOW_TOPIC_PARTITIONS:-3}"
replication="${CASEFLOW_TOPIC_REPLICATION_FACTOR:-1}"
wait_seconds="${CASEFLOW_KAFKA_WAIT_SECONDS:-120}"
kafka_topics="${KAFKA_HOME:-/opt/kafka}/bin/kafka-topics.sh"

client=(--bootstrap-server "$bootstrap")
if [[ -n "${KAFKA_TOPICS_COMMAND_CONFIG:-}" ]]; then
  client+=(--command-config "$KAFKA_TOPICS_COMMAND_CONFIG")
fi
configs=()
if [[ -n "${CASEFLOW_TOPIC_MIN_INSYNC_REPLICAS:-}" ]]; then
  configs+=(--config "min.insync.replicas=${CASEFLOW_TOPIC_MIN_INSYNC_REPLICAS}")
fi

deadline=$((SECONDS + wait_seconds))
until "$kafka_topics" "${client[@]}" --list >/dev/null 2>&1; do
  if ((SECONDS >= deadline)); then
    echo "create-topics: no answer from ${bootstrap} within ${wait_seconds}s" >&2
    exit 1
  fi
  echo "create-topics: waiting for ${bootstrap}"
  sleep 3
done

create() {
  "$kafka_topics" "${client[@]}" --create --if-not-exists --topic "$1" \
    --partitions "$2" --replication-factor "$replication" "${configs[@]}"
}

for topic in "${TOPICS[@]}"; do
  create "$topic" "$partitions"
  create "${topic}.dlq" "$DLQ_PARTITIONS"
done

echo "create-topics: ${#TOPICS[@]} topics and their dead-letter topics are in place"
