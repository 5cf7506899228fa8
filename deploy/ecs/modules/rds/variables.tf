variable "name" {
  description = "Identifier prefix, e.g. \"staging-indexer\"."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (at least two zones)."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL version; a major version (\"16\") lets RDS pick and upgrade the minor."
  type        = string
  default     = "16"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version."
  type        = string
  default     = "postgres16"
}

variable "instance_class" {
  description = "Instance class of the primary."
  type        = string
  default     = "db.r6g.xlarge"
}

variable "replica_instance_class" {
  description = "Instance class of the read replica; null uses instance_class."
  type        = string
  default     = null
}

variable "create_read_replica" {
  description = "Create a read replica; readers (DB_READONLY_HOSTNAME) use it, otherwise they use the primary."
  type        = bool
  default     = true
}

variable "allocated_storage_gb" {
  description = "Initial storage of the primary in GiB."
  type        = number
  default     = 200
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling in GiB (0 disables storage autoscaling)."
  type        = number
  default     = 2000
}

variable "database_name" {
  description = "Database the indexer uses (DB_NAME)."
  type        = string
  default     = "indexer"
}

variable "username" {
  description = "Master user the services connect as (DB_USERNAME)."
  type        = string
  default     = "indexer"
}

variable "multi_az" {
  description = "Keep a synchronous standby of the primary in another zone."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days automated backups are kept (must be at least 1 for a read replica)."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the primary until this is turned off."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete the primary without a final snapshot (only for throwaway environments)."
  type        = bool
  default     = false
}

variable "parameters" {
  description = "Extra or overriding database parameters (name => value), applied at the next reboot when static."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
