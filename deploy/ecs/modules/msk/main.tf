# MSK for the indexer's topics. Topics are not created here: the bazooka job creates them with
# the partition counts the code defines, and broker-side auto-creation stays off so a typo in a
# topic name fails loudly instead of creating a stray topic.
#
# Clients connect in PLAINTEXT on 9092 inside the VPC: the services' Kafka client (rdkafka) is
# built without TLS. Traffic between brokers is encrypted.

locals {
  replication_factor = min(3, var.broker_count)
  server_properties = {
    "auto.create.topics.enable"      = "false"
    "default.replication.factor"     = tostring(local.replication_factor)
    "min.insync.replicas"            = tostring(max(1, local.replication_factor - 1))
    "num.partitions"                 = "1"
    "message.max.bytes"              = "4194304"
    "replica.fetch.max.bytes"        = "4194304"
    "log.retention.hours"            = tostring(var.retention_hours)
    "unclean.leader.election.enable" = "true"
    "delete.topic.enable"            = "true"
    # Consumers fetch from the replica in their own zone.
    "replica.selector.class" = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
  }
}

resource "aws_security_group" "this" {
  name        = "${var.name}-kafka"
  description = "MSK brokers; clients are allowed by rules the caller adds"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-kafka" })
}

resource "aws_msk_configuration" "this" {
  name           = "${var.name}-kafka"
  kafka_versions = [var.kafka_version]
  server_properties = join("\n", [
    for key in sort(keys(local.server_properties)) : "${key} = ${local.server_properties[key]}"
  ])

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "brokers" {
  name              = "/msk/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_msk_cluster" "this" {
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  tags                   = var.tags

  broker_node_group_info {
    instance_type   = var.instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.this.id]
    storage_info {
      ebs_storage_info {
        volume_size = var.ebs_volume_size_gb
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "PLAINTEXT"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = true
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.brokers.name
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.broker_count % length(var.subnet_ids) == 0
      error_message = "broker_count must be a multiple of the number of subnets."
    }
  }
}
