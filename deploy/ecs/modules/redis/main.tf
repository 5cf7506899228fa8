# One ElastiCache replication group (cluster mode off): a primary endpoint for writes and a reader
# endpoint spread over the replicas. Instantiated twice: the main cache and the rate-limit store.
#
# No in-transit encryption: the services' Redis client is built without TLS (and AUTH tokens
# require TLS). Access is limited by the security group to the components that need it.

locals {
  failover = var.node_count >= 2
}

resource "aws_security_group" "this" {
  name        = var.name
  description = "ElastiCache ${var.name}; clients are allowed by rules the caller adds"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = var.name })
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "Indexer cache ${var.name}"
  engine                     = var.engine
  engine_version             = var.engine_version
  parameter_group_name       = var.parameter_group_name
  node_type                  = var.node_type
  num_cache_clusters         = var.node_count
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.this.id]
  automatic_failover_enabled = local.failover
  multi_az_enabled           = local.failover
  at_rest_encryption_enabled = true
  transit_encryption_enabled = false
  snapshot_retention_limit   = var.snapshot_retention_days
  apply_immediately          = false
  tags                       = var.tags
}
