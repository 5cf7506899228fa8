# Two roles per workload. The execution role is what ECS itself uses to start the task (pull the
# image, create the log stream, read the task's secrets); the task role is what the running
# program may do, which for most components is nothing at all.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Only tasks of this account may assume the roles (confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }

  dynamic "statement" {
    for_each = var.image_repository_arn == null ? [] : [var.image_repository_arn]
    content {
      sid       = "PullImage"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    # GetAuthorizationToken has no resource-level permissions.
    for_each = var.image_repository_arn == null ? [] : ["*"]
    content {
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(var.secret_arns) == 0 ? [] : [var.secret_arns]
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-task"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

locals {
  exec_log_group_arn = var.exec_log_group_name == null ? null : "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${var.exec_log_group_name}"
  exec_statements = var.enable_execute_command ? concat([
    {
      sid       = "EcsExecChannels"
      actions   = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
      resources = ["*"]
    }], local.exec_log_group_arn == null ? [] : [
    {
      sid       = "EcsExecFindLogGroup"
      actions   = ["logs:DescribeLogGroups"]
      resources = ["*"]
    },
    {
      sid       = "EcsExecSessionLogs"
      actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      resources = ["${local.exec_log_group_arn}:*"]
    }
  ]) : []
  task_statements = concat(local.exec_statements, var.task_policy_statements)
}

data "aws_iam_policy_document" "task" {
  count = length(local.task_statements) == 0 ? 0 : 1

  dynamic "statement" {
    for_each = local.task_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "task" {
  count  = length(local.task_statements) == 0 ? 0 : 1
  name   = "application"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task[0].json
}
