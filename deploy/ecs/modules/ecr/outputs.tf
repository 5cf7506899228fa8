output "repository_url" {
  description = "URL to push the image to and to run it from (without a tag)."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "ARN of the repository, for pull permissions."
  value       = aws_ecr_repository.this.arn
}
