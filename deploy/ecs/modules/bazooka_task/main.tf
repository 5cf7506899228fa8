# bazooka as a one-off Fargate task: `migrate`, then `create-topics` (by default), in one
# container that stops at the first failing step. With run_on_apply the task runs from
# terraform apply (run-bazooka.sh: run-task, poll until stopped, check the exit code) whenever
# its task definition changes, so a new image migrates before anything that depends on this
# module rolls, and a failed migration fails the apply.

data "aws_region" "current" {}

locals {
  container_name = "bazooka"
  secrets = {
    for name, ref in var.secrets : name => "${ref.secret_arn}:${ref.key}::"
  }
  container = {
    name      = local.container_name
    image     = var.image
    essential = true
    # sh -e: the first failing step ends the task with that step's exit code.
    command     = ["/bin/sh", "-ec", join("\n", [for step in var.steps : "bazooka ${step}"])]
    environment = [for name in sort(keys(var.environment)) : { name = name, value = var.environment[name] }]
    secrets     = [for name in sort(keys(local.secrets)) : { name = name, valueFrom = local.secrets[name] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "bazooka"
      }
    }
    readonlyRootFilesystem = true
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

module "iam" {
  source = "../iam"

  name                 = var.name
  log_group_arn        = aws_cloudwatch_log_group.this.arn
  image_repository_arn = var.image_repository_arn
  secret_arns          = distinct([for ref in values(var.secrets) : ref.secret_arn])
  tags                 = var.tags
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = module.iam.execution_role_arn
  task_role_arn            = module.iam.task_role_arn
  container_definitions    = jsonencode([local.container])
  tags                     = var.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }
}

resource "terraform_data" "run" {
  count = var.run_on_apply ? 1 : 0

  # A new revision (image, environment, steps) or a new token runs the task again.
  triggers_replace = {
    task_definition = aws_ecs_task_definition.this.arn
    token           = var.run_token
  }
  # Only orders this resource after them; changing them does not run the task again.
  input = var.run_after

  provisioner "local-exec" {
    interpreter = ["bash"]
    command     = "${path.module}/run-bazooka.sh"
    environment = {
      AWS_CLI         = var.aws_cli
      REGION          = data.aws_region.current.name
      CLUSTER         = var.cluster_name
      TASK_DEFINITION = aws_ecs_task_definition.this.arn
      CONTAINER       = local.container_name
      SUBNETS         = join(",", var.subnet_ids)
      SECURITY_GROUPS = var.security_group_id
      DRAIN_SERVICES  = join(" ", [for service, desired in var.drain_services : "${service}=${desired}"])
      TIMEOUT_SECONDS = tostring(var.timeout_minutes * 60)
      LOG_GROUP       = aws_cloudwatch_log_group.this.name
    }
  }
}
