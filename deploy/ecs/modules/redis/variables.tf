variable "name" {
  description = "Replication group id, e.g. \"staging-indexer-redis\" (at most 40 characters, lower case)."
  type        = string

  validation {
    condition     = length(var.name) <= 40 && can(regex("^[a-z][a-z0-9-]*$", var.name))
    error_message = "name must be at most 40 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC of the cache security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the nodes are placed in."
  type        = list(string)
}

variable "engine" {
  description = "\"redis\" or \"valkey\"."
  type        = string
  default     = "redis"
}

variable "engine_version" {
  description = "Engine version."
  type        = string
  default     = "7.1"
}

variable "parameter_group_name" {
  description = "Parameter group of the nodes; must match engine and version."
  type        = string
  default     = "default.redis7"
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.r7g.large"
}

variable "node_count" {
  description = "Nodes in the group: one primary plus replicas. Two or more enable automatic failover across zones."
  type        = number
  default     = 2
}

variable "snapshot_retention_days" {
  description = "Days of automatic snapshots (0 disables them)."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
