resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  # Settings every task shares. Values Terraform derives (queue URLs, timeouts that must match the
  # queue's own configuration, the settlement schedule) win over var.app_settings. The two secrets are
  # in local.psp_secrets and reach the container from Secrets Manager.
  psp_environment = merge(var.app_settings, {
    PSP_ENV                       = "production"
    PSP_LOG_FORMAT                = "json"
    PSP_LOG_LEVEL                 = var.log_level
    PSP_QUEUE_BACKEND             = "sqs"
    PSP_AWS_REGION                = local.region
    PSP_SQS_PAYABLES_QUEUE        = aws_sqs_queue.payables.url
    PSP_SQS_PAYABLES_DLQ          = aws_sqs_queue.payables_dlq.url
    PSP_SQS_WEBHOOKS_QUEUE        = aws_sqs_queue.webhooks.url
    PSP_SQS_WEBHOOKS_DLQ          = aws_sqs_queue.webhooks_dlq.url
    PSP_WORKER_VISIBILITY_TIMEOUT = tostring(var.queue_visibility_timeout_seconds)
    PSP_WORKER_MAX_RECEIVES       = tostring(var.queue_max_receive_count)
    # An SQS receive can come back short while a backlog waits (short polls sample a subset of SQS's
    # servers), and each short batch would then wait out the linger window: scale with tasks instead.
    PSP_WORKER_LINGER_MS    = "0"
    PSP_SETTLEMENT_TIMEZONE = var.settlement_timezone
    PSP_SETTLEMENT_TIME     = var.settlement_time
  })

  psp_secrets = {
    PSP_DATABASE_URL         = aws_secretsmanager_secret.database_url.arn
    PSP_CARD_FINGERPRINT_KEY = aws_secretsmanager_secret.card_fingerprint_key.arn
    PSP_DATA_ENCRYPTION_KEY  = aws_secretsmanager_secret.data_encryption_key.arn
  }

  api_environment = {
    PSP_HOST            = "0.0.0.0"
    PSP_PORT            = "8000"
    PSP_WEB_CONCURRENCY = tostring(var.api.web_workers)
    PSP_WEB_THREADS     = tostring(var.api.web_threads)

    # The ALB is the one proxy in front: its X-Forwarded-For entry is the client's address, for the
    # per-address limit on failed authentications. Anything the client itself sent is ignored.
    PSP_TRUSTED_PROXY_HOPS = "1"
  }

  # The webhooks worker: PSP_WEBHOOK_CONCURRENCY deliveries at once per task (threads, each waiting at
  # most PSP_WEBHOOK_TIMEOUT_SECONDS on a merchant's endpoint). No metrics port: CloudWatch gets its
  # figures from its log lines (monitoring.tf), and nothing may connect in to it.
  webhooks_environment = {
    PSP_WEBHOOK_CONCURRENCY = tostring(var.webhooks.concurrency)
  }

  # One task definition per process type. `role` picks the task role (iam.tf): each role can touch
  # only the queues its process uses.
  tasks = {
    api = {
      command      = ["psp", "serve"]
      role         = "api"
      cpu          = var.api.cpu
      memory       = var.api.memory
      environment  = merge(local.psp_environment, local.api_environment)
      stop_timeout = 30
      extra = {
        portMappings = [{ containerPort = 8000, hostPort = 8000, protocol = "tcp" }]
        # Liveness only (the image has no curl); readiness (/readyz) is the ALB's target health check.
        healthCheck = {
          command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
          interval    = 15
          timeout     = 5
          retries     = 3
          startPeriod = 30
        }
      }
    }
    relay = {
      command      = ["psp", "relay"]
      role         = "relay"
      cpu          = var.relay.cpu
      memory       = var.relay.memory
      environment  = local.psp_environment
      stop_timeout = 60
      extra        = {}
    }
    worker = {
      command      = ["psp", "worker", "payables"]
      role         = "worker"
      cpu          = var.worker.cpu
      memory       = var.worker.memory
      environment  = local.psp_environment
      stop_timeout = 60
      extra        = {}
    }
    webhooks = {
      command     = ["psp", "worker", "webhooks"]
      role        = "webhooks"
      cpu         = var.webhooks.cpu
      memory      = var.webhooks.memory
      environment = merge(local.psp_environment, local.webhooks_environment)
      # Stopping waits for the attempts in flight, each bounded by PSP_WEBHOOK_TIMEOUT_SECONDS (10).
      stop_timeout = 60
      extra        = {}
    }
    settle = {
      command      = ["psp", "jobs", "settle"]
      role         = "jobs"
      cpu          = var.jobs.cpu
      memory       = var.jobs.memory
      environment  = local.psp_environment
      stop_timeout = 120
      extra        = {}
    }
    resolve_processing = {
      command      = ["psp", "jobs", "resolve-processing"]
      role         = "jobs"
      cpu          = var.jobs.cpu
      memory       = var.jobs.memory
      environment  = local.psp_environment
      stop_timeout = 120
      extra        = {}
    }
    prune_idempotency_keys = {
      command      = ["psp", "jobs", "prune-idempotency-keys"]
      role         = "jobs"
      cpu          = var.jobs.cpu
      memory       = var.jobs.memory
      environment  = local.psp_environment
      stop_timeout = 120
      extra        = {}
    }
    migrate = {
      command      = ["psp", "db", "upgrade"]
      role         = "jobs"
      cpu          = var.jobs.cpu
      memory       = var.jobs.memory
      environment  = local.psp_environment
      stop_timeout = 120
      extra        = {}
    }
  }
}

resource "aws_cloudwatch_log_group" "task" {
  for_each = local.tasks

  name              = "/psp/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.psp.arn
}

resource "aws_ecs_task_definition" "psp" {
  for_each = local.tasks

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.value.role].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # The root filesystem is read-only; /tmp (gunicorn heartbeat files, tempfiles) is task storage.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge({
    name                   = each.key
    image                  = local.image
    command                = each.value.command
    essential              = true
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    stopTimeout            = each.value.stop_timeout
    linuxParameters        = { initProcessEnabled = true }
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    environment            = [for key in sort(keys(each.value.environment)) : { name = key, value = each.value.environment[key] }]
    secrets                = [for key in sort(keys(local.psp_secrets)) : { name = key, valueFrom = local.psp_secrets[key] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.task[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }, each.value.extra)])
}

resource "aws_ecs_service" "api" {
  name                               = "api"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.psp["api"].arn
  desired_count                      = var.api.min_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = 8000
  }

  # Autoscaling owns the count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

# The webhooks worker has a security group of its own (network.tf): it is the one process that calls
# arbitrary hosts on the internet (merchants' endpoints).
resource "aws_ecs_service" "background" {
  for_each = {
    relay    = { count = var.relay.count, security_group = aws_security_group.tasks.id }
    worker   = { count = var.worker.count, security_group = aws_security_group.tasks.id }
    webhooks = { count = var.webhooks.count, security_group = aws_security_group.webhooks.id }
  }

  name                               = each.key
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.psp[each.key].arn
  desired_count                      = each.value.count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [each.value.security_group]
    assign_public_ip = false
  }
}

# --- API autoscaling -------------------------------------------------------------------------------
resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api.min_count
  max_capacity       = var.api.max_count
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${local.name}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api.cpu_target_pc
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
