# ---------------------------------------------------------------------------------------------
# Identity
# ---------------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region of the whole stack, e.g. \"eu-west-1\"."
  type        = string
}

variable "environment" {
  description = "Short environment name used in every resource name, e.g. \"staging\" gives \"staging-indexer-comlink\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.environment))
    error_message = "environment must be 2-15 characters: lower-case letters, digits and hyphens, starting with a letter (names derived from it have AWS length limits)."
  }
}

variable "node_environment" {
  description = "NODE_ENV of every component: development, test, staging, testnet or production. Outside development and test, destructive bazooka commands require --force."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["development", "test", "staging", "testnet", "production"], var.node_environment)
    error_message = "node_environment must be one of development, test, staging, testnet, production."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Environment and Project are always set)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Network and edge
# ---------------------------------------------------------------------------------------------

variable "availability_zones" {
  description = "Three availability zones to spread over; null takes the first three of the region."
  type        = list(string)
  default     = null
}

variable "vpc_cidr" {
  description = "IPv4 range of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway instead of one per zone (cheaper; an outage of its zone cuts the others off the internet)."
  type        = bool
  default     = false
}

variable "vpc_interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints instead of NAT; [] to use NAT for everything."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts", "ssmmessages"]
}

variable "domain_name" {
  description = "Public host name of the API and websocket, e.g. \"indexer.example.com\"."
  type        = string
}

variable "certificate_arn" {
  description = "Existing ACM certificate for domain_name in var.region; null issues one, validated in route53_zone_id."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Public Route 53 zone of domain_name: gets the alias record (and the certificate validation records). Null when DNS is managed elsewhere: point domain_name at the alb_dns_name output yourself."
  type        = string
  default     = null
}

