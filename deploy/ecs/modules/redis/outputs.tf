output "url" {
  description = "redis:// URL of the primary endpoint (writes)."
  value       = "redis://${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
}

output "reader_url" {
  description = "redis:// URL of the reader endpoint (reads spread over replicas)."
  value       = "redis://${aws_elasticache_replication_group.this.reader_endpoint_address}:6379"
}

output "port" {
  description = "Port clients connect to."
  value       = 6379
}

output "security_group_id" {
  description = "Security group of the nodes; add ingress rules from clients to it."
  value       = aws_security_group.this.id
}
