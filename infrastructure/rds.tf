resource "aws_db_subnet_group" "main" {
  name        = local.name
  description = "Database subnets of ${local.name} (no internet route)"
  subnet_ids  = aws_subnet.database[*].id
}

locals {
  db_major_version = split(".", var.db_engine_version)[0]
  db_name          = "psp"
  db_username      = "psp"
}

resource "aws_db_parameter_group" "main" {
  name_prefix = "${local.name}-pg${local.db_major_version}-"
  family      = "postgres${local.db_major_version}"
  description = "psp PostgreSQL ${local.db_major_version}: TLS only, slow-query and lock logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Settlement writes bursts of WAL (about 4 GB for a million payables with their events): fewer
  # checkpoints mean fewer full-page images in it, as on the embedded server (psp-tuning.conf). RDS
  # already gives shared_buffers a quarter of the instance's memory.
  parameter {
    name  = "max_wal_size"
    value = "4096" # MB
  }

  parameter {
    name  = "checkpoint_timeout"
    value = "900" # seconds
  }

  # Queries slower than 500 ms are logged (the statement, never bind parameters, which are off below).
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_parameter_max_length"
    value = "0"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  # A session left idle inside a transaction holds row locks (payables, outbox claims); cut it off.
  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "random_password" "db" {
  length = 40
  # URL-safe only: the password is embedded in PSP_DATABASE_URL.
  special = false
}

resource "aws_db_instance" "main" {
  identifier     = local.name
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  db_name  = local.db_name
  username = local.db_username
  password = random_password.db.result
  port     = 5432

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.psp.arn

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.main.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  iam_database_authentication_enabled = true

  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:04:00-sun:05:00"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.db_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = false

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.psp.arn
  performance_insights_retention_period = 7

  depends_on = [aws_cloudwatch_log_group.rds]
}

# RDS creates these itself on first export; declaring them first gives them KMS and a retention.
resource "aws_cloudwatch_log_group" "rds" {
  for_each = toset(["postgresql", "upgrade"])

  name              = "/aws/rds/instance/${local.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.psp.arn
}
