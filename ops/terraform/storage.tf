# Two buckets: images (uploads and results, expired after retention_days) and manifests
# (the Kubernetes manifests every node applies). Both private, KMS-encrypted, TLS-only.

resource "aws_s3_bucket" "images" {
  # checkov:skip=CKV_AWS_18: access logs would record every short-lived image object; requests are traced in the app's logs and metrics instead.
  # checkov:skip=CKV_AWS_144: images live at most retention_days; replicating them to another region buys no durability worth its cost.
  # checkov:skip=CKV2_AWS_62: nothing consumes bucket events; the app tracks every object itself.
  bucket_prefix = "${var.name}-images-"
  force_destroy = true
}

resource "aws_s3_bucket" "manifests" {
  # checkov:skip=CKV_AWS_18: only Terraform and operators write here and the bucket is versioned; CloudTrail records those calls.
  # checkov:skip=CKV_AWS_144: the manifests are in the repository; a second region adds nothing.
  # checkov:skip=CKV2_AWS_62: nodes poll the manifest each minute; no event consumer exists.
  bucket_prefix = "${var.name}-manifests-"
}

locals {
  buckets = {
    images    = aws_s3_bucket.images
    manifests = aws_s3_bucket.manifests
  }
}

resource "aws_s3_bucket_public_access_block" "all" {
  for_each = local.buckets

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "all" {
  for_each = local.buckets

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "all" {
  for_each = local.buckets

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "all" {
  for_each = local.buckets

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      each.value.arn,
      "${each.value.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.buckets

  bucket     = each.value.id
  policy     = data.aws_iam_policy_document.tls_only[each.key].json
  depends_on = [aws_s3_bucket_public_access_block.all]
}

# Images expire after retention_days even if the app's own cleanup never ran; overwritten
# versions go a day later.
resource "aws_s3_bucket_lifecycle_configuration" "images" {
  bucket = aws_s3_bucket.images.id

  rule {
    id     = "expire-images"
    status = "Enabled"

    filter {}

    expiration {
      days = var.retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  lifecycle {
    precondition {
      condition     = var.retention_days * 24 >= var.job_ttl_hours
      error_message = "retention_days must cover job_ttl_hours, or S3 deletes files of jobs still shown."
    }
  }

  depends_on = [aws_s3_bucket_versioning.all]
}

resource "aws_s3_bucket_lifecycle_configuration" "manifests" {
  bucket = aws_s3_bucket.manifests.id

  rule {
    id     = "old-manifest-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.all]
}
