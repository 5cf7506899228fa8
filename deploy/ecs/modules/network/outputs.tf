output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 range of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets, one per availability zone, in the order of var.availability_zones."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, one per availability zone, in the order of var.availability_zones."
  value       = aws_subnet.private[*].id
}

output "nat_public_ips" {
  description = "Public addresses the private subnets reach the internet from (for allow-lists elsewhere)."
  value       = aws_eip.nat[*].public_ip
}
