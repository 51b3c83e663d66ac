locals {
  # PIXTOOLS_PUBLIC_URL in the pods: links it hands out, and Secure cookies when https.
  public_url = var.public_url != "" ? var.public_url : "${var.certificate_arn == "" ? "http" : "https"}://${aws_lb.main.dns_name}"
}

output "api_url" {
  description = "Where PixTools answers: public_url, or the load balancer (HTTPS when certificate_arn is set)."
  value       = local.public_url
}

output "manifests_bucket" {
  description = "Bucket whose k8s/pixtools.yaml every node applies (upload the rendered overlay there)."
  value       = aws_s3_bucket.manifests.bucket
}

output "images_bucket" {
  description = "Bucket holding uploads and results (PIXTOOLS_STORAGE_URL is s3://<this>/images)."
  value       = aws_s3_bucket.images.bucket
}

output "db_endpoint" {
  description = "PostgreSQL endpoint (host:port), reachable from the nodes only."
  value       = aws_db_instance.main.endpoint
}

output "cluster_secret_arn" {
  description = "Secrets Manager secret with the generated passwords and the K3s token."
  value       = aws_secretsmanager_secret.cluster.arn
}

output "autoscaling_groups" {
  description = "Auto Scaling group of each node pool, general and ml (find a node for Session Manager here)."
  value       = { for pool, group in aws_autoscaling_group.pool : pool => group.name }
}

output "spot_interruption_topic_arn" {
  description = "SNS topic receiving EC2 spot interruption warnings."
  value       = aws_sns_topic.spot_interruptions.arn
}
