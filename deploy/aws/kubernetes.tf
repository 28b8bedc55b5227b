# KEDA, then PixelFlow's chart, in namespace var.name. Settings for services in other zones of the region
# (docs/deploy.md "Running across hosts"): a statement unacknowledged for 3 s fails (cross-zone retransmissions are not
# taken for a partition), heartbeats and keepalives at 10 s.
resource "helm_release" "keda" {
  name             = "keda"
  repository       = "https://kedacore.github.io/charts"
  chart            = "keda"
  version          = var.keda_version
  namespace        = "keda"
  create_namespace = true
  wait             = true
  timeout          = 600
}

locals {
  mq_endpoint    = replace(aws_mq_broker.rabbitmq.instances[0].endpoints[0], "amqps://", "")
  s3_endpoint    = "s3.${var.region}.amazonaws.com"
  irsa_role_arns = { "eks.amazonaws.com/role-arn" = aws_iam_role.images.arn }
  chart_values = {
    image = {
      repository = var.image_repository
      digest     = var.image_digest
    }
    config = {
      PIXELFLOW_S3_ENDPOINT        = local.s3_endpoint
      PIXELFLOW_S3_PUBLIC_ENDPOINT = local.s3_endpoint
      PIXELFLOW_S3_BUCKET          = aws_s3_bucket.images.id
      PIXELFLOW_S3_REGION          = var.region
      PIXELFLOW_S3_SECURE          = "true"
      PIXELFLOW_DB_TIMEOUT         = "3"
      PIXELFLOW_BROKER_HEARTBEAT   = "10"
      PIXELFLOW_TCP_KEEPALIVE      = "10"
      PIXELFLOW_DB_SERVER_TIMEOUTS = "true"
      PIXELFLOW_TASK_EVENTS        = "false"
      PIXELFLOW_RETENTION_DAYS     = tostring(var.retention_days)
    }
    # No storage keys: these pods' ServiceAccounts carry the IRSA role, and PixelFlow exchanges their web-identity
    # token with STS (the chart then sets PIXELFLOW_S3_ACCESS_KEY and _SECRET_KEY empty).
    api      = { serviceAccount = { annotations = local.irsa_role_arns } }
    worker   = { serviceAccount = { annotations = local.irsa_role_arns }, nodeSelector = { "pixelflow/cpu" = "avx2" } }
    ioWorker = { serviceAccount = { annotations = local.irsa_role_arns } }
    metrics  = { serviceMonitor = { enabled = false } }
  }
}

resource "helm_release" "pixelflow" {
  name             = var.name
  chart            = "${path.module}/../../charts/pixelflow"
  namespace        = var.name
  create_namespace = true
  wait             = true
  timeout          = 900
  values           = [yamlencode(local.chart_values)]

  set_sensitive {
    name  = "secrets.PIXELFLOW_DATABASE_URL"
    value = "postgresql://pixelflow:${random_password.db.result}@${aws_db_instance.postgres.endpoint}/pixelflow?sslmode=require"
  }
  set_sensitive {
    name  = "secrets.PIXELFLOW_BROKER_URL"
    value = "amqps://pixelflow:${random_password.mq.result}@${local.mq_endpoint}/%2F"
  }
  set_sensitive {
    name  = "secrets.PIXELFLOW_REDIS_URL"
    value = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.redis.primary_endpoint_address}:6379/0"
  }
  set_sensitive {
    name  = "secrets.PIXELFLOW_WEBHOOK_SECRETS"
    value = var.webhook_secrets
  }

  depends_on = [helm_release.keda, aws_eks_node_group.avx2]
}
