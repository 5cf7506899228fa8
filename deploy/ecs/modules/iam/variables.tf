variable "name" {
  description = "Prefix of the two role names, e.g. \"staging-indexer-ender\" gives \"...-execution\" and \"...-task\"."
  type        = string
}

variable "log_group_arn" {
  description = "The one log group the workload's containers write to."
  type        = string
}

variable "image_repository_arn" {
  description = "ECR repository the image is pulled from. Null when the image lives outside this account's ECR (pull permissions are then not granted)."
  type        = string
  default     = null
}

variable "secret_arns" {
  description = "Secrets Manager secrets the task definition injects as environment variables; only the execution role can read them."
  type        = list(string)
  default     = []
}

variable "enable_execute_command" {
  description = "Grant what ECS Exec needs (SSM message channels and session logging)."
  type        = bool
  default     = false
}

variable "exec_log_group_name" {
  description = "Log group ECS Exec sessions are written to; required when enable_execute_command is true."
  type        = string
  default     = null
}

variable "task_policy_statements" {
  description = "Extra permissions for the application itself (the task role), e.g. S3 access for a roundtable job. Empty for services that only talk to Postgres, Redis and Kafka."
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
