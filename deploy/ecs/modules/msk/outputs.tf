output "bootstrap_brokers" {
  description = "Comma-separated host:port list of the brokers (PLAINTEXT, port 9092): KAFKA_BROKER_URLS."
  value       = aws_msk_cluster.this.bootstrap_brokers
}

output "port" {
  description = "Port clients connect to."
  value       = 9092
}

output "replication_factor" {
  description = "Replication factor topics should be created with (KAFKA_REPLICATION_FACTOR)."
  value       = local.replication_factor
}

output "security_group_id" {
  description = "Security group of the brokers; add ingress rules from clients to it."
  value       = aws_security_group.this.id
}

output "arn" {
  description = "ARN of the cluster."
  value       = aws_msk_cluster.this.arn
}
