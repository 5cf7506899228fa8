output "task_definition_arn" {
  description = "Task definition revision of the bazooka task (run it by hand with run-bazooka.sh or aws ecs run-task)."
  value       = aws_ecs_task_definition.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of bazooka runs."
  value       = aws_cloudwatch_log_group.this.name
}

output "run_id" {
  description = "ID of the last run from terraform apply (null when run_on_apply is false). Depending on it orders a resource after a successful run."
  value       = one(terraform_data.run[*].id)
}
