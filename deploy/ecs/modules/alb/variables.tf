variable "name" {
  description = "Prefix for every resource name, e.g. \"staging-indexer\". The load balancer name is cut to AWS's 32 characters."
  type        = string
}

variable "vpc_id" {
  description = "VPC the load balancer and its security group live in."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (at least two zones) the load balancer is placed in."
  type        = list(string)
}

variable "domain_name" {
  description = "Public host name of the API, e.g. \"indexer.example.com\". The TLS certificate is for this name."
  type        = string
}

variable "certificate_arn" {
  description = "ARN of an existing ACM certificate for domain_name in this region. Leave null to have one issued and validated through route53_zone_id."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Public Route 53 zone holding domain_name. When set, an alias record for the load balancer is created, and the ACM certificate is validated there when certificate_arn is null."
  type        = string
  default     = null
}

variable "ingress_cidrs" {
  description = "Client address ranges allowed to reach ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "ssl_policy" {
  description = "TLS negotiation policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout_seconds" {
  description = "Seconds a connection may stay silent. Websockets (socks) count as idle between frames, so keep this above the socks heartbeat interval."
  type        = number
  default     = 300
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer until this is turned off."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for access logs (its policy must let the regional ELB account write). Null disables access logs."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
