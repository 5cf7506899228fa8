variable "name" {
  description = "Cluster name, e.g. \"staging-indexer\"."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the brokers' security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per availability zone; brokers are spread evenly over them."
  type        = list(string)
}

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.9.x"
}

variable "broker_count" {
  description = "Number of brokers; a multiple of the number of subnets."
  type        = number
  default     = 3
}

variable "instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "ebs_volume_size_gb" {
  description = "Storage per broker in GiB."
  type        = number
  default     = 500
}

variable "retention_hours" {
  description = "How long records are kept (the reference keeps 10 days)."
  type        = number
  default     = 240
}

variable "log_retention_days" {
  description = "Days the broker log group keeps its events."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
