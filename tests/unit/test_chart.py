"""The Helm chart, rendered and linted by Helm's own Go code (helm-python-sdk), and
every Kubernetes object checked against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from config import Settings

CHART = Path(__file__).resolve().parents[2] / "charts" / "pixelflow"
KUBERNETES = "1.31.0"


# What an install must give: the chart has no defaults for credentials.
SECRETS = {
    "PIXELFLOW_DATABASE_URL": "postgresql://pixelflow:db-password@db:5432/pixelflow",
    "PIXELFLOW_BROKER_URL": "amqp://pixelflow:mq-password@mq:5672/%2F",
    "PIXELFLOW_S3_ACCESS_KEY": "AKIAEXAMPLE",
    "PIXELFLOW_S3_SECRET_KEY": "s3-secret",
    "FLOWER_BASIC_AUTH": "ops:flower-password",
}


PUBLIC = {"PIXELFLOW_S3_PUBLIC_ENDPOINT": "images-storage.example.com"}


def with_secrets(values: dict[str, Any] | None) -> dict[str, Any]:
    values = dict(values or {})
    values["secrets"] = {**SECRETS, **values.get("secrets", {})}
    values["config"] = {**PUBLIC, **values.get("config", {})}
    return values


def render(values: dict[str, Any] | None = None, secrets: bool = True) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) → object; with the required secrets unless ``secrets`` is False."""
    with helm.Chart.load(str(CHART)) as chart:
        given = with_secrets(values) if secrets else (values or {})
        manifests = chart.render(given, name="pf", namespace="images", is_install=True)
    objects = {}
    for path, text in manifests.items():
        if path.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if doc:
                    objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_the_chart_lints_clean() -> None:
    report = helm.lint(str(CHART), with_secrets({}), strict=True, kube_version=KUBERNETES)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1 and "icon" not in m["error"]] == []


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"worker": {"keda": {"enabled": False}}, "flower": {"enabled": True}, "api": {"ingress": {"enabled": True}}},
        {"metrics": {"serviceMonitor": {"enabled": True}}, "secrets": {"existingSecret": "mine"}},
    ],
    ids=["defaults", "no-keda-flower-ingress", "service-monitor-existing-secret"],
)
def test_every_kubernetes_object_matches_the_kubernetes_schemas(values: dict[str, Any]) -> None:
    objects = render(values)
    core = [o for (kind, _), o in objects.items() if not o["apiVersion"].startswith(("keda.sh/", "monitoring.coreos"))]
    assert len(core) >= 8
    for obj in core:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_keda_scales_each_worker_deployment_on_its_own_queue() -> None:
    from tasks.topology import transform_queue

    objects = render()
    queue = objects[("ConfigMap", "pf-pixelflow-config")]["data"]["PIXELFLOW_QUEUE"]
    expected = {
        "pf-pixelflow-worker": ("worker-transform", transform_queue(Settings(queue=queue)), "8"),
        "pf-pixelflow-worker-io": ("worker-io", queue, "64"),
    }
    for name, (role, queue_name, length) in expected.items():
        scaled = objects[("ScaledObject", name)]
        worker = objects[("Deployment", name)]
        assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
        assert containers(worker)[0]["args"][0] == role
        assert "replicas" not in worker["spec"]  # KEDA's HPA owns it; a fixed number would fight it
        trigger, backlog = scaled["spec"]["triggers"]
        assert trigger["type"] == "rabbitmq"
        # The relay holds a batch's backlog in the outbox (it feeds the queues at the workers' pace): KEDA counts
        # it there too, with the database URL of the Secret the pods use.
        assert backlog["type"] == "postgresql" and backlog["metadata"]["targetQueryValue"] == length
        assert backlog["metadata"]["query"] == "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        db = objects[("TriggerAuthentication", backlog["authenticationRef"]["name"])]
        [db_ref] = db["spec"]["secretTargetRef"]
        assert (db_ref["parameter"], db_ref["key"]) == ("connection", "PIXELFLOW_DATABASE_URL")
        assert trigger["metadata"] == {
            "protocol": "amqp",
            "queueName": queue_name,
            "mode": "QueueLength",
            "value": length,
        }
        # KEDA reads the broker URL from the Secret the pods use.
        auth = objects[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
        [ref] = auth["spec"]["secretTargetRef"]
        assert ref["parameter"] == "host" and ref["key"] in objects[("Secret", ref["name"])]["stringData"]

    off = {"keda": {"enabled": False}, "replicas": 3}
    fixed = render({"worker": off, "ioWorker": off})
    assert fixed[("Deployment", "pf-pixelflow-worker")]["spec"]["replicas"] == 3
    assert fixed[("Deployment", "pf-pixelflow-worker-io")]["spec"]["replicas"] == 3
    assert not [key for key in fixed if key[0] in ("ScaledObject", "TriggerAuthentication")]
    one = render({"worker": off})  # the I/O workers still scale, with the broker's credentials
    assert ("TriggerAuthentication", "pf-pixelflow-rabbitmq") in one and (
        "ScaledObject",
        "pf-pixelflow-worker-io",
    ) in one


def test_a_scaled_down_worker_outlives_its_longest_step() -> None:
    worker = render()[("Deployment", "pf-pixelflow-worker")]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > Settings().task_time_limit


def test_the_pods_get_settings_pixelflow_reads_and_ports_that_agree() -> None:
    objects = render()
    config = objects[("ConfigMap", "pf-pixelflow-config")]["data"]
    secret = objects[("Secret", "pf-pixelflow-secrets")]["stringData"]
    known = {f"PIXELFLOW_{name.upper()}" for name in Settings.model_fields}
    assert {k for k in (*config, *secret) if k.startswith("PIXELFLOW_")} - known == set()
    # Every value parses: the settings as a pod would read them.
    env = {**config, **secret}
    settings = Settings.model_validate({k.removeprefix("PIXELFLOW_").lower(): v for k, v in env.items() if k in known})
    assert settings.queue == "pixelflow"

    worker = objects[("Deployment", "pf-pixelflow-worker")]
    [port] = containers(worker)[0]["ports"]
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert port["containerPort"] == settings.worker_metrics_port == int(annotations["prometheus.io/port"])
    exporter = objects[("Deployment", "pf-pixelflow-exporter")]
    assert containers(exporter)[0]["ports"][0]["containerPort"] == settings.exporter_port
    relay = objects[("Deployment", "pf-pixelflow-relay")]
    [port] = containers(relay)[0]["ports"]
    annotations = relay["spec"]["template"]["metadata"]["annotations"]
    assert port["containerPort"] == settings.relay_metrics_port == int(annotations["prometheus.io/port"])
    for obj in objects.values():
        if obj["kind"] == "Deployment":
            for container in containers(obj):
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
                refs = [r.get("secretRef", r.get("configMapRef"))["name"] for r in container["envFrom"]]
                assert refs == ["pf-pixelflow-config", "pf-pixelflow-secrets"]


def test_the_api_pods_migrate_before_they_serve_and_are_probed() -> None:
    api = render()[("Deployment", "pf-pixelflow-api")]["spec"]["template"]["spec"]
    assert [(c["name"], c["args"]) for c in api["initContainers"]] == [("migrate", ["migrate"])]
    [container] = api["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert (
        "initContainers"
        not in render({"migrations": {"enabled": False}})[("Deployment", "pf-pixelflow-api")]["spec"]["template"][
            "spec"
        ]
    )


def test_an_existing_secret_replaces_the_charts_own() -> None:
    objects = render({"secrets": {"existingSecret": "pixelflow-prod"}})
    assert not [key for key in objects if key[0] == "Secret"]
    auth = objects[("TriggerAuthentication", "pf-pixelflow-rabbitmq")]
    assert auth["spec"]["secretTargetRef"][0]["name"] == "pixelflow-prod"
    worker = objects[("Deployment", "pf-pixelflow-worker")]
    assert {"secretRef": {"name": "pixelflow-prod"}} in containers(worker)[0]["envFrom"]


def test_a_broker_cluster_and_a_database_failover_pair_reach_the_pods_and_keda_gets_one_broker_host() -> None:
    nodes = ";".join(f"amqp://pixelflow:mq-password@mq-{n}.mq:5672/%2F" for n in range(3))
    database = "postgresql://pixelflow:pw@db-a:5432,db-b:5432/pixelflow?target_session_attrs=read-write"
    # KEDA's RabbitMQ scaler reads one host: a node list without the cluster's Service is refused.
    with pytest.raises(Exception, match=r"secrets\.KEDA_BROKER_URL is required"):
        render({"secrets": {"PIXELFLOW_BROKER_URL": nodes}})
    # Without KEDA there is nothing to refuse.
    fixed = {"worker": {"keda": {"enabled": False}}, "ioWorker": {"keda": {"enabled": False}}}
    assert ("TriggerAuthentication", "pf-pixelflow-rabbitmq") not in render(
        {**fixed, "secrets": {"PIXELFLOW_BROKER_URL": nodes}}
    )
    service = "amqp://pixelflow:mq-password@mq.images.svc:5672/%2F"
    objects = render(
        {"secrets": {"PIXELFLOW_BROKER_URL": nodes, "KEDA_BROKER_URL": service, "PIXELFLOW_DATABASE_URL": database}}
    )
    secret = objects[("Secret", "pf-pixelflow-secrets")]["stringData"]
    assert secret["PIXELFLOW_BROKER_URL"] == nodes and secret["KEDA_BROKER_URL"] == service
    assert secret["PIXELFLOW_DATABASE_URL"] == database
    refs = {
        auth: {r["parameter"]: r["key"] for r in objects[("TriggerAuthentication", auth)]["spec"]["secretTargetRef"]}
        for auth in ("pf-pixelflow-rabbitmq", "pf-pixelflow-postgresql")
    }
    assert refs == {
        "pf-pixelflow-rabbitmq": {"host": "KEDA_BROKER_URL"},
        "pf-pixelflow-postgresql": {"connection": "PIXELFLOW_DATABASE_URL"},
    }
    # Every pod reads the whole list and both hosts from that Secret, and PixelFlow reads them as they are.
    for name in ("pf-pixelflow-api", "pf-pixelflow-worker", "pf-pixelflow-worker-io", "pf-pixelflow-relay"):
        assert {"secretRef": {"name": "pf-pixelflow-secrets"}} in containers(objects[("Deployment", name)])[-1][
            "envFrom"
        ]
    settings = Settings(broker_url=nodes, database_url=database)
    assert settings.broker_url.split(";") == nodes.split(";") and settings.database_url == database
    # A Secret of one's own names the key KEDA reads.
    own = render(
        {"secrets": {"existingSecret": "mine", "existingSecretKedaBrokerUrlKey": "AMQP_SERVICE_URL"}, "config": PUBLIC},
        secrets=False,
    )
    auth = own[("TriggerAuthentication", "pf-pixelflow-rabbitmq")]["spec"]["secretTargetRef"][0]
    assert (auth["name"], auth["key"]) == ("mine", "AMQP_SERVICE_URL")
    assert (
        render({"secrets": {"PIXELFLOW_BROKER_URL": service}})[("TriggerAuthentication", "pf-pixelflow-rabbitmq")][
            "spec"
        ]["secretTargetRef"][0]["key"]
        == "PIXELFLOW_BROKER_URL"
    )


def test_pods_go_where_the_scheduling_values_say_the_roles_own_first() -> None:
    avx2 = {"feature.node.kubernetes.io/cpu-cpuid.AVX2": "true"}
    spot = [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]
    arm = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}
                ]
            }
        }
    }
    objects = render({"tolerations": spot, "worker": {"nodeSelector": avx2}, "relay": {"affinity": arm}})
    pods = {name: obj["spec"]["template"]["spec"] for (kind, name), obj in objects.items() if kind == "Deployment"}
    assert pods["pf-pixelflow-worker"]["nodeSelector"] == avx2
    assert "nodeSelector" not in pods["pf-pixelflow-api"]
    assert pods["pf-pixelflow-relay"]["affinity"] == arm and "affinity" not in pods["pf-pixelflow-worker"]
    assert all(pod["tolerations"] == spot for pod in pods.values())
    for obj in objects.values():
        if obj["kind"] == "Deployment":
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    assert all(
        "tolerations" not in pod
        for pod in (o["spec"]["template"]["spec"] for (k, _), o in render().items() if k == "Deployment")
    )


