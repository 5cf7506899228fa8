# One component as a Fargate service: its log group, its own secret, its two IAM roles, the task
# definition with a container health check, and, for public components, a target group and a path
# rule on the shared HTTPS listener. With autoscaling the desired count belongs to Application
# Auto Scaling and Terraform stops managing it.

data "aws_region" "current" {}

locals {
  is_public = var.public != null
  own_secrets = {
    for key in var.secret_keys : key => "${aws_secretsmanager_secret.this.arn}:${key}::"
  }
  # valueFrom is "<secret-arn>:<json-key>:<version-stage>:<version-id>"; empty = current version.
  secrets = merge(
    { for name, ref in var.secrets : name => "${ref.secret_arn}:${ref.key}::" },
    local.own_secrets,
  )
  secret_arns = distinct(concat(
    [aws_secretsmanager_secret.this.arn],
    [for ref in values(var.secrets) : ref.secret_arn],
  ))
  ports = concat([var.admin_port], local.is_public ? [var.public.port] : [])

  container = {
    name      = var.component
    image     = var.image
    command   = var.command
    essential = true
    portMappings = [
      for port in local.ports : { containerPort = port, hostPort = port, protocol = "tcp" }
    ]
    environment = [for name in sort(keys(var.environment)) : { name = name, value = var.environment[name] }]
    secrets     = [for name in sort(keys(local.secrets)) : { name = name, valueFrom = local.secrets[name] }]
    healthCheck = {
      command     = ["CMD-SHELL", "curl -fsS --max-time 4 -o /dev/null http://127.0.0.1:${var.admin_port}${var.liveness_path} || exit 1"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = var.container_start_period_seconds
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = var.component
        # A slow log pipeline drops lines instead of blocking the service.
        mode            = "non-blocking"
        max-buffer-size = "10m"
      }
    }
    stopTimeout            = var.stop_timeout_seconds
    readonlyRootFilesystem = !var.enable_execute_command
    linuxParameters        = { initProcessEnabled = true }
    ulimits = [
      { name = "nofile", softLimit = var.open_files_limit, hardLimit = var.open_files_limit }
    ]
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# The component's own secret: a JSON object an operator fills (e.g. BUGSNAG_KEY); Terraform
# creates it empty and never overwrites what was put in.
resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.name}/app"
  description             = "Environment secrets of ${var.name} (JSON object, keys are variable names)"
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "initial" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({})

  lifecycle {
    ignore_changes = [secret_string]
  }
}

module "iam" {
  source = "../iam"

  name                   = var.name
  log_group_arn          = aws_cloudwatch_log_group.this.arn
  image_repository_arn   = var.image_repository_arn
  secret_arns            = local.secret_arns
  enable_execute_command = var.enable_execute_command
  exec_log_group_name    = var.exec_log_group_name
  task_policy_statements = var.task_policy_statements
  tags                   = var.tags
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

  lifecycle {
    precondition {
      condition     = length(setintersection(keys(var.environment), keys(local.secrets))) == 0
      error_message = "A variable is set both as plain environment and as a secret: ${join(", ", setintersection(keys(var.environment), keys(local.secrets)))}."
    }
  }
}

resource "aws_lb_target_group" "this" {
  count                = local.is_public ? 1 : 0
  name                 = substr(var.name, 0, 32)
  port                 = var.public.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay_seconds
  tags                 = var.tags

  # Readiness on the admin port, while traffic goes to the public port.
  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = tostring(var.admin_port)
    path                = var.readiness_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener_rule" "this" {
  count        = local.is_public ? 1 : 0
  listener_arn = var.listener_arn
  priority     = var.public.priority
  tags         = var.tags

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }

  condition {
    path_pattern {
      values = var.public.paths
    }
  }

  lifecycle {
    precondition {
      condition     = var.listener_arn != null && var.alb_arn_suffix != null
      error_message = "A public service needs listener_arn and alb_arn_suffix."
    }
  }
}

# Two variants of the service: Terraform owns the desired count of a fixed service, while an
# autoscaled service's count is left to Application Auto Scaling (ignore_changes cannot be
# conditional, hence two resources with count).
resource "aws_ecs_service" "fixed" {
  count                              = var.autoscaling == null ? 1 : 0
  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  platform_version                   = "LATEST"
  enable_execute_command             = var.enable_execute_command
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent
  health_check_grace_period_seconds  = local.is_public ? var.health_check_grace_period_seconds : null
  wait_for_steady_state              = var.wait_for_steady_state
  tags                               = merge(var.tags, { DesiredCount = tostring(var.desired_count) })

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider
    weight            = 1
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = local.is_public ? [var.public.port] : []
    content {
      target_group_arn = aws_lb_target_group.this[0].arn
      container_name   = var.component
      container_port   = load_balancer.value
    }
  }

  depends_on = [aws_lb_listener_rule.this, aws_secretsmanager_secret_version.initial]
}

resource "aws_ecs_service" "scaled" {
  count                              = var.autoscaling == null ? 0 : 1
  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  platform_version                   = "LATEST"
  enable_execute_command             = var.enable_execute_command
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent
  health_check_grace_period_seconds  = local.is_public ? var.health_check_grace_period_seconds : null
  wait_for_steady_state              = var.wait_for_steady_state
  tags                               = merge(var.tags, { DesiredCount = tostring(var.desired_count) })

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider
    weight            = 1
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = local.is_public ? [var.public.port] : []
    content {
      target_group_arn = aws_lb_target_group.this[0].arn
      container_name   = var.component
      container_port   = load_balancer.value
    }
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener_rule.this, aws_secretsmanager_secret_version.initial]
}

locals {
  service_name = one(concat(aws_ecs_service.fixed[*].name, aws_ecs_service.scaled[*].name))
}

resource "aws_appautoscaling_target" "this" {
  count              = var.autoscaling == null ? 0 : 1
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.scaled[0].name}"
  min_capacity       = var.autoscaling.min_count
  max_capacity       = var.autoscaling.max_count
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  count              = var.autoscaling == null ? 0 : 1
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "memory" {
  count              = try(var.autoscaling.memory_target_percent, null) == null ? 0 : 1
  name               = "${var.name}-memory"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.memory_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  count              = local.is_public && try(var.autoscaling.requests_per_target, null) != null ? 1 : 0
  name               = "${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${var.alb_arn_suffix}/${aws_lb_target_group.this[0].arn_suffix}"
    }
  }
}
