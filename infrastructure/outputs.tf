output "api_url" {
  description = "HTTPS base URL of the API (point a DNS CNAME/alias matching certificate_arn at alb_dns_name)."
  value       = "https://${aws_lb.api.dns_name}"
}

output "alb_dns_name" {
  description = "DNS name of the public ALB."
  value       = aws_lb.api.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone id of the ALB, for an alias record."
  value       = aws_lb.api.zone_id
}

output "ecr_repository_url" {
  description = "ECR repository to push psp images to (tag with the git SHA, then set image_tag)."
  value       = aws_ecr_repository.psp.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster running the psp services."
  value       = aws_ecs_cluster.main.name
}

output "ecs_services" {
  description = "ECS service names by process."
  value = {
    api      = aws_ecs_service.api.name
    relay    = aws_ecs_service.background["relay"].name
    worker   = aws_ecs_service.background["worker"].name
    webhooks = aws_ecs_service.background["webhooks"].name
  }
}

output "task_definition_families" {
  description = "Task definition family per process (api, relay, worker, webhooks, the scheduled jobs, migrate)."
  value       = { for key, task in aws_ecs_task_definition.psp : key => task.family }
}

output "run_task_network_configuration" {
  description = "The --network-configuration for `aws ecs run-task` (migrations, manual settlement)."
  value       = "awsvpcConfiguration={subnets=[${join(",", aws_subnet.private[*].id)}],securityGroups=[${aws_security_group.tasks.id}],assignPublicIp=DISABLED}"
}

output "payables_queue_url" {
  description = "URL of the payables queue (PSP_SQS_PAYABLES_QUEUE)."
  value       = aws_sqs_queue.payables.url
}

output "payables_dlq_url" {
  description = "URL of the payables dead-letter queue (PSP_SQS_PAYABLES_DLQ)."
  value       = aws_sqs_queue.payables_dlq.url
}

output "webhooks_queue_url" {
  description = "URL of the webhooks queue (PSP_SQS_WEBHOOKS_QUEUE)."
  value       = aws_sqs_queue.webhooks.url
}

output "webhooks_dlq_url" {
  description = "URL of the webhooks dead-letter queue (PSP_SQS_WEBHOOKS_DLQ)."
  value       = aws_sqs_queue.webhooks_dlq.url
}

output "scheduler_dlq_url" {
  description = "Dead-letter queue of failed settlement schedule invocations."
  value       = aws_sqs_queue.scheduler_dlq.url
}

output "db_endpoint" {
  description = "RDS endpoint (host:port); reachable only from the tasks' security group."
  value       = aws_db_instance.main.endpoint
}

output "database_url_secret_arn" {
  description = "Secrets Manager ARN of PSP_DATABASE_URL."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "data_encryption_key_secret_arn" {
  description = "Secrets Manager ARN of PSP_DATA_ENCRYPTION_KEY."
  value       = aws_secretsmanager_secret.data_encryption_key.arn
}

output "card_fingerprint_key_secret_arn" {
  description = "Secrets Manager ARN of PSP_CARD_FINGERPRINT_KEY."
  value       = aws_secretsmanager_secret.card_fingerprint_key.arn
}

output "kms_key_arn" {
  description = "Customer-managed KMS key encrypting RDS, secrets, queues, logs, ECR and SNS."
  value       = aws_kms_key.psp.arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies; subscribe paging tools here."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the environment."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.psp.dashboard_name}"
}

output "log_groups" {
  description = "CloudWatch log group per process."
  value       = { for key, group in aws_cloudwatch_log_group.task : key => group.name }
}