def test_the_worker_and_relay_are_probed_on_their_heartbeats_and_flower_on_its_healthcheck() -> None:
    objects = render({"flower": {"enabled": True}})
    worker = containers(objects[("Deployment", "pf-pixelflow-worker")])[0]
    relay = containers(objects[("Deployment", "pf-pixelflow-relay")])[0]
    flower = containers(objects[("Deployment", "pf-pixelflow-flower")])[0]
    assert worker["livenessProbe"]["exec"]["command"] == ["python", "-m", "core.liveness", "worker"]
    assert relay["livenessProbe"]["exec"]["command"] == ["python", "-m", "core.liveness", "relay"]
    assert flower["livenessProbe"]["httpGet"]["path"] == "/healthcheck"
    # A probe period longer than the heartbeat interval, so one late beat is not a failure.
    from core import liveness

    assert worker["livenessProbe"]["periodSeconds"] > liveness.BEAT_EVERY


def test_the_alerts_and_the_dashboard_come_from_the_files_compose_mounts_and_the_monitors_carry_labels() -> None:
    files = CHART / "files"
    labels = {"release": "kube-prometheus-stack"}
    objects = render(
        {
            "metrics": {
                "serviceMonitor": {"enabled": True, "labels": labels},
                "prometheusRule": {"enabled": True, "labels": labels},
                "dashboard": {"enabled": True},
            }
        }
    )
    rule = objects[("PrometheusRule", "pf-pixelflow")]
    assert rule["spec"] == yaml.safe_load((files / "prometheus/alerts.yml").read_text())
    dashboard = objects[("ConfigMap", "pf-pixelflow-dashboard")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["pixelflow.json"]) == json.loads((files / "grafana/pixelflow.json").read_text())
    kubernetes_validate.validate(dashboard, KUBERNETES, strict=True)
    monitors = [rule, objects[("ServiceMonitor", "pf-pixelflow")], objects[("PodMonitor", "pf-pixelflow-worker")]]
    assert all(m["metadata"]["labels"]["release"] == "kube-prometheus-stack" for m in monitors)
    # The PodMonitor scrapes both worker Deployments and the relay.
    scraped = {
        o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for (kind, _), o in objects.items()
        if kind == "Deployment" and ("worker" in o["metadata"]["name"] or o["metadata"]["name"].endswith("-relay"))
    }
    [expression] = objects[("PodMonitor", "pf-pixelflow-worker")]["spec"]["selector"]["matchExpressions"]
    assert scraped == set(expression["values"]) == {"worker", "worker-io", "relay"}
    # Off by default: no Prometheus Operator objects a cluster without its CRDs would refuse.
    assert not [k for k in render() if k[0] in ("PrometheusRule", "ServiceMonitor", "PodMonitor")]


