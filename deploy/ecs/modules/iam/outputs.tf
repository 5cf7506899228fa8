output "execution_role_arn" {
  description = "Role ECS uses to start the task (image pull, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Role the running program acts as."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the task role, for attaching further policies outside this module."
  value       = aws_iam_role.task.name
}
