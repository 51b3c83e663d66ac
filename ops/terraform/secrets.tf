# Generated credentials, kept in Secrets Manager; the nodes read them at boot.
# Letters and digits only: they go into URLs unescaped.

resource "random_password" "db" {
  length  = 40
  special = false
}

resource "random_password" "redis" {
  length  = 40
  special = false
}

resource "random_password" "k3s_token" {
  length  = 48
  special = false
}

resource "random_password" "app_secret_key" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "cluster" {
  # checkov:skip=CKV2_AWS_57: K3s' datastore endpoint and the app's database URL are built from these values at node boot; a rotation needs a planned roll of the nodes, done with terraform apply.
  name_prefix             = "${var.name}/cluster-"
  description             = "${var.name}: database, Redis, K3s and app secrets read by the nodes"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "cluster" {
  secret_id = aws_secretsmanager_secret.cluster.id
  secret_string = jsonencode({
    db_password    = random_password.db.result
    redis_password = random_password.redis.result
    k3s_token      = random_password.k3s_token.result
    app_secret_key = random_password.app_secret_key.result
    # The pods' S3 credentials (iam.tf): with the metadata hop limit at 1 they cannot use
    # the node role.
    app_s3_access_key_id     = aws_iam_access_key.app.id
    app_s3_secret_access_key = aws_iam_access_key.app.secret
  })
}