def test_no_insecure_default_credentials_the_chart_refuses_to_render_without_them() -> None:
    for missing in ("PIXELFLOW_DATABASE_URL", "PIXELFLOW_BROKER_URL", "PIXELFLOW_S3_SECRET_KEY"):
        values = {"secrets": {**SECRETS, missing: ""}, "config": PUBLIC}
        with pytest.raises(Exception, match=f"secrets.{missing} is required"):
            render(values, secrets=False)
    with pytest.raises(Exception, match="FLOWER_BASIC_AUTH"):
        render(
            {"flower": {"enabled": True}, "secrets": {**SECRETS, "FLOWER_BASIC_AUTH": ""}, "config": PUBLIC},
            secrets=False,
        )
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert not [k for k, v in values["secrets"].items() if isinstance(v, str) and "change-me" in v]
    # An existing Secret replaces them all.
    mine = render({"secrets": {"existingSecret": "mine"}, "config": PUBLIC}, secrets=False)
    assert ("Secret", "pf-pixelflow-secrets") not in mine


def test_each_role_has_its_own_service_account_with_its_annotations_and_no_token() -> None:
    irsa = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/pixelflow-s3"}
    objects = render(
        {"serviceAccount": {"annotations": {"team": "images"}}, "api": {"serviceAccount": {"annotations": irsa}}}
    )
    accounts = {name: o for (kind, name), o in objects.items() if kind == "ServiceAccount"}
    assert set(accounts) == {f"pf-pixelflow-{r}" for r in ("api", "worker", "io-worker", "relay", "exporter")}
    assert accounts["pf-pixelflow-api"]["metadata"]["annotations"] == {**irsa, "team": "images"}
    assert accounts["pf-pixelflow-relay"]["metadata"]["annotations"] == {"team": "images"}
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    for (kind, name), obj in objects.items():
        if kind == "Deployment":
            pod = obj["spec"]["template"]["spec"]
            assert pod["automountServiceAccountToken"] is False
            assert pod["serviceAccountName"] in accounts, name
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_every_container_has_requests_and_limits_the_migrate_init_container_too() -> None:
    for (kind, name), obj in render().items():
        if kind == "Deployment":
            for container in containers(obj):
                resources = container.get("resources") or {}
                assert resources.get("requests") and resources.get("limits", {}).get("memory"), (
                    name,
                    container["name"],
                )


