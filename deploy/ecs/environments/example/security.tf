# Security groups: one per workload, with nothing allowed but what it needs. Every rule is
# generated from the components' `needs` and `public` fields in services.tf and refers to
# security groups, never to address ranges (except HTTPS out, for AWS APIs and error reporting).

locals {
  workloads = merge(
    { for name, component in local.components : name => component.needs },
    { bazooka = local.bazooka.needs },
  )

  data_stores = {
    postgres         = { security_group_id = module.rds.security_group_id, port = module.rds.port }
    redis            = { security_group_id = module.redis.security_group_id, port = module.redis.port }
    rate_limit_redis = { security_group_id = module.rate_limit_redis.security_group_id, port = module.rate_limit_redis.port }
    kafka            = { security_group_id = module.msk.security_group_id, port = module.msk.port }
  }

  # "<workload>-<store>" => which workload may reach which store.
  data_store_access = merge([
    for workload, needs in local.workloads : {
      for store in needs : "${workload}-${store}" => { workload = workload, store = store }
    }
  ]...)

  # The load balancer reaches a public service on its traffic port and its admin port (health).
  alb_access = merge([
    for name, component in local.components : component.public == null ? {} : {
      "${name}-traffic" = { workload = name, port = component.public.port }
      "${name}-health"  = { workload = name, port = component.admin_port }
    }
  ]...)
}

resource "aws_security_group" "workload" {
  for_each    = local.workloads
  name        = "${local.name}-${each.key}"
  description = "${each.key} tasks"
  vpc_id      = module.network.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-${each.key}" })
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each          = aws_security_group.workload
  security_group_id = each.value.id
  description       = "HTTPS to AWS APIs (image, secrets, logs) and error reporting"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "data_store" {
  for_each                     = local.data_store_access
  security_group_id            = aws_security_group.workload[each.value.workload].id
  referenced_security_group_id = local.data_stores[each.value.store].security_group_id
  description                  = "${each.value.workload} to ${each.value.store}"
  ip_protocol                  = "tcp"
  from_port                    = local.data_stores[each.value.store].port
  to_port                      = local.data_stores[each.value.store].port
}

resource "aws_vpc_security_group_ingress_rule" "data_store" {
  for_each                     = local.data_store_access
  security_group_id            = local.data_stores[each.value.store].security_group_id
  referenced_security_group_id = aws_security_group.workload[each.value.workload].id
  description                  = "${each.value.workload} to ${each.value.store}"
  ip_protocol                  = "tcp"
  from_port                    = local.data_stores[each.value.store].port
  to_port                      = local.data_stores[each.value.store].port
}

resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  for_each                     = local.alb_access
  security_group_id            = aws_security_group.workload[each.value.workload].id
  referenced_security_group_id = module.alb.security_group_id
  description                  = "load balancer to ${each.value.workload} port ${each.value.port}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_vpc_security_group_egress_rule" "alb_to_service" {
  for_each                     = local.alb_access
  security_group_id            = module.alb.security_group_id
  referenced_security_group_id = aws_security_group.workload[each.value.workload].id
  description                  = "load balancer to ${each.value.workload} port ${each.value.port}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}
