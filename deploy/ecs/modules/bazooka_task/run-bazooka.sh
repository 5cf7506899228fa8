#!/usr/bin/env bash
# Runs the bazooka one-off ECS task and exits non-zero unless its container exited 0.
# terraform apply calls it (modules/bazooka_task, terraform_data "run"); it also works by hand.
#
# Environment:
#   CLUSTER           cluster name or ARN
#   TASK_DEFINITION   task definition (family:revision or ARN)
#   CONTAINER         name of the bazooka container in it (default bazooka)
#   SUBNETS           comma-separated private subnet ids
#   SECURITY_GROUPS   comma-separated security group ids
#   REGION            AWS region (default: the CLI's configured region)
#   DRAIN_SERVICES    optional, space-separated name=count pairs: these services are scaled to 0
#                     and waited for before the task runs, and afterwards set back to the larger
#                     of count and their desired count before, whether the task succeeded or not
#   TIMEOUT_SECONDS   how long to wait for the task to stop (default 1800); then it is stopped
#   POLL_SECONDS      seconds between status polls (default 10)
#   LOG_GROUP         log group of the task, only to print where its output is
#   AWS_CLI           the AWS CLI command (default aws), e.g. "aws --profile prod"
set -euo pipefail

: "${CLUSTER:?CLUSTER is required}"
: "${TASK_DEFINITION:?TASK_DEFINITION is required}"
: "${SUBNETS:?SUBNETS is required}"
: "${SECURITY_GROUPS:?SECURITY_GROUPS is required}"
CONTAINER="${CONTAINER:-bazooka}"
TIMEOUT_SECONDS="${TIMEOUT_SECONDS:-1800}"
POLL_SECONDS="${POLL_SECONDS:-10}"
read -r -a aws_command <<<"${AWS_CLI:-aws}"
region_args=()
if [[ -n "${REGION:-}" ]]; then
    region_args=(--region "$REGION")
fi

aws_cli() {
    command "${aws_command[@]}" "${region_args[@]}" "$@"
}

log() {
    echo "bazooka: $*" >&2
}

declare -A restore_count=()

restore_services() {
    local name
    for name in "${!restore_count[@]}"; do
        log "scaling $name back to ${restore_count[$name]}"
        if ! aws_cli ecs update-service --cluster "$CLUSTER" --service "$name" \
            --desired-count "${restore_count[$name]}" >/dev/null; then
            log "WARNING: could not scale $name back to ${restore_count[$name]}; do it by hand"
        fi
    done
}

drain_services() {
    local pair name intended current drained=()
    for pair in ${DRAIN_SERVICES:-}; do
        name="${pair%%=*}"
        intended="${pair#*=}"
        # The backquotes are JMESPath literals, not shell.
        # shellcheck disable=SC2016
        current="$(aws_cli ecs describe-services --cluster "$CLUSTER" --services "$name" \
            --query 'services[?status==`ACTIVE`].desiredCount | [0]' --output text)"
        if [[ -z "$current" || "$current" == "None" ]]; then
            log "$name does not exist yet; nothing to drain"
            continue
        fi
        restore_count[$name]=$((current > intended ? current : intended))
        log "scaling $name to 0 (was $current)"
        aws_cli ecs update-service --cluster "$CLUSTER" --service "$name" --desired-count 0 >/dev/null
        drained+=("$name")
    done
    if ((${#drained[@]} > 0)); then
        log "waiting for ${drained[*]} to stop"
        aws_cli ecs wait services-stable --cluster "$CLUSTER" --services "${drained[@]}"
    fi
}

trap restore_services EXIT
drain_services

network="awsvpcConfiguration={subnets=[${SUBNETS}],securityGroups=[${SECURITY_GROUPS}],assignPublicIp=DISABLED}"
task_arn=""
failure=""
read -r task_arn failure < <(aws_cli ecs run-task --cluster "$CLUSTER" --task-definition "$TASK_DEFINITION" \
    --launch-type FARGATE --count 1 --started-by terraform-bazooka \
    --network-configuration "$network" \
    --query '[tasks[0].taskArn, failures[0].reason]' --output text) || true
if [[ -z "$task_arn" || "$task_arn" == "None" ]]; then
    log "the task could not be started: ${failure:-unknown reason}"
    exit 1
fi
log "started $task_arn ($TASK_DEFINITION)"

deadline=$((SECONDS + TIMEOUT_SECONDS))
while true; do
    status="$(aws_cli ecs describe-tasks --cluster "$CLUSTER" --tasks "$task_arn" \
        --query 'tasks[0].lastStatus' --output text)"
    if [[ "$status" == "STOPPED" ]]; then
        break
    fi
    if ((SECONDS >= deadline)); then
        log "still $status after ${TIMEOUT_SECONDS}s; stopping it"
        aws_cli ecs stop-task --cluster "$CLUSTER" --task "$task_arn" \
            --reason "terraform timeout after ${TIMEOUT_SECONDS}s" >/dev/null || true
        exit 1
    fi
    sleep "$POLL_SECONDS"
done

exit_code="$(aws_cli ecs describe-tasks --cluster "$CLUSTER" --tasks "$task_arn" \
    --query "tasks[0].containers[?name=='${CONTAINER}'].exitCode | [0]" --output text)"
task_id="${task_arn##*/}"
if [[ "$exit_code" != "0" ]]; then
    reason="$(aws_cli ecs describe-tasks --cluster "$CLUSTER" --tasks "$task_arn" \
        --query 'tasks[0].stoppedReason' --output text)"
    log "FAILED: container $CONTAINER exit code $exit_code (${reason})"
    if [[ -n "${LOG_GROUP:-}" ]]; then
        log "its output: aws logs tail ${LOG_GROUP} --log-stream-names bazooka/${CONTAINER}/${task_id}"
    fi
    exit 1
fi
log "succeeded ($task_arn)"
