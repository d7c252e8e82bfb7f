# The two settings production refuses to start without, delivered to tasks through the task
# definitions' `secrets` blocks (never plain environment). Both values are generated here, so they also
# sit in Terraform state: the state bucket must be encrypted and access-restricted (README.md).

resource "aws_secretsmanager_secret" "database_url" {
  #checkov:skip=CKV2_AWS_57:The URL embeds the RDS master password; rotating it needs a custom rotation Lambda that rewrites this URL and the instance password together. Until that exists, rotation is the runbook in infrastructure/README.md (apply -replace=random_password.db, then force new deployments).
  name                    = "${local.name}/database-url"
  description             = "PSP_DATABASE_URL: PostgreSQL URL of the psp database (TLS required)"
  kms_key_id              = aws_kms_key.psp.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id = aws_secretsmanager_secret.database_url.id
  # sslmode=require: the server enforces TLS (rds.force_ssl). verify-full would additionally need the
  # RDS CA bundle baked into the image; the connection never leaves the VPC.
  secret_string = format(
    "postgresql://%s:%s@%s:%d/%s?sslmode=require",
    local.db_username,
    random_password.db.result,
    aws_db_instance.main.address,
    aws_db_instance.main.port,
    local.db_name,
  )
}

resource "random_password" "card_fingerprint_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "card_fingerprint_key" {
  #checkov:skip=CKV2_AWS_57:Rotating the card fingerprint HMAC key changes every stored fingerprint, so it must not rotate on a timer; a rotation is a planned re-keying migration.
  name                    = "${local.name}/card-fingerprint-key"
  description             = "PSP_CARD_FINGERPRINT_KEY: HMAC key of card fingerprints"
  kms_key_id              = aws_kms_key.psp.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "card_fingerprint_key" {
  secret_id     = aws_secretsmanager_secret.card_fingerprint_key.id
  secret_string = random_password.card_fingerprint_key.result

  # Never replace the key by accident: a new key silently breaks card recognition.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

# PSP_DATA_ENCRYPTION_KEY: base64 of 32 random bytes, the AES-256-GCM key of data at rest (webhook
# signing secrets, stored idempotent responses). Rotation is a procedure, not a timer: set the old key in
# PSP_DATA_ENCRYPTION_OLD_KEYS, deploy the new one, run `psp jobs reencrypt-data` (README, Operations).
resource "random_id" "data_encryption_key" {
  byte_length = 32
}

resource "aws_secretsmanager_secret" "data_encryption_key" {
  #checkov:skip=CKV2_AWS_57:A new data key must be rolled out with the old one still able to decrypt and followed by `psp jobs reencrypt-data`; a timed rotation would make sealed rows unreadable.
  name                    = "${local.name}/data-encryption-key"
  description             = "PSP_DATA_ENCRYPTION_KEY: AES-256-GCM key of secrets stored in the database"
  kms_key_id              = aws_kms_key.psp.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "data_encryption_key" {
  secret_id     = aws_secretsmanager_secret.data_encryption_key.id
  secret_string = random_id.data_encryption_key.b64_std

  # Never replace the key by accident: rows sealed with it would no longer open.
  lifecycle {
    ignore_changes = [secret_string]
  }
}
