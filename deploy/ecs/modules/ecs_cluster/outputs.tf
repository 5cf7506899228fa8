output "arn" {
  description = "ARN of the cluster."
  value       = aws_ecs_cluster.this.arn
  # Services name capacity providers, which must be associated with the cluster first.
  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

output "name" {
  description = "Name of the cluster (autoscaling resource ids and the AWS CLI use it)."
  value       = aws_ecs_cluster_capacity_providers.this.cluster_name
}

output "exec_log_group_name" {
  description = "Log group of ECS Exec sessions."
  value       = aws_cloudwatch_log_group.exec.name
}