def test_network_policies_open_only_the_api_and_the_metrics_ports() -> None:
    prometheus = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    objects = render({"networkPolicy": {"enabled": True, "metricsFrom": prometheus}, "flower": {"enabled": True}})
    policies = {name: o for (kind, name), o in objects.items() if kind == "NetworkPolicy"}
    deployments = {
        o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]: o
        for (k, _), o in objects.items()
        if k == "Deployment"
    }
    covered = {p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in policies.values()}
    assert covered == set(deployments)  # every pod is under a policy
    for policy in policies.values():
        kubernetes_validate.validate(policy, KUBERNETES, strict=True)
        component = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        ports = [p["port"] for rule in policy["spec"].get("ingress") or [] for p in rule["ports"]]
        declared = {p["name"] for c in containers(deployments[component]) for p in c.get("ports", [])}
        assert set(ports) <= declared, component
        if component in ("worker", "worker-io", "exporter", "relay"):
            assert policy["spec"]["ingress"] == [{"ports": [{"port": "metrics"}], "from": prometheus}]
        assert "Egress" not in policy["spec"]["policyTypes"]  # egress open unless networkPolicy.egress


def test_values_are_checked_against_the_schema_typos_and_wrong_types_refused() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(schema["properties"]) == set(defaults)  # the schema names every top-level value there is
    with pytest.raises(Exception, match="concurency"):
        render({"worker": {"concurency": 4}})
    with pytest.raises(Exception, match="replicas"):
        render({"api": {"replicas": "two"}})
    render(
        {"config": {"PIXELFLOW_TASK_MAX_RETRIES": "4"}, "worker": {"concurrency": 4}}
    )  # free-form where it should be


