variable "name" {
  description = "Prefix for every resource name, e.g. \"staging-indexer\"."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 range of the VPC. A /16 leaves room for three /20 private and three /24 public subnets."
  type        = string
  default     = "10.0.0.0/16"
}

variable "availability_zones" {
  description = "Exactly three availability zones; one public and one private subnet is created in each."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 3
    error_message = "Give exactly three availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by all private subnets (cheaper, for development) instead of one per availability zone (survives the loss of a zone)."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints instead of the NAT gateways (short names, e.g. \"ecr.api\"). An S3 gateway endpoint is always created because ECR image layers come from S3."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts", "ssmmessages"]
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
