# ---------------------------------------------------------------------------------------------------
# Identity and placement
# ---------------------------------------------------------------------------------------------------
variable "name" {
  description = "Prefix of every resource name; combined with `environment` (e.g. psp-production)."
  type        = string
  default     = "psp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name))
    error_message = "name must be 2-16 characters: lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment (staging, production, ...); part of every name and tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 characters: lower-case letters, digits and dashes."
  }
}

variable "aws_region" {
  description = "AWS region to deploy into; also passed to the app as PSP_AWS_REGION."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like us-east-1."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource (on top of Application, Environment, ManagedBy)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------------
variable "vpc_cidr" {
  description = "CIDR block of the VPC; split into public, private (app) and database subnets per AZ."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR of /20 or larger."
  }
}

variable "availability_zones" {
  description = "Availability zones (names, in aws_region) for subnets, NAT gateways, tasks and the RDS standby. Pinned explicitly so nothing moves when AWS adds a zone."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list 2 or 3 distinct zones (RDS Multi-AZ needs at least two)."
  }
}

variable "single_nat_gateway" {
  description = "Use one NAT gateway for all AZs (cheaper, not zone-redundant). Keep false in production."
  type        = bool
  default     = false
}

variable "enable_vpc_endpoints" {
  description = "Create interface endpoints (SQS, Secrets Manager, ECR, CloudWatch Logs and metrics) so AWS API traffic stays off the NAT gateways."
  type        = bool
  default     = true
}

variable "allowed_ingress_cidrs" {
  description = "CIDR blocks allowed to reach the public ALB on 80/443 (merchants' servers call the API from anywhere by default)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.allowed_ingress_cidrs : can(cidrhost(cidr, 0))])
    error_message = "allowed_ingress_cidrs must contain valid IPv4 CIDR blocks."
  }
}

# ---------------------------------------------------------------------------------------------------
# Edge
# ---------------------------------------------------------------------------------------------------
variable "certificate_arn" {
  description = "ARN of the ACM certificate (in aws_region) served by the ALB's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "enable_waf" {
  description = "Attach an AWS WAFv2 web ACL (AWS managed common, known-bad-inputs and IP-reputation rules plus a per-IP rate limit) to the ALB."
  type        = bool
  default     = true
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests per client IP per 5 minutes above which WAF blocks (only when enable_waf)."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit_per_5_minutes >= 100
    error_message = "waf_rate_limit_per_5_minutes must be at least 100 (the WAF minimum)."
  }
}

variable "waf_rate_limit_per_key_per_5_minutes" {
  description = "Requests per secret key (Authorization header) per 5 minutes, across all tasks, above which WAF answers 429 (only when enable_waf)."
  type        = number
  default     = 60000

  validation {
    condition     = var.waf_rate_limit_per_key_per_5_minutes >= 100
    error_message = "waf_rate_limit_per_key_per_5_minutes must be at least 100 (the WAF minimum)."
  }
}

variable "alb_deletion_protection" {
  description = "Protect the ALB from deletion. Disable only to tear an environment down."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------
# Application image and sizing
# ---------------------------------------------------------------------------------------------------
variable "image_tag" {
  description = "Tag of the psp image in the ECR repository to run (tags are immutable; use the git SHA)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid Docker tag and not 'latest' (the repository is immutable)."
  }
}

variable "api" {
  description = "API service: Fargate CPU units and memory (MiB), autoscaling bounds, gunicorn workers and threads per task."
  type = object({
    cpu           = number
    memory        = number
    min_count     = number
    max_count     = number
    web_workers   = number
    web_threads   = number
    cpu_target_pc = number
  })
  default = {
    cpu           = 512
    memory        = 1024
    min_count     = 2
    max_count     = 8
    web_workers   = 2
    web_threads   = 4
    cpu_target_pc = 60
  }

  validation {
    condition     = var.api.min_count >= 1 && var.api.max_count >= var.api.min_count
    error_message = "api.min_count must be >= 1 and api.max_count >= api.min_count."
  }
}

variable "relay" {
  description = "Outbox relay service: Fargate CPU units, memory (MiB) and task count."
  type = object({
    cpu    = number
    memory = number
    count  = number
  })
  default = {
    cpu    = 256
    memory = 512
    count  = 1
  }

  validation {
    condition     = var.relay.count >= 1
    error_message = "relay.count must be at least 1, or the outbox is never drained."
  }
}

variable "worker" {
  description = "Payables worker service: Fargate CPU units, memory (MiB) and task count."
  type = object({
    cpu    = number
    memory = number
    count  = number
  })
  default = {
    cpu    = 256
    memory = 512
    count  = 2
  }

  validation {
    condition     = var.worker.count >= 1
    error_message = "worker.count must be at least 1, or payables are never created."
  }
}

variable "webhooks" {
  description = "Webhooks worker service: Fargate CPU units, memory (MiB), task count, and deliveries each task attempts at once (PSP_WEBHOOK_CONCURRENCY)."
  type = object({
    cpu         = number
    memory      = number
    count       = number
    concurrency = number
  })
  default = {
    cpu         = 256
    memory      = 512
    count       = 2
    concurrency = 16
  }

  validation {
    condition     = var.webhooks.count >= 1
    error_message = "webhooks.count must be at least 1, or no webhook is ever delivered."
  }

  validation {
    condition     = var.webhooks.concurrency >= 1 && var.webhooks.concurrency <= 256
    error_message = "webhooks.concurrency must be between 1 and 256 (PSP_WEBHOOK_CONCURRENCY's bounds)."
  }
}

