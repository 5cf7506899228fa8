variable "name" {
  description = "Full name of the service, task family, log group and roles, e.g. \"staging-indexer-comlink\"."
  type        = string
}

variable "component" {
  description = "Short component name (\"comlink\"); also the container name."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster the service runs in."
  type        = string
}

variable "cluster_name" {
  description = "Name of that cluster (autoscaling resource ids use it)."
  type        = string
}

variable "image" {
  description = "Full image reference, repository URL and tag."
  type        = string
}

variable "image_repository_arn" {
  description = "ECR repository of the image, for the execution role's pull permission; null for images outside this account's ECR."
  type        = string
  default     = null
}

variable "command" {
  description = "Container command: the binary to run, e.g. [\"comlink\"]."
  type        = list(string)
}

variable "cpu" {
  description = "Task CPU units (1024 = one vCPU); must be a Fargate size together with memory."
  type        = number
}

variable "memory" {
  description = "Task memory in MiB; must be a Fargate size together with cpu."
  type        = number
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64; must match the image."
  type        = string
  default     = "X86_64"
}

variable "environment" {
  description = "Plain environment variables of the container (names the binary reads)."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables injected from Secrets Manager: variable name => the secret's ARN and the key of its JSON object that holds the value."
  type = map(object({
    secret_arn = string
    key        = string
  }))
  default = {}
}

variable "secret_keys" {
  description = "Keys of this component's own secret (created empty here, filled by an operator) to inject as environment variables of the same name. Add a key only after the secret holds it, or tasks fail to start."
  type        = list(string)
  default     = []
}

variable "admin_port" {
  description = "Port of the admin server (ADMIN_PORT): health checks and /metrics."
  type        = number
}

variable "liveness_path" {
  description = "Admin path the container health check calls; failing it gets the task replaced."
  type        = string
}

variable "readiness_path" {
  description = "Admin path the load balancer calls; failing it takes the task out of rotation."
  type        = string
}

variable "public" {
  description = "How the load balancer reaches the service: container port, path patterns and rule priority. Null for internal services."
  type = object({
    port     = number
    paths    = list(string)
    priority = number
  })
  default = null
}

variable "listener_arn" {
  description = "HTTPS listener the path rule is attached to; required when public is set."
  type        = string
  default     = null
}

variable "alb_arn_suffix" {
  description = "Load balancer metric dimension, for request-count scaling; required when public is set."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the tasks are placed in."
  type        = list(string)
}

variable "security_group_id" {
  description = "The service's own security group (its rules are managed by the caller, from what the service needs)."
  type        = string
}

variable "desired_count" {
  description = "Number of tasks when autoscaling is null; the starting count otherwise."
  type        = number
}

variable "autoscaling" {
  description = "Target-tracking autoscaling, or null for a fixed count. requests_per_target: ALB requests per task per minute (for a websocket service every connection is one request, so this tracks new connections per task). memory_target_percent is optional."
  type = object({
    min_count             = number
    max_count             = number
    cpu_target_percent    = number
    memory_target_percent = optional(number)
    requests_per_target   = optional(number)
  })
  default = null
}

variable "deployment_minimum_healthy_percent" {
  description = "Lower bound of running tasks during a deployment, in percent of the desired count. 0 with maximum 100 stops the old task before the new one starts (single writers)."
  type        = number
  default     = 100
}

variable "deployment_maximum_percent" {
  description = "Upper bound of running tasks during a deployment, in percent of the desired count."
  type        = number
  default     = 200
}

variable "health_check_grace_period_seconds" {
  description = "Seconds after start during which failing load balancer checks do not stop a task (cache warm-up)."
  type        = number
  default     = 60
}

variable "container_start_period_seconds" {
  description = "Seconds after start during which failing container health checks do not count."
  type        = number
  default     = 60
}

variable "deregistration_delay_seconds" {
  description = "Seconds the load balancer keeps sending in-flight requests to a task being replaced."
  type        = number
  default     = 30
}

variable "stop_timeout_seconds" {
  description = "Seconds between SIGTERM and SIGKILL (the binaries drain within SHUTDOWN_TIMEOUT_MS)."
  type        = number
  default     = 30
}

variable "open_files_limit" {
  description = "nofile ulimit of the container (each websocket connection is one file)."
  type        = number
  default     = 65536
}

variable "capacity_provider" {
  description = "FARGATE, or FARGATE_SPOT for components that tolerate interruption."
  type        = string
  default     = "FARGATE"
}

variable "enable_execute_command" {
  description = "Allow `aws ecs execute-command` into running tasks (makes the root filesystem writable, which ECS Exec needs)."
  type        = bool
  default     = false
}

variable "exec_log_group_name" {
  description = "Log group of ECS Exec sessions."
  type        = string
  default     = null
}

variable "wait_for_steady_state" {
  description = "Make terraform apply wait until the deployment has finished."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the service's log group keeps its events."
  type        = number
  default     = 30
}

variable "task_policy_statements" {
  description = "Extra IAM permissions of the running program (see modules/iam)."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
