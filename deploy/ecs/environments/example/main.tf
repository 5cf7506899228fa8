# One indexer environment: network, load balancer, cluster, data stores and image repository.
# The components themselves (services and the bazooka task) are in services.tf, the security
# groups that connect them in security.tf.

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  name = "${var.environment}-indexer"
  tags = merge(var.tags, {
    Environment = var.environment
    Project     = "indexer"
  })
  availability_zones   = coalesce(var.availability_zones, slice(data.aws_availability_zones.available.names, 0, 3))
  create_ecr           = var.image_repository_url == null
  image_repository_url = local.create_ecr ? module.ecr[0].repository_url : var.image_repository_url
  image_repository_arn = local.create_ecr ? module.ecr[0].repository_arn : null
  image                = "${local.image_repository_url}:${var.image_tag}"
}

module "network" {
  source = "../../modules/network"

  name                = local.name
  cidr_block          = var.vpc_cidr
  availability_zones  = local.availability_zones
  single_nat_gateway  = var.single_nat_gateway
  interface_endpoints = var.vpc_interface_endpoints
  tags                = local.tags
}

module "alb" {
  source = "../../modules/alb"

  name                 = local.name
  vpc_id               = module.network.vpc_id
  public_subnet_ids    = module.network.public_subnet_ids
  domain_name          = var.domain_name
  certificate_arn      = var.certificate_arn
  route53_zone_id      = var.route53_zone_id
  ingress_cidrs        = var.ingress_cidrs
  idle_timeout_seconds = var.alb_idle_timeout_seconds
  deletion_protection  = var.alb_deletion_protection
  access_logs_bucket   = var.alb_access_logs_bucket
  tags                 = local.tags
}

module "ecr" {
  source = "../../modules/ecr"
  count  = local.create_ecr ? 1 : 0

  name           = local.name
  images_to_keep = var.ecr_images_to_keep
  tags           = local.tags
}

module "ecs_cluster" {
  source = "../../modules/ecs_cluster"

  name               = local.name
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "rds" {
  source = "../../modules/rds"

  name                     = local.name
  vpc_id                   = module.network.vpc_id
  subnet_ids               = module.network.private_subnet_ids
  engine_version           = var.rds_engine_version
  parameter_group_family   = var.rds_parameter_group_family
  instance_class           = var.rds_instance_class
  replica_instance_class   = var.rds_replica_instance_class
  create_read_replica      = var.rds_create_read_replica
  allocated_storage_gb     = var.rds_allocated_storage_gb
  max_allocated_storage_gb = var.rds_max_allocated_storage_gb
  multi_az                 = var.rds_multi_az
  deletion_protection      = var.rds_deletion_protection
  skip_final_snapshot      = var.rds_skip_final_snapshot
  tags                     = local.tags
}

module "redis" {
  source = "../../modules/redis"

  name                 = "${local.name}-redis"
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  engine               = var.redis_engine
  engine_version       = var.redis_engine_version
  parameter_group_name = var.redis_parameter_group_name
  node_type            = var.redis_node_type
  node_count           = var.redis_node_count
  tags                 = local.tags
}

module "rate_limit_redis" {
  source = "../../modules/redis"

  name                    = "${local.name}-ratelimit"
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  engine                  = var.redis_engine
  engine_version          = var.redis_engine_version
  parameter_group_name    = var.redis_parameter_group_name
  node_type               = var.rate_limit_redis_node_type
  node_count              = var.rate_limit_redis_node_count
  snapshot_retention_days = 0
  tags                    = local.tags
}

module "msk" {
  source = "../../modules/msk"

  name               = local.name
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  kafka_version      = var.msk_kafka_version
  instance_type      = var.msk_instance_type
  broker_count       = var.msk_broker_count
  ebs_volume_size_gb = var.msk_ebs_volume_size_gb
  retention_hours    = var.kafka_retention_hours
  log_retention_days = var.log_retention_days
  tags               = local.tags
}
