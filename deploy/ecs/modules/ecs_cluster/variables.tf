variable "name" {
  description = "Cluster name, e.g. \"staging-indexer\"."
  type        = string
}

variable "container_insights" {
  description = "CloudWatch Container Insights level: \"enhanced\", \"enabled\" or \"disabled\". Per-service CPU, memory and task counts come from it."
  type        = string
  default     = "enabled"
}

variable "log_retention_days" {
  description = "Days the ECS Exec session log group keeps its events."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