variable "webhook_egress_ports" {
  description = "TCP ports the webhooks worker may reach on the internet (merchants' endpoints). Live endpoints are https; a port not listed here times out."
  type        = list(number)
  default     = [443]

  validation {
    condition     = length(var.webhook_egress_ports) >= 1 && alltrue([for port in var.webhook_egress_ports : port >= 1 && port <= 65535 && floor(port) == port])
    error_message = "webhook_egress_ports must list TCP ports (1-65535), at least 443."
  }
}

variable "jobs" {
  description = "One-off tasks (settlement, migrations): Fargate CPU units and memory (MiB)."
  type = object({
    cpu    = number
    memory = number
  })
  default = {
    cpu    = 512
    memory = 1024
  }
}

variable "log_level" {
  description = "PSP_LOG_LEVEL for every task."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "app_settings" {
  description = "Extra PSP_* settings passed to every task as plain environment (see the README's configuration table). Secrets never go here."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for key in keys(var.app_settings) :
      can(regex("^PSP_[A-Z0-9_]+$", key)) && !contains(["PSP_DATABASE_URL", "PSP_CARD_FINGERPRINT_KEY", "PSP_DATA_ENCRYPTION_KEY"], key)
    ])
    error_message = "app_settings keys must be PSP_* names; PSP_DATABASE_URL, PSP_CARD_FINGERPRINT_KEY and PSP_DATA_ENCRYPTION_KEY come from Secrets Manager."
  }
}

# ---------------------------------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------------------------------
variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the payables queue; also PSP_WORKER_VISIBILITY_TIMEOUT."
  type        = number
  default     = 30

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 1 && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be between 1 and 43200."
  }
}

variable "queue_max_receive_count" {
  description = "Deliveries before SQS moves a payables message to the DLQ; also PSP_WORKER_MAX_RECEIVES."
  type        = number
  default     = 5

  validation {
    condition     = var.queue_max_receive_count >= 1 && var.queue_max_receive_count <= 1000
    error_message = "queue_max_receive_count must be between 1 and 1000."
  }
}

# ---------------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------------
variable "db_engine_version" {
  description = "RDS PostgreSQL engine version (major.minor); minor upgrades are applied automatically in the maintenance window."
  type        = string
  default     = "16.4"

  validation {
    condition     = can(regex("^1[6-9]\\.[0-9]+$", var.db_engine_version))
    error_message = "db_engine_version must be PostgreSQL 16 or newer, as major.minor."
  }
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m6g.large"
}

variable "db_allocated_storage_gb" {
  description = "Initial RDS storage in GiB."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound of RDS storage autoscaling in GiB."
  type        = number
  default     = 1000

  validation {
    condition     = var.db_max_allocated_storage_gb >= 20
    error_message = "db_max_allocated_storage_gb must be at least 20."
  }
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "db_deletion_protection" {
  description = "Protect the database from deletion (and take a final snapshot if it is ever deleted)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------
# Scheduling
# ---------------------------------------------------------------------------------------------------
variable "settlement_time" {
  description = "Local time (HH:MM) of the daily `psp jobs settle` run; also PSP_SETTLEMENT_TIME."
  type        = string
  default     = "00:05"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.settlement_time))
    error_message = "settlement_time must be HH:MM (24h)."
  }
}

variable "settlement_timezone" {
  description = "IANA time zone of settlement_time and of D+N payment dates; also PSP_SETTLEMENT_TIMEZONE."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", var.settlement_timezone))
    error_message = "settlement_timezone must be an IANA zone name such as UTC or America/Sao_Paulo."
  }
}

# ---------------------------------------------------------------------------------------------------
# Observability
# ---------------------------------------------------------------------------------------------------
variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (a year or more keeps PCI DSS 10.5.1's audit-trail history)."
  type        = number
  default     = 400

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription). Wire paging tools to the topic output instead when you have them."
  type        = list(string)
  default     = []
}

variable "alarm_5xx_rate_percent" {
  description = "Alarm when 5xx responses (target and ALB) exceed this percentage of requests for 5 minutes."
  type        = number
  default     = 1
}

variable "alarm_p99_latency_seconds" {
  description = "Alarm when the API's p99 target response time exceeds this many seconds for 5 minutes."
  type        = number
  default     = 1
}

variable "alarm_oldest_message_age_seconds" {
  description = "Alarm when the oldest payables (or webhooks) queue message has waited longer than this."
  type        = number
  default     = 300
}

variable "alarm_webhook_delivery_lag_seconds" {
  description = "Alarm when the most overdue webhook delivery (PSP/WebhookDeliveryLag, from `psp worker webhooks`) has been due longer than this."
  type        = number
  default     = 300
}

variable "alarm_webhook_failure_rate_percent" {
  description = "Alarm when more than this percentage of webhook attempts fail for 15 minutes (ignored under 50 attempts per 5 minutes): endpoints of many merchants failing at once points at psp's egress (NAT, DNS, security group), not at one merchant."
  type        = number
  default     = 50

  validation {
    condition     = var.alarm_webhook_failure_rate_percent > 0 && var.alarm_webhook_failure_rate_percent <= 100
    error_message = "alarm_webhook_failure_rate_percent must be in (0, 100]."
  }
}

variable "alarm_outbox_backlog" {
  description = "Alarm when the PSP/OutboxBacklog metric (unrelayed outbox rows, emitted by `psp relay`) exceeds this."
  type        = number
  default     = 1000
}

variable "alarm_db_cpu_percent" {
  description = "Alarm when RDS CPU utilisation exceeds this percentage for 15 minutes."
  type        = number
  default     = 80
}

variable "alarm_db_free_storage_gb" {
  description = "Alarm when RDS free storage drops below this many GiB."
  type        = number
  default     = 10
}
