# The components and how they are wired. Facts about the binaries (command, ports, health paths,
# the variables they read) must match the Rust sources: deploy/ecs/tests/validate.py checks every
# port, path and variable name here against them.

locals {
  # Admin routes every binary serves on its ADMIN_PORT (libs/base/src/admin.rs).
  health = {
    liveness_path  = "/healthz" # container health check: failing replaces the task
    readiness_path = "/readyz"  # load balancer check: failing takes the task out of rotation
  }

  # Environment shared by a group of components, keyed by what they need.
  environment_groups = {
    base = {
      NODE_ENV              = var.node_environment
      LOG_LEVEL             = var.log_level
      LOG_FORMAT            = "json"
      BUGSNAG_RELEASE_STAGE = coalesce(var.bugsnag_release_stage, var.environment)
      SEND_BUGSNAG_ERRORS   = tostring(var.send_bugsnag_errors)
    }
    postgres = {
      DB_HOSTNAME          = module.rds.address
      DB_READONLY_HOSTNAME = module.rds.reader_address
      DB_PORT              = tostring(module.rds.port)
      DB_NAME              = module.rds.database_name
      DB_USERNAME          = module.rds.username
    }
    redis = {
      REDIS_URL          = module.redis.url
      REDIS_READONLY_URL = module.redis.reader_url
    }
    rate_limit_redis = {
      RATE_LIMIT_REDIS_URL = module.rate_limit_redis.url
    }
    kafka = {
      KAFKA_BROKER_URLS = module.msk.bootstrap_brokers
    }
  }

  # Secrets shared by a group of components (variable name => secret and JSON key).
  secret_groups = {
    base = {}
    postgres = {
      DB_PASSWORD = { secret_arn = module.rds.credentials_secret_arn, key = module.rds.password_secret_key }
    }
    redis            = {}
    rate_limit_redis = {}
    kafka            = {}
  }

  # Defaults per component; var.service_overrides changes sizes and adds variables.
  components = {
    # The single writer of Postgres: exactly one task, and the old one stops before the new one
    # starts (minimum 0 %, maximum 100 %).
    ender = {
      binary                             = "ender"
      admin_port                         = 9001
      public                             = null
      needs                              = ["postgres", "redis", "kafka"]
      environment                        = { PG_POOL_MIN = "10", PG_POOL_MAX = "30" }
      cpu                                = 2048
      memory                             = 4096
      desired_count                      = 1
      autoscaling                        = null
      deployment_minimum_healthy_percent = 0
      deployment_maximum_percent         = 100
      drain_during_migration             = true
      capacity_provider                  = "FARGATE"
    }
    # Off-chain order updates into Redis; scales up to the partition count of to-vulcan.
    vulcan = {
      binary                             = "vulcan"
      admin_port                         = 9002
      public                             = null
      needs                              = ["postgres", "redis", "kafka"]
      environment                        = { PG_POOL_MIN = "1", PG_POOL_MAX = "2" }
      cpu                                = 1024
      memory                             = 2048
      desired_count                      = 2
      autoscaling                        = { min_count = 2, max_count = 12, cpu_target_percent = 60 }
      deployment_minimum_healthy_percent = 100
      deployment_maximum_percent         = 200
      drain_during_migration             = true
      capacity_provider                  = "FARGATE"
    }
    # Periodic jobs; overlapping runs are prevented by Redis locks, so any count is safe. Pool of 4:
    # two regular jobs and one backfill run at once (MAX_CONCURRENT_*), each may hold a connection.
    roundtable = {
      binary                             = "roundtable"
      admin_port                         = 9003
      public                             = null
      needs                              = ["postgres", "redis", "kafka"]
      environment                        = { PG_POOL_MIN = "1", PG_POOL_MAX = "4" }
      cpu                                = 1024
      memory                             = 2048
      desired_count                      = 1
      autoscaling                        = { min_count = 1, max_count = 4, cpu_target_percent = 70 }
      deployment_minimum_healthy_percent = 100
      deployment_maximum_percent         = 200
      drain_during_migration             = true
      capacity_provider                  = "FARGATE"
    }
    # REST and GraphQL behind /v4/* and /graphql; reads go to the replica.
    comlink = {
      binary     = "comlink"
      admin_port = 9004
      public = {
        port     = 8080
        port_env = "PORT"
        paths    = ["/v4/*", "/graphql", "/graphql/*"]
        priority = 30
      }
      needs       = ["postgres", "redis", "rate_limit_redis"]
      environment = { PG_POOL_MIN = "1", PG_POOL_MAX = "4" }
      cpu         = 1024
      memory      = 2048
      # requests_per_target: ALB requests per task per minute.
      desired_count                      = 2
      autoscaling                        = { min_count = 2, max_count = 20, cpu_target_percent = 60, requests_per_target = 6000 }
      deployment_minimum_healthy_percent = 100
      deployment_maximum_percent         = 200
      drain_during_migration             = false
      capacity_provider                  = "FARGATE"
    }
    # Websocket fan-out behind /v4/ws. Every task consumes every websocket topic, so each needs
    # its own consumer group. Scales on CPU, memory and connections: a websocket is one ALB
    # request, so requests per target per minute is the rate of new connections per task.
    socks = {
      binary     = "socks"
      admin_port = 9005
      public = {
        port     = 8081
        port_env = "WS_PORT"
        paths    = ["/v4/ws"]
        priority = 20
      }
      needs = ["postgres", "kafka"]
      environment = {
        PG_POOL_MIN                            = "1"
        PG_POOL_MAX                            = "2"
        KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS = "true"
      }
      cpu                                = 2048
      memory                             = 8192
      desired_count                      = 2
      autoscaling                        = { min_count = 2, max_count = 20, cpu_target_percent = 60, memory_target_percent = 75, requests_per_target = 600 }
      deployment_minimum_healthy_percent = 100
      deployment_maximum_percent         = 200
      drain_during_migration             = false
      capacity_provider                  = "FARGATE"
    }
  }

  # The one-off admin task run before every rollout.
  bazooka = {
    binary = "bazooka"
    needs  = ["postgres", "kafka"]
    environment = {
      KAFKA_REPLICATION_FACTOR = tostring(module.msk.replication_factor)
      PG_POOL_MAX              = "2"
    }
    cpu    = 512
    memory = 1024
  }

  services = {
    for name, component in local.components : name => {
      binary     = component.binary
      admin_port = component.admin_port
      public     = component.public
      cpu        = coalesce(try(var.service_overrides[name].cpu, null), component.cpu)
      memory     = coalesce(try(var.service_overrides[name].memory, null), component.memory)
      environment = merge(concat(
        [for group in concat(["base"], component.needs) : local.environment_groups[group]],
        [component.environment, try(var.service_overrides[name].extra_environment, {})],
      )...)
      secrets           = merge([for group in concat(["base"], component.needs) : local.secret_groups[group]]...)
      secret_keys       = try(var.service_overrides[name].secret_keys, [])
      desired_count     = coalesce(try(var.service_overrides[name].desired_count, null), component.desired_count)
      capacity_provider = coalesce(try(var.service_overrides[name].capacity_provider, null), component.capacity_provider)
      autoscaling = component.autoscaling == null ? null : merge(component.autoscaling, {
        min_count          = coalesce(try(var.service_overrides[name].min_count, null), try(component.autoscaling.min_count, null))
        max_count          = coalesce(try(var.service_overrides[name].max_count, null), try(component.autoscaling.max_count, null))
        cpu_target_percent = coalesce(try(var.service_overrides[name].cpu_target_percent, null), try(component.autoscaling.cpu_target_percent, null))
      })
      deployment_minimum_healthy_percent = component.deployment_minimum_healthy_percent
      deployment_maximum_percent         = component.deployment_maximum_percent
    }
  }

  # Writers stopped while bazooka migrates, with the counts to bring them back to.
  drain_services = var.drain_writers_during_migration ? {
    for name, component in local.components : "${local.name}-${name}" => local.services[name].desired_count
    if component.drain_during_migration
  } : {}
}

