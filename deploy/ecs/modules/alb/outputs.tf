output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "The load balancer part of CloudWatch metric dimensions (and of request-count scaling labels)."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "AWS-assigned DNS name of the load balancer (point domain_name here if Route 53 is not used)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 zone of the load balancer's DNS name, for alias records."
  value       = aws_lb.this.zone_id
}

output "https_listener_arn" {
  description = "HTTPS listener that services attach their path rules to."
  value       = aws_lb_listener.https.arn
}

output "security_group_id" {
  description = "Security group of the load balancer; services allow their ports from it."
  value       = aws_security_group.this.id
}

output "base_url" {
  description = "https:// URL of the public host name."
  value       = "https://${var.domain_name}"
}

output "websocket_base_url" {
  description = "wss:// URL of the public host name."
  value       = "wss://${var.domain_name}"
}
