output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this> --region <region>"
  value       = aws_eks_cluster.this.name
}

output "images_bucket" {
  description = "The image bucket (PIXELFLOW_S3_BUCKET)."
  value       = aws_s3_bucket.images.id
}

output "images_role_arn" {
  description = "The IRSA role the API and worker ServiceAccounts carry."
  value       = aws_iam_role.images.arn
}

output "database_endpoint" {
  description = "RDS PostgreSQL host:port."
  value       = aws_db_instance.postgres.endpoint
}

output "broker_endpoint" {
  description = "Amazon MQ AMQPS endpoint."
  value       = aws_mq_broker.rabbitmq.instances[0].endpoints[0]
}
