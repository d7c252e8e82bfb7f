terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State holds the generated database password and fingerprint key (they are written to Secrets
  # Manager from here), so it must live in an encrypted, access-controlled bucket. Configure it with
  # `terraform init -backend-config=backend.hcl` (see README.md).
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, {
      Application = "psp"
      Environment = var.environment
      ManagedBy   = "terraform"
    })
  }
}
