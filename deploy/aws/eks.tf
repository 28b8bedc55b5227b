# EKS with private nodes; its OIDC issuer lets pods assume IAM roles (IRSA).
resource "aws_iam_role" "cluster" {
  name = "${var.name}-eks-cluster"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "eks.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_cloudwatch_log_group" "eks" {
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_eks_cluster" "this" {
  name                      = var.name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  vpc_config {
    subnet_ids              = aws_subnet.private[*].id
    endpoint_private_access = true
    endpoint_public_access  = false
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.this.arn
    }
  }

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.eks]
}

data "tls_certificate" "oidc" {
  url = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

resource "aws_iam_openid_connect_provider" "eks" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.oidc.certificates[0].sha1_fingerprint]
}

resource "aws_iam_role" "nodes" {
  name = "${var.name}-eks-nodes"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "nodes" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  ])
  role       = aws_iam_role.nodes.name
  policy_arn = each.value
}

# AVX2 nodes for the amd64 image (Pillow-SIMD built with AVX2).
resource "aws_eks_node_group" "avx2" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-avx2"
  node_role_arn   = aws_iam_role.nodes.arn
  subnet_ids      = aws_subnet.private[*].id
  instance_types  = [var.node_instance_type]
  ami_type        = "AL2023_x86_64_STANDARD"
  labels          = { "pixelflow/cpu" = "avx2" }

  scaling_config {
    min_size     = var.node_count.min
    desired_size = var.node_count.desired
    max_size     = var.node_count.max
  }

  depends_on = [aws_iam_role_policy_attachment.nodes]
}

# Graviton nodes for the arm64 image, when asked for.
resource "aws_eks_node_group" "graviton" {
  count           = var.graviton_instance_type == "" ? 0 : 1
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-graviton"
  node_role_arn   = aws_iam_role.nodes.arn
  subnet_ids      = aws_subnet.private[*].id
  instance_types  = [var.graviton_instance_type]
  ami_type        = "AL2023_ARM_64_STANDARD"
  labels          = { "pixelflow/cpu" = "graviton" }

  scaling_config {
    min_size     = 0
    desired_size = 1
    max_size     = var.node_count.max
  }

  depends_on = [aws_iam_role_policy_attachment.nodes]
}

# IRSA: the API and worker pods' ServiceAccounts (the chart's <release>-api, -worker, -io-worker) assume this
# role; its one policy reaches the image bucket's three prefixes and nothing else.
locals {
  oidc_host = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
  release   = var.name
  fullname  = strcontains(local.release, "pixelflow") ? local.release : "${local.release}-pixelflow"
  irsa_accounts = [
    for role in ["api", "worker", "io-worker"] : "system:serviceaccount:${var.name}:${local.fullname}-${role}"
  ]
}

resource "aws_iam_role" "images" {
  name = "${var.name}-images"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.eks.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_host}:aud" = "sts.amazonaws.com"
          "${local.oidc_host}:sub" = local.irsa_accounts
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "images" {
  name = "images-bucket"
  role = aws_iam_role.images.id
  policy = templatefile("${path.module}/policies/images-bucket.json.tftpl", {
    bucket_arn  = aws_s3_bucket.images.arn
    kms_key_arn = aws_kms_key.this.arn
    region      = var.region
  })
}
