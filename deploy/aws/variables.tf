variable "region" {
  description = "AWS region, e.g. eu-west-1."
  type        = string
}

variable "availability_zones" {
  description = "Three zones of the region, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 3
    error_message = "Give three zones: the subnets, the RabbitMQ cluster and the database standby spread over them."
  }
}

variable "name" {
  description = "Name prefix of every resource (and the Helm release)."
  type        = string
  default     = "pixelflow"
}

variable "vpc_cidr" {
  description = "The VPC's address range; three public and three private /20 subnets are cut from it."
  type        = string
  default     = "10.40.0.0/16"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "node_instance_type" {
  description = "Worker nodes: an AVX2 family (Intel Ice Lake or later, AMD Zen 3 or later), which the amd64 image's Pillow-SIMD build uses."
  type        = string
  default     = "c6i.xlarge"
}

variable "node_count" {
  description = "Nodes in the AVX2 group: min, desired, max (KEDA adds worker pods; the cluster autoscaler or Karpenter adds nodes)."
  type        = object({ min = number, desired = number, max = number })
  default     = { min = 2, desired = 3, max = 10 }
}

variable "graviton_instance_type" {
  description = "A Graviton node group for the arm64 image (stock Pillow, ~1.2-1.8x the CPU per image); empty: none."
  type        = string
  default     = ""
}

variable "db_instance_class" {
  description = "RDS PostgreSQL instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_multi_az" {
  description = "A standby in another zone for RDS."
  type        = bool
  default     = true
}

variable "mq_instance_type" {
  description = "Amazon MQ (RabbitMQ) broker instance type; a three-node cluster across zones (quorum queues need it)."
  type        = string
  default     = "mq.m5.large"
}

variable "redis_node_type" {
  description = "ElastiCache Redis node type (rate-limit counters only)."
  type        = string
  default     = "cache.t4g.small"
}

variable "upload_expiry_days" {
  description = "Uploads (uploads/) are deleted this many days after they were written."
  type        = number
  default     = 7
}

variable "retention_days" {
  description = "A job's images are deleted this many days after it ended (PIXELFLOW_RETENTION_DAYS, the sweeper); a lifecycle rule removes results/ a day later as a backstop. 0 keeps them."
  type        = number
  default     = 0
  validation {
    condition     = var.retention_days >= 0
    error_message = "retention_days is 0 (keep) or a number of days."
  }
}

variable "dashboard_origins" {
  description = "Origins the dashboard is served from (https://images.example.com): the bucket lets their browsers PUT uploads to presigned URLs and GET results (CORS). Empty: no browser access."
  type        = list(string)
  default     = []
}

variable "image_repository" {
  description = "The PixelFlow image, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/pixelflow."
  type        = string
}

variable "image_digest" {
  description = "The image's digest (sha256:...): what runs is what was tested."
  type        = string
}

variable "keda_version" {
  description = "KEDA Helm chart version."
  type        = string
  default     = "2.16.1"
}

variable "webhook_secrets" {
  description = "Standard Webhooks secrets (whsec_...), comma separated; empty: webhooks go unsigned unless tenants make their own."
  type        = string
  default     = ""
  sensitive   = true
}
