output "service_name" {
  description = "Name of the ECS service."
  value       = local.service_name
}

output "task_definition_arn" {
  description = "Task definition revision the service runs."
  value       = aws_ecs_task_definition.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the service."
  value       = aws_cloudwatch_log_group.this.name
}

output "secret_arn" {
  description = "The component's own secret (JSON object; keys listed in secret_keys become environment variables)."
  value       = aws_secretsmanager_secret.this.arn
}

output "task_role_arn" {
  description = "Role the running program acts as."
  value       = module.iam.task_role_arn
}

output "target_group_arn" {
  description = "Target group of a public service; null for internal ones."
  value       = local.is_public ? aws_lb_target_group.this[0].arn : null
}
