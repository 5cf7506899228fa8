# `terraform test` (Terraform >= 1.7) from deploy/ecs/environments/example: plans the example
# environment and the service and bazooka modules against a mocked AWS provider, so it needs no
# AWS account. CI runs deploy/ecs/tests/validate.py instead (no Terraform binary there).

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_resource "aws_secretsmanager_secret" {
    override_during = plan
    defaults        = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stg-indexer-AbCdEf" }
  }
  mock_resource "aws_msk_cluster" {
    override_during = plan
    defaults        = { bootstrap_brokers = "b-1:9092,b-2:9092,b-3:9092" }
  }
  # Valid ARNs where the provider checks their shape (the mock would make random strings).
  mock_resource "aws_lb_target_group" {
    override_during = plan
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/stg-indexer-comlink/0123456789abcdef"
      arn_suffix = "targetgroup/stg-indexer-comlink/0123456789abcdef"
    }
  }
  mock_resource "aws_lb_listener" {
    override_during = plan
    defaults        = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/stg-indexer-alb/0123456789abcdef/0123456789abcdef" }
  }
  mock_resource "aws_lb" {
    override_during = plan
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/stg-indexer-alb/0123456789abcdef"
      arn_suffix = "app/stg-indexer-alb/0123456789abcdef"
    }
  }
  mock_resource "aws_iam_role" {
    override_during = plan
    defaults        = { arn = "arn:aws:iam::123456789012:role/stg-indexer-role" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    override_during = plan
    defaults        = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/stg-indexer" }
  }
  mock_resource "aws_ecs_cluster" {
    override_during = plan
    defaults        = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/stg-indexer" }
  }
  mock_resource "aws_ecs_task_definition" {
    override_during = plan
    defaults        = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/stg-indexer:1" }
  }
  mock_resource "aws_ecr_repository" {
    override_during = plan
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/stg-indexer"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stg-indexer"
    }
  }
}

variables {
  region          = "eu-west-1"
  environment     = "stg"
  domain_name     = "indexer.example.com"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
  image_tag       = "v1"
  service_overrides = {
    socks = { memory = 4096, max_count = 4 }
    ender = { extra_environment = { ENDER_MAX_LAG_MS = "60000" } }
  }
}

run "environment" {
  command = plan

  assert {
    condition     = local.services.ender.desired_count == 1 && local.services.ender.autoscaling == null
    error_message = "ender must run exactly one task without autoscaling."
  }
  assert {
    condition     = local.services.socks.memory == 4096 && local.services.socks.autoscaling.max_count == 4 && local.services.socks.autoscaling.min_count == 2
    error_message = "service_overrides must change only what they name."
  }
  assert {
    condition     = local.services.ender.environment["ENDER_MAX_LAG_MS"] == "60000" && local.services.ender.environment["NODE_ENV"] == "production"
    error_message = "extra_environment must be added to the shared environment."
  }
  assert {
    condition     = !contains(keys(local.services.socks.environment), "REDIS_URL") && local.services.socks.environment["KAFKA_BROKER_URLS"] == "b-1:9092,b-2:9092,b-3:9092"
    error_message = "socks gets exactly the groups it needs."
  }
  assert {
    condition     = keys(local.services.comlink.secrets) == ["DB_PASSWORD"] && local.services.comlink.environment["RATE_LIMIT_REDIS_URL"] != null
    error_message = "comlink gets the database password as a secret and the rate-limit Redis."
  }
  assert {
    condition     = length(local.data_store_access) == 16 && contains(keys(local.data_store_access), "bazooka-postgres")
    error_message = "security-group access must follow the needs of every workload."
  }
  assert {
    condition     = jsonencode(local.drain_services) == jsonencode({ "stg-indexer-ender" = 1, "stg-indexer-roundtable" = 1, "stg-indexer-vulcan" = 2 })
    error_message = "the writers are drained during migrations and restored to their configured counts."
  }
  assert {
    condition     = output.websocket_url == "wss://indexer.example.com/v4/ws" && output.api_url == "https://indexer.example.com/v4"
    error_message = "public URLs."
  }
}

