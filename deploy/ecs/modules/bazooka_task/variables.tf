variable "name" {
  description = "Task family, log group and role prefix, e.g. \"staging-indexer-bazooka\"."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster the task runs in."
  type        = string
}

variable "image" {
  description = "Full image reference, repository URL and tag (the same image as the services)."
  type        = string
}

variable "image_repository_arn" {
  description = "ECR repository of the image, for the execution role's pull permission; null for images outside this account's ECR."
  type        = string
  default     = null
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 1024
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64; must match the image."
  type        = string
  default     = "X86_64"
}

variable "steps" {
  description = "bazooka subcommands run in order, each with its arguments; the task stops at the first that fails and exits with its code."
  type        = list(string)
  default     = ["migrate", "create-topics"]

  validation {
    condition     = length(var.steps) > 0
    error_message = "Give at least one step."
  }
}

variable "environment" {
  description = "Plain environment variables of the container (names bazooka reads)."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables injected from Secrets Manager: variable name => the secret's ARN and the key of its JSON object."
  type = map(object({
    secret_arn = string
    key        = string
  }))
  default = {}
}

variable "subnet_ids" {
  description = "Private subnets the task may be placed in."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the task (allowed to reach Postgres and Kafka by the caller's rules)."
  type        = string
}

variable "run_on_apply" {
  description = "Run the task during terraform apply whenever its task definition changes (a new image or setting). Anything that depends on this module waits for it, and the apply fails if the task fails."
  type        = bool
  default     = true
}

variable "run_token" {
  description = "Change to any new value to run the task again without other changes."
  type        = string
  default     = ""
}

variable "run_after" {
  description = "IDs of resources that must exist before the task runs (e.g. the security-group rules that let it reach the data stores)."
  type        = list(string)
  default     = []
}

variable "drain_services" {
  description = "Services (full names) scaled to 0 and waited for before the task runs, then set back to the larger of the given count and their count before, whether the task succeeded or not. Services that do not exist yet are skipped."
  type        = map(number)
  default     = {}
}

variable "timeout_minutes" {
  description = "How long the apply waits for the task to stop before stopping it and failing."
  type        = number
  default     = 30
}

variable "aws_cli" {
  description = "Command that runs the AWS CLI on the machine running terraform, e.g. \"aws --profile prod\"."
  type        = string
  default     = "aws"
}

variable "log_retention_days" {
  description = "Days the task's log group keeps its events."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
