output "api_url" {
  description = "Base URL of the REST API (comlink), e.g. <api_url>/height."
  value       = "${module.alb.base_url}/v4"
}

output "graphql_url" {
  description = "URL of the GraphQL endpoint (comlink)."
  value       = "${module.alb.base_url}/graphql"
}

output "websocket_url" {
  description = "URL of the websocket feed (socks)."
  value       = "${module.alb.websocket_base_url}/v4/ws"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer; point domain_name at it when Route 53 is not managed here."
  value       = module.alb.dns_name
}

output "image_repository_url" {
  description = "Where to push the image (tag it with image_tag)."
  value       = local.image_repository_url
}

output "cluster_name" {
  description = "ECS cluster of every component."
  value       = module.ecs_cluster.name
}

output "service_names" {
  description = "ECS service name per component."
  value       = { for name, service in module.service : name => service.service_name }
}

output "log_groups" {
  description = "CloudWatch log group per component, bazooka included."
  value = merge(
    { for name, service in module.service : name => service.log_group_name },
    { bazooka = module.bazooka.log_group_name },
  )
}

output "service_secret_arns" {
  description = "Each component's own secret (JSON object): put e.g. BUGSNAG_KEY there, then list the key in service_overrides[...].secret_keys."
  value       = { for name, service in module.service : name => service.secret_arn }
}

output "bazooka_task_definition_arn" {
  description = "Task definition of the bazooka job (migrate, create topics), to run by hand with modules/bazooka_task/run-bazooka.sh."
  value       = module.bazooka.task_definition_arn
}

output "bazooka_run_network" {
  description = "Subnets and security group a manual bazooka run needs (SUBNETS and SECURITY_GROUPS of run-bazooka.sh)."
  value = {
    subnets         = join(",", module.network.private_subnet_ids)
    security_groups = aws_security_group.workload["bazooka"].id
  }
}

output "database_credentials_secret_arn" {
  description = "Secret holding DB_USERNAME and DB_PASSWORD of Postgres."
  value       = module.rds.credentials_secret_arn
}

output "postgres_address" {
  description = "Host name of the Postgres primary (inside the VPC)."
  value       = module.rds.address
}

output "kafka_bootstrap_brokers" {
  description = "Kafka brokers (inside the VPC)."
  value       = module.msk.bootstrap_brokers
}