module "bazooka" {
  source = "../../modules/bazooka_task"

  name                 = "${local.name}-bazooka"
  cluster_name         = module.ecs_cluster.name
  image                = local.image
  image_repository_arn = local.image_repository_arn
  cpu                  = local.bazooka.cpu
  memory               = local.bazooka.memory
  cpu_architecture     = var.cpu_architecture
  steps                = var.bazooka_steps
  environment = merge(concat(
    [for group in concat(["base"], local.bazooka.needs) : local.environment_groups[group]],
    [local.bazooka.environment],
  )...)
  secrets            = merge([for group in concat(["base"], local.bazooka.needs) : local.secret_groups[group]]...)
  subnet_ids         = module.network.private_subnet_ids
  security_group_id  = aws_security_group.workload["bazooka"].id
  run_on_apply       = var.run_bazooka_on_apply
  run_token          = var.bazooka_run_token
  drain_services     = local.drain_services
  timeout_minutes    = var.bazooka_timeout_minutes
  aws_cli            = var.aws_cli
  log_retention_days = var.log_retention_days
  tags               = local.tags
  # The task must be able to reach Postgres and Kafka before it runs.
  run_after = concat(
    [for key, rule in aws_vpc_security_group_ingress_rule.data_store : rule.id if local.data_store_access[key].workload == "bazooka"],
    [for key, rule in aws_vpc_security_group_egress_rule.data_store : rule.id if local.data_store_access[key].workload == "bazooka"],
    [aws_vpc_security_group_egress_rule.https["bazooka"].id],
  )
}