def test_presigned_urls_need_a_public_storage_endpoint_unless_the_storage_is_aws_s3() -> None:
    with pytest.raises(Exception, match="PIXELFLOW_S3_PUBLIC_ENDPOINT is required"):
        render({"config": {"PIXELFLOW_S3_PUBLIC_ENDPOINT": ""}})
    aws = {"PIXELFLOW_S3_ENDPOINT": "s3.eu-west-1.amazonaws.com", "PIXELFLOW_S3_PUBLIC_ENDPOINT": ""}
    config = render({"config": aws})[("ConfigMap", "pf-pixelflow-config")]["data"]
    assert config["PIXELFLOW_S3_ENDPOINT"] == "s3.eu-west-1.amazonaws.com"


# The checks checkov still fails on a render, each for a reason: the chart's answer to them.
CHECKOV_ACCEPTED = {
    "CKV_K8S_11": "no CPU limits: the CFS quota throttles a worker mid-render and stretches p99; CPU requests "
    "size the pods and KEDA adds pods (memory limits are set)",
    "CKV_K8S_35": "secrets as environment variables: PixelFlow reads PIXELFLOW_* settings from its environment "
    "(pydantic-settings), Flower reads FLOWER_BASIC_AUTH; the pods run read-only, non-root, without a token",
    "CKV_K8S_43": "image by tag unless image.digest is set: set it in production (the render with a digest passes)",
    "CKV_K8S_15": "pull policy IfNotPresent with a tag: set image.digest in production (checkov then passes it)",
}