run "public_autoscaled_service" {
  command = plan

  module {
    source = "../../modules/ecs_service"
  }

  variables {
    name                  = "stg-indexer-comlink"
    component             = "comlink"
    cluster_arn           = "arn:aws:ecs:eu-west-1:123456789012:cluster/stg-indexer"
    cluster_name          = "stg-indexer"
    image                 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stg-indexer:v1"
    command               = ["comlink"]
    cpu                   = 1024
    memory                = 2048
    environment           = { NODE_ENV = "production" }
    secrets               = { DB_PASSWORD = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", key = "DB_PASSWORD" } }
    secret_keys           = ["BUGSNAG_KEY"]
    admin_port            = 9004
    liveness_path         = "/healthz"
    readiness_path        = "/readyz"
    public                = { port = 8080, paths = ["/v4/*", "/graphql"], priority = 30 }
    listener_arn          = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/x/1/2"
    alb_arn_suffix        = "app/stg-indexer-alb/0123456789abcdef"
    vpc_id                = "vpc-1"
    subnet_ids            = ["subnet-a", "subnet-b", "subnet-c"]
    security_group_id     = "sg-1"
    desired_count         = 2
    autoscaling           = { min_count = 2, max_count = 20, cpu_target_percent = 60, requests_per_target = 6000 }
    wait_for_steady_state = false
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command[1] == "curl -fsS --max-time 4 -o /dev/null http://127.0.0.1:9004/healthz || exit 1"
    error_message = "the container health check calls the liveness path on the admin port."
  }
  assert {
    condition     = [for m in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings : m.containerPort] == [9004, 8080]
    error_message = "the container exposes the admin and the public port."
  }
  assert {
    condition     = [for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets : s.name] == ["BUGSNAG_KEY", "DB_PASSWORD"]
    error_message = "secrets come from the shared map and from the component's own secret."
  }
  assert {
    condition     = aws_lb_target_group.this[0].health_check[0].port == "9004" && aws_lb_target_group.this[0].health_check[0].path == "/readyz" && aws_lb_target_group.this[0].port == 8080
    error_message = "the load balancer sends traffic to the public port and checks readiness on the admin port."
  }
  assert {
    condition     = length(aws_ecs_service.scaled) == 1 && length(aws_ecs_service.fixed) == 0
    error_message = "an autoscaled service leaves its count to Application Auto Scaling."
  }
  assert {
    condition     = aws_appautoscaling_target.this[0].max_capacity == 20 && length(aws_appautoscaling_policy.requests) == 1 && length(aws_appautoscaling_policy.memory) == 0
    error_message = "scaling policies follow the autoscaling object."
  }
  assert {
    condition     = aws_ecs_service.scaled[0].deployment_circuit_breaker[0].rollback
    error_message = "failed deployments roll back."
  }
}

run "single_writer_service" {
  command = plan

  module {
    source = "../../modules/ecs_service"
  }

  variables {
    name                               = "stg-indexer-ender"
    component                          = "ender"
    cluster_arn                        = "arn:aws:ecs:eu-west-1:123456789012:cluster/stg-indexer"
    cluster_name                       = "stg-indexer"
    image                              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stg-indexer:v1"
    command                            = ["ender"]
    environment                        = { NODE_ENV = "production" }
    cpu                                = 2048
    memory                             = 4096
    admin_port                         = 9001
    liveness_path                      = "/healthz"
    readiness_path                     = "/readyz"
    vpc_id                             = "vpc-1"
    subnet_ids                         = ["subnet-a"]
    security_group_id                  = "sg-1"
    desired_count                      = 1
    deployment_minimum_healthy_percent = 0
    deployment_maximum_percent         = 100
    wait_for_steady_state              = false
  }

  assert {
    condition     = aws_ecs_service.fixed[0].desired_count == 1 && aws_ecs_service.fixed[0].deployment_maximum_percent == 100 && aws_ecs_service.fixed[0].deployment_minimum_healthy_percent == 0
    error_message = "the single writer never overlaps with its replacement."
  }
  assert {
    condition     = length(aws_appautoscaling_target.this) == 0 && length(aws_lb_target_group.this) == 0
    error_message = "an internal fixed service has no scaling and no target group."
  }
}

run "bazooka_task" {
  command = plan

  module {
    source = "../../modules/bazooka_task"
  }

  variables {
    name              = "stg-indexer-bazooka"
    cluster_name      = "stg-indexer"
    image             = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stg-indexer:v1"
    steps             = ["migrate", "create-topics --partitions 8"]
    environment       = { NODE_ENV = "production" }
    subnet_ids        = ["subnet-a", "subnet-b"]
    security_group_id = "sg-1"
    drain_services    = { "stg-indexer-ender" = 1 }
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].command == ["/bin/sh", "-ec", "bazooka migrate\nbazooka create-topics --partitions 8"]
    error_message = "the steps run in order and the first failure ends the task."
  }
  assert {
    condition     = length(terraform_data.run) == 1
    error_message = "the task runs from apply by default."
  }
}
