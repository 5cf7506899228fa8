output "address" {
  description = "Host name of the primary (DB_HOSTNAME)."
  value       = aws_db_instance.primary.address
}

output "reader_address" {
  description = "Host name readers use (DB_READONLY_HOSTNAME): the replica, or the primary when there is none."
  value       = var.create_read_replica ? aws_db_instance.replica[0].address : aws_db_instance.primary.address
}

output "port" {
  description = "Port of both instances (DB_PORT)."
  value       = aws_db_instance.primary.port
}

output "database_name" {
  description = "Database name (DB_NAME)."
  value       = aws_db_instance.primary.db_name
}

output "username" {
  description = "User the services connect as (DB_USERNAME)."
  value       = aws_db_instance.primary.username
}

output "credentials_secret_arn" {
  description = "Secrets Manager secret holding DB_USERNAME and DB_PASSWORD."
  value       = aws_secretsmanager_secret.database.arn
}

output "password_secret_key" {
  description = "Key of the password inside the credentials secret."
  value       = "DB_PASSWORD"
}

output "security_group_id" {
  description = "Security group of the database; add ingress rules from clients to it."
  value       = aws_security_group.this.id
}
