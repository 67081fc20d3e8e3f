#!/bin/sh
# The agent image's entry: `trackside-agent daemon --docker` from environment variables alone.
#   CLEARML_API_HOST, CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY (required), CLEARML_FILES_HOST
#   TRACKSIDE_AGENT_QUEUES       queue names, highest priority first (default: the default queue)
#   CLEARML_DOCKER_IMAGE         image for tasks that name none (agent.default_docker.image)
#   CLEARML_AGENT_EXTRA_DOCKER_ARGS  arguments for every task container (e.g. "--network host")
#   TRACKSIDE_AGENT_GPUS         --gpus value (e.g. all, 0,1); TRACKSIDE_AGENT_CPU_ONLY=1 for none
#   TRACKSIDE_AGENT_ARGS         more daemon flags (e.g. "--services-mode 4 --create-queue")
#   CLEARML_AGENT_DOCKER_HOST_MOUNT  <host folder>:/root/.clearml when that folder is mounted there
#   CLEARML_WORKER_NAME, CLEARML_WORKER_ID, CLEARML_AGENT_* as for trackside-agent itself
set -eu
for name in CLEARML_API_HOST CLEARML_API_ACCESS_KEY CLEARML_API_SECRET_KEY; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || { echo "trackside-agent image: $name is not set" >&2; exit 2; }
done
set -- daemon --foreground
[ -n "${TRACKSIDE_AGENT_QUEUES:-}" ] && set -- "$@" --queue $TRACKSIDE_AGENT_QUEUES
set -- "$@" --docker
if [ "${TRACKSIDE_AGENT_CPU_ONLY:-}" = "1" ]; then
    set -- "$@" --cpu-only
elif [ -n "${TRACKSIDE_AGENT_GPUS:-}" ]; then
    set -- "$@" --gpus "$TRACKSIDE_AGENT_GPUS"
fi
# shellcheck disable=SC2086 # TRACKSIDE_AGENT_ARGS is a list of flags
exec trackside-agent "$@" ${TRACKSIDE_AGENT_ARGS:-}
