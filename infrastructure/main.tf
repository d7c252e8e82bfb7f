data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_availability_zones" "selected" {
  state = "available"

  filter {
    name   = "zone-name"
    values = var.availability_zones
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == length(var.availability_zones)
      error_message = "Every zone in availability_zones must exist and be available in aws_region."
    }
  }
}

locals {
  name       = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  azs        = data.aws_availability_zones.selected.names
  az_count   = length(var.availability_zones)

  image = "${aws_ecr_repository.psp.repository_url}:${var.image_tag}"

  # Settlement runs daily at PSP_SETTLEMENT_TIME in PSP_SETTLEMENT_TIMEZONE; the same two values feed
  # the EventBridge schedule, so the cron and the app's own notion of "today" cannot disagree.
  settlement_hour   = tonumber(split(":", var.settlement_time)[0])
  settlement_minute = tonumber(split(":", var.settlement_time)[1])
}

# One customer-managed key per environment encrypts everything at rest that holds payment data or
# secrets: RDS storage and Performance Insights, Secrets Manager, SQS, SNS, ECR, CloudWatch Logs.
resource "aws_kms_key" "psp" {
  description             = "${local.name}: RDS, Secrets Manager, SQS, SNS, ECR and CloudWatch Logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Delegates key access to IAM policies in this account (the roles in iam.tf grant only
        # kms:Decrypt / kms:GenerateDataKey on this key, to the tasks that need them).
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        # CloudWatch alarms publish to the encrypted SNS topic.
        Sid       = "CloudWatchAlarmsToSns"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "psp" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.psp.key_id
}