variable "ingress_cidrs" {
  description = "Client address ranges allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_idle_timeout_seconds" {
  description = "Load balancer idle timeout; websocket connections without traffic for longer are closed."
  type        = number
  default     = 300
}

variable "alb_deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "S3 bucket for load balancer access logs; null disables them."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------
# Image and runtime
# ---------------------------------------------------------------------------------------------

variable "image_tag" {
  description = "Tag of the indexer image to run (every component and bazooka run the same image). Changing it is an upgrade: bazooka migrates first, then the services roll."
  type        = string
}

variable "image_repository_url" {
  description = "Repository URL of the image when it is not in the ECR repository this stack creates; null creates \"<environment>-indexer\" in ECR."
  type        = string
  default     = null
}

variable "ecr_images_to_keep" {
  description = "Images the created ECR repository keeps."
  type        = number
  default     = 100
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 for every task; must match the image."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every component (a syslog level name or a tracing filter directive)."
  type        = string
  default     = "info"
}

variable "bugsnag_release_stage" {
  description = "BUGSNAG_RELEASE_STAGE; null uses the environment name. The Bugsnag key itself is a secret: put BUGSNAG_KEY into each component's secret and list it in service_overrides[...].secret_keys."
  type        = string
  default     = null
}

variable "send_bugsnag_errors" {
  description = "SEND_BUGSNAG_ERRORS of every component."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days every log group keeps its events."
  type        = number
  default     = 30
}

variable "enable_execute_command" {
  description = "Allow `aws ecs execute-command` into running service tasks (their root filesystem is then writable)."
  type        = bool
  default     = false
}

variable "wait_for_steady_state" {
  description = "Make terraform apply wait until every service deployment has finished."
  type        = bool
  default     = true
}

variable "service_overrides" {
  description = <<-EOT
    Per-component changes to the defaults in services.tf, keyed by component (ender, vulcan,
    roundtable, comlink, socks). cpu/memory must form a Fargate size. desired_count is the fixed
    count (ender: always 1) or the starting count; min_count/max_count bound autoscaling.
    extra_environment adds plain variables (names the binary reads); secret_keys lists keys of the
    component's own secret ("<environment>-indexer-<component>/app") to inject, e.g. BUGSNAG_KEY.
  EOT
  type = map(object({
    cpu                = optional(number)
    memory             = optional(number)
    desired_count      = optional(number)
    min_count          = optional(number)
    max_count          = optional(number)
    cpu_target_percent = optional(number)
    capacity_provider  = optional(string)
    extra_environment  = optional(map(string), {})
    secret_keys        = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = length(setsubtract(keys(var.service_overrides), ["ender", "vulcan", "roundtable", "comlink", "socks"])) == 0
    error_message = "service_overrides keys must be components: ender, vulcan, roundtable, comlink, socks."
  }

  validation {
    condition     = try(var.service_overrides["ender"].desired_count, null) == null || try(var.service_overrides["ender"].desired_count, null) == 1
    error_message = "ender is the single writer: its desired_count is always 1."
  }
}

# ---------------------------------------------------------------------------------------------
# Postgres (RDS)
# ---------------------------------------------------------------------------------------------

variable "rds_engine_version" {
  description = "PostgreSQL version of RDS."
  type        = string
  default     = "16"
}

variable "rds_parameter_group_family" {
  description = "RDS parameter group family matching rds_engine_version."
  type        = string
  default     = "postgres16"
}

variable "rds_instance_class" {
  description = "Instance class of the primary."
  type        = string
  default     = "db.r6g.xlarge"
}

variable "rds_replica_instance_class" {
  description = "Instance class of the read replica; null uses rds_instance_class."
  type        = string
  default     = null
}

variable "rds_create_read_replica" {
  description = "Create the read replica that readers (DB_READONLY_HOSTNAME) use."
  type        = bool
  default     = true
}

variable "rds_allocated_storage_gb" {
  description = "Initial database storage in GiB."
  type        = number
  default     = 200
}

variable "rds_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 2000
}

variable "rds_multi_az" {
  description = "Synchronous standby of the primary in another zone."
  type        = bool
  default     = true
}

variable "rds_deletion_protection" {
  description = "Protect the primary from deletion."
  type        = bool
  default     = true
}

variable "rds_skip_final_snapshot" {
  description = "Delete the database without a final snapshot (throwaway environments only)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------
# Redis (ElastiCache)
# ---------------------------------------------------------------------------------------------

variable "redis_engine" {
  description = "\"redis\" or \"valkey\" for both caches."
  type        = string
  default     = "redis"
}

variable "redis_engine_version" {
  description = "Engine version of both caches."
  type        = string
  default     = "7.1"
}

variable "redis_parameter_group_name" {
  description = "Parameter group of both caches; must match engine and version."
  type        = string
  default     = "default.redis7"
}

variable "redis_node_type" {
  description = "Node type of the main cache (order books, orders, candles' mid prices)."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_node_count" {
  description = "Nodes of the main cache (primary + replicas; 2 or more for failover)."
  type        = number
  default     = 2
}

variable "rate_limit_redis_node_type" {
  description = "Node type of the rate-limit cache (RATE_LIMIT_REDIS_URL, used by comlink)."
  type        = string
  default     = "cache.t4g.medium"
}

variable "rate_limit_redis_node_count" {
  description = "Nodes of the rate-limit cache."
  type        = number
  default     = 2
}

# ---------------------------------------------------------------------------------------------
# Kafka (MSK)
# ---------------------------------------------------------------------------------------------

variable "msk_kafka_version" {
  description = "Apache Kafka version of MSK."
  type        = string
  default     = "3.9.x"
}

variable "msk_instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_broker_count" {
  description = "Brokers (a multiple of 3, one set per zone)."
  type        = number
  default     = 3
}

variable "msk_ebs_volume_size_gb" {
  description = "Storage per broker in GiB."
  type        = number
  default     = 500
}

variable "kafka_retention_hours" {
  description = "How long Kafka keeps records."
  type        = number
  default     = 240
}

# ---------------------------------------------------------------------------------------------
# bazooka (migrations and topics)
# ---------------------------------------------------------------------------------------------

variable "bazooka_steps" {
  description = "bazooka subcommands the one-off task runs on every upgrade, in order (e.g. add \"--partitions 8\" to create-topics in small environments)."
  type        = list(string)
  default     = ["migrate", "create-topics"]
}

variable "run_bazooka_on_apply" {
  description = "Run the bazooka task from terraform apply when its task definition changes, before the services roll; a failure fails the apply. Needs the AWS CLI (v2) and bash where terraform runs."
  type        = bool
  default     = true
}

variable "bazooka_run_token" {
  description = "Change to any new value to run bazooka again on the next apply without other changes."
  type        = string
  default     = ""
}

variable "drain_writers_during_migration" {
  description = "Scale the writers (ender, vulcan, roundtable) to 0 and wait for them to stop before bazooka runs; they are scaled back afterwards whatever the outcome."
  type        = bool
  default     = true
}

variable "bazooka_timeout_minutes" {
  description = "How long apply waits for the bazooka task before stopping it and failing."
  type        = number
  default     = 30
}

variable "aws_cli" {
  description = "Command that runs the AWS CLI where terraform runs, e.g. \"aws --profile prod\" (must reach the same account and region as the provider)."
  type        = string
  default     = "aws"
}