@pytest.mark.parametrize(
    ("values", "accepted"),
    [
        ({}, {"CKV_K8S_11", "CKV_K8S_35", "CKV_K8S_43", "CKV_K8S_15"}),
        ({"flower": {"enabled": True}, "api": {"ingress": {"enabled": True}}, "worker": {"keda": {"enabled": False}}},
         {"CKV_K8S_11", "CKV_K8S_35", "CKV_K8S_43", "CKV_K8S_15"}),
        ({"image": {"digest": "sha256:" + "a" * 64}, "metrics": {"serviceMonitor": {"enabled": True}}},
         {"CKV_K8S_11", "CKV_K8S_35"}),
    ],
    ids=["defaults", "flower-ingress-no-keda", "production-digest"],
)  # fmt: skip
def test_checkov_passes_every_render_but_the_checks_the_chart_answers(
    values: dict[str, Any], accepted: set[str], tmp_path: Path
) -> None:
    from tests.support.checkov import scan

    manifest = tmp_path / "pixelflow.yaml"
    manifest.write_text(yaml.safe_dump_all(list(render(values).values())))
    report = scan(manifest, "kubernetes")
    assert report["summary"]["resource_count"] >= 20
    failed = {f["check_id"] for f in report["results"]["failed_checks"]}
    assert failed == accepted, {c: CHECKOV_ACCEPTED.get(c, "not accepted") for c in failed ^ accepted}
    assert accepted <= set(CHECKOV_ACCEPTED)


def test_with_an_irsa_role_no_storage_keys_are_asked_for_and_none_are_set() -> None:
    irsa = {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/images"}}}
    secrets = {**SECRETS, "PIXELFLOW_S3_ACCESS_KEY": "", "PIXELFLOW_S3_SECRET_KEY": ""}
    with pytest.raises(Exception, match="unless the API and worker ServiceAccounts carry an IRSA role"):
        render({"secrets": secrets, "config": PUBLIC}, secrets=False)
    objects = render({**irsa, "secrets": secrets, "config": PUBLIC}, secrets=False)
    config = objects[("ConfigMap", "pf-pixelflow-config")]["data"]
    assert (config["PIXELFLOW_S3_ACCESS_KEY"], config["PIXELFLOW_S3_SECRET_KEY"]) == ("", "")  # over the defaults
    assert "PIXELFLOW_S3_ACCESS_KEY" not in objects[("Secret", "pf-pixelflow-secrets")]["stringData"]
    assert "PIXELFLOW_S3_ACCESS_KEY" not in render()[("ConfigMap", "pf-pixelflow-config")]["data"]  # keys: untouched


def test_traces_go_to_the_otlp_endpoint_the_values_name_and_are_off_without_one() -> None:
    default = render({})[("ConfigMap", "pf-pixelflow-config")]["data"]
    assert not [k for k in default if k.startswith("OTEL_")]
    values = {"tracing": {"otlpEndpoint": "http://otel-collector.observability:4318", "sampleRatio": 0.25}}
    config = render(values)[("ConfigMap", "pf-pixelflow-config")]["data"]
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert (config["OTEL_TRACES_SAMPLER"], config["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0.25")
    with pytest.raises(Exception, match="sampleRatio"):
        render({"tracing": {"sampleRatio": 2}})