module "service" {
  source   = "../../modules/ecs_service"
  for_each = local.services

  name                 = "${local.name}-${each.key}"
  component            = each.key
  cluster_arn          = module.ecs_cluster.arn
  cluster_name         = module.ecs_cluster.name
  image                = local.image
  image_repository_arn = local.image_repository_arn
  command              = [each.value.binary]
  cpu                  = each.value.cpu
  memory               = each.value.memory
  cpu_architecture     = var.cpu_architecture
  environment          = each.value.environment
  secrets              = each.value.secrets
  secret_keys          = each.value.secret_keys
  admin_port           = each.value.admin_port
  liveness_path        = local.health.liveness_path
  readiness_path       = local.health.readiness_path
  public = each.value.public == null ? null : {
    port     = each.value.public.port
    paths    = each.value.public.paths
    priority = each.value.public.priority
  }
  listener_arn                       = module.alb.https_listener_arn
  alb_arn_suffix                     = module.alb.arn_suffix
  vpc_id                             = module.network.vpc_id
  subnet_ids                         = module.network.private_subnet_ids
  security_group_id                  = aws_security_group.workload[each.key].id
  desired_count                      = each.value.desired_count
  autoscaling                        = each.value.autoscaling
  deployment_minimum_healthy_percent = each.value.deployment_minimum_healthy_percent
  deployment_maximum_percent         = each.value.deployment_maximum_percent
  capacity_provider                  = each.value.capacity_provider
  enable_execute_command             = var.enable_execute_command
  exec_log_group_name                = module.ecs_cluster.exec_log_group_name
  wait_for_steady_state              = var.wait_for_steady_state
  log_retention_days                 = var.log_retention_days
  tags                               = local.tags

  # Upgrades roll only after bazooka migrated successfully (a failed run fails the apply here),
  # and tasks start only once their security-group rules exist.
  depends_on = [
    module.bazooka,
    aws_vpc_security_group_ingress_rule.data_store,
    aws_vpc_security_group_egress_rule.data_store,
    aws_vpc_security_group_egress_rule.https,
    aws_vpc_security_group_ingress_rule.from_alb,
    aws_vpc_security_group_egress_rule.alb_to_service,
  ]
}
