"""deploy/k8s rendered by the real kustomize (tests/support/kustomize.py), every object validated
against the Kubernetes JSON schemas that kubernetes-validate ships (strict: unknown fields fail), and
the rules a schema cannot state: probes, non-root, Secrets by name only and documented, HPA and
Service targets that exist, one image, every config/ file mounted where Modelyard reads it.
No cluster is involved; docs/deployment.md says what that leaves untested.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.kustomize import render

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE, OVERLAY = K8S / "base", K8S / "overlays" / "example"
CONFIG = ROOT / "config"
DOCS = ROOT / "docs" / "deployment.md"
ADAPTER_VALUES = ROOT / "deploy" / "prometheus-adapter" / "values.yaml"
SCHEMA_VERSIONS = ("1.25", "1.37")
"""The oldest and the newest Kubernetes schemas kubernetes-validate 1.37.0 ships."""

Obj = dict[str, Any]


@pytest.fixture(scope="module", params=["base", "overlay"])
def rendered(request: pytest.FixtureRequest) -> list[Obj]:
    return render(BASE if request.param == "base" else OVERLAY)


@pytest.fixture(scope="module")
def overlay() -> list[Obj]:
    return render(OVERLAY)


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


def name(obj: Obj) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def containers(deployment: Obj) -> list[Obj]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


# --- schemas ---


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_object_matches_its_kubernetes_schema(rendered: list[Obj], version: str) -> None:
    failures = []
    for obj in rendered:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            failures.append(f"{name(obj)}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(f"{name(obj)}: {error.message}")
    assert not failures, "\n".join(failures)


def test_the_schema_check_catches_a_wrong_field() -> None:
    """The validation above is real: a misspelt probe field fails it."""
    deployment = of_kind(render(BASE), "Deployment")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[-1], strict=True)


def test_what_is_rendered(rendered: list[Obj]) -> None:
    names = {name(obj) for obj in rendered}
    expected = {
        "Deployment/modelyard-gateway",
        "Deployment/modelyard-ui",
        "Deployment/modelyard-worker",
        "Service/modelyard-gateway",
        "Service/modelyard-ui",
        "HorizontalPodAutoscaler/modelyard-gateway",
        "PodDisruptionBudget/modelyard-gateway",
    }
    assert expected <= names, f"missing: {sorted(expected - names)}"
    assert not of_kind(rendered, "Secret"), "Secrets are created in the cluster, never rendered from the repo"


# --- pods ---


def test_every_container_has_readiness_and_liveness_probes(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        for container in containers(deployment):
            ports = {port.get("name") for port in container.get("ports", [])}
            for kind in ("readinessProbe", "livenessProbe"):
                probe = container.get(kind)
                assert probe, f"{name(deployment)}: container {container['name']} has no {kind}"
                if "httpGet" in probe:
                    assert probe["httpGet"]["port"] in ports, f"{name(deployment)}: {kind} probes an unknown port"


@pytest.mark.parametrize(
    ("deployment_name", "path"),
    [("modelyard-gateway", "/healthz"), ("modelyard-ui", "/_stcore/health")],
)
def test_http_processes_are_probed_on_their_health_endpoints(
    rendered: list[Obj], deployment_name: str, path: str
) -> None:
    (deployment,) = [d for d in of_kind(rendered, "Deployment") if d["metadata"]["name"] == deployment_name]
    (container,) = containers(deployment)
    for kind in ("readinessProbe", "livenessProbe"):
        assert container[kind]["httpGet"]["path"] == path


def dockerfile_uid() -> int:
    users = re.findall(r"^USER\s+(\d+)", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    return int(users[-1])


def test_every_pod_runs_as_the_images_non_root_user(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name(deployment)
        assert pod["securityContext"]["runAsUser"] == dockerfile_uid(), f"{name(deployment)}: not the image's USER"
        assert pod.get("automountServiceAccountToken") is False, f"{name(deployment)}: mounts an API token"
        for container in containers(deployment):
            context = container.get("securityContext", {})
            assert context.get("runAsNonRoot", True) is True and context.get("runAsUser", 1) != 0
            assert context.get("allowPrivilegeEscalation") is False, f"{name(deployment)}/{container['name']}"
            assert context.get("capabilities", {}).get("drop") == ["ALL"], f"{name(deployment)}/{container['name']}"


_UNITS = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: str | int) -> float:
    """A Kubernetes quantity ("500m", "1536Mi", "2") as a number."""
    parsed = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert parsed and parsed.group(2) in _UNITS, f"not a quantity this test reads: {value!r}"
    return float(parsed.group(1)) * _UNITS[parsed.group(2)]


def test_every_container_requests_and_limits_cpu_memory_and_disk(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        for container in containers(deployment):
            resources = container.get("resources", {})
            where = f"{name(deployment)}/{container['name']}"
            for resource in ("cpu", "memory", "ephemeral-storage"):
                request = resources.get("requests", {}).get(resource)
                limit = resources.get("limits", {}).get(resource)
                assert request and limit, f"{where}: {resource} needs a request and a limit"
                assert quantity(request) <= quantity(limit), f"{where}: {resource} request above its limit"


def test_llama_cpp_threads_fit_the_cpu_limit(rendered: list[Obj]) -> None:
    """A container sees every core of its node; more decode threads than its CPU quota stall each other."""
    for deployment in of_kind(rendered, "Deployment"):
        for container in containers(deployment):
            env = {item["name"]: item.get("value") for item in container.get("env", [])}
            threads = env.get("MODELYARD_LLAMACPP_THREADS")
            assert threads, f"{name(deployment)}: MODELYARD_LLAMACPP_THREADS unset (llama.cpp would count the node)"
            assert int(threads) <= quantity(container["resources"]["limits"]["cpu"]), name(deployment)


def test_one_image_everywhere(rendered: list[Obj]) -> None:
    images = {c["image"] for d in of_kind(rendered, "Deployment") for c in containers(d)}
    assert len(images) == 1, f"the Deployments run different images: {sorted(images)}"


def test_the_overlay_pins_the_image(overlay: list[Obj]) -> None:
    (image,) = {c["image"] for d in of_kind(overlay, "Deployment") for c in containers(d)}
    assert "@sha256:" in image or re.search(r":[\w][\w.-]*$", image.rsplit("/", 1)[-1]), f"{image}: no tag"
    assert not image.endswith(":latest"), image


# --- references between objects ---


def test_the_hpa_scales_an_existing_deployment_that_leaves_replicas_to_it(rendered: list[Obj]) -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind(rendered, "Deployment")}
    for hpa in of_kind(rendered, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment"), name(hpa)
        assert target["name"] in deployments, f"{name(hpa)} targets a Deployment that is not rendered"
        assert "replicas" not in deployments[target["name"]]["spec"], (
            f"{target['name']} sets spec.replicas: every apply would reset the count the HPA chose"
        )
        kinds = {metric["type"] for metric in hpa["spec"]["metrics"]}
        assert {"Resource", "Pods"} <= kinds, f"{name(hpa)}: scales on {kinds}, not on CPU and requests per pod"


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_deployment_selectors_match_their_own_pods(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert matches(deployment["spec"]["selector"]["matchLabels"], labels), name(deployment)


def test_service_selectors_pick_exactly_one_deployments_pods_and_their_port(rendered: list[Obj]) -> None:
    deployments = of_kind(rendered, "Deployment")
    for service in of_kind(rendered, "Service"):
        if service["spec"].get("type") == "ExternalName":
            continue
        selected = [
            d for d in deployments if matches(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(selected) == 1, f"{name(service)} selects {[name(d) for d in selected]}"
        ports = {p.get("name") for c in containers(selected[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{name(service)}: targetPort {port['targetPort']} is not a pod port"


def test_the_pdb_covers_the_gateway_pods(rendered: list[Obj]) -> None:
    (pdb,) = of_kind(rendered, "PodDisruptionBudget")
    (gateway,) = [d for d in of_kind(rendered, "Deployment") if d["metadata"]["name"] == "modelyard-gateway"]
    assert matches(pdb["spec"]["selector"]["matchLabels"], gateway["spec"]["template"]["metadata"]["labels"])


def pod_references(deployment: Obj, kind: str) -> Iterator[str]:
    """Names of the ``kind`` ("configMap" or "secret") objects a Deployment's pods refer to."""
    pod = deployment["spec"]["template"]["spec"]
    for container in containers(deployment):
        for source in container.get("envFrom", []):
            if f"{kind}Ref" in source:
                yield source[f"{kind}Ref"]["name"]
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get(f"{kind}KeyRef")
            if ref:
                yield ref["name"]
    for volume in pod.get("volumes", []):
        if kind in volume:
            yield volume[kind].get("name") or volume[kind].get("secretName")
        for source in volume.get("projected", {}).get("sources", []):
            if kind in source:
                yield source[kind]["name"]


def test_every_config_map_a_pod_uses_is_rendered(rendered: list[Obj]) -> None:
    config_maps = {cm["metadata"]["name"] for cm in of_kind(rendered, "ConfigMap")}
    for deployment in of_kind(rendered, "Deployment"):
        missing = set(pod_references(deployment, "configMap")) - config_maps
        assert not missing, f"{name(deployment)} refers to ConfigMaps that are not rendered: {missing}"


def documented_secrets() -> dict[str, set[str]]:
    """The "Secrets" table of docs/deployment.md: Secret name → the keys it documents."""
    section = DOCS.read_text().split("\n## Secrets\n", 1)[1].split("\n## ", 1)[0]
    secrets = {}
    for row in re.findall(r"^\| `(modelyard-[\w-]+)` \|([^|]*)\|", section, flags=re.MULTILINE):
        secrets[row[0]] = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", row[1]))
    return secrets


def test_pods_refer_only_to_documented_secrets_and_keys(rendered: list[Obj]) -> None:
    documented = documented_secrets()
    assert documented, "docs/deployment.md has no Secrets table"
    used: set[str] = set()
    for deployment in of_kind(rendered, "Deployment"):
        referenced = set(pod_references(deployment, "secret"))
        used |= referenced
        undocumented = referenced - set(documented)
        assert not undocumented, f"{name(deployment)} uses Secrets docs/deployment.md does not list: {undocumented}"
        for container in containers(deployment):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in documented[ref["name"]], f"{ref['name']}: key {ref['key']} undocumented"
    assert used == set(documented), f"documented but never used: {sorted(set(documented) - used)}"


def test_no_literal_secret_values_in_the_manifests() -> None:
    """Variables that hold secrets are only ever read from a Secret, never written as a value."""
    secret_names = {key for keys in documented_secrets().values() for key in keys}
    for deployment in of_kind(render(OVERLAY), "Deployment"):
        for container in containers(deployment):
            for item in container.get("env", []):
                if item["name"] in secret_names:
                    assert "value" not in item, f"{name(deployment)} writes {item['name']} in the manifest"
    for config_map in of_kind(render(OVERLAY), "ConfigMap"):
        leaked = secret_names & set(config_map.get("data", {}))
        assert not leaked, f"{name(config_map)} holds {leaked}: secrets belong in a Secret"


# --- configuration ---


def env_settings(objects: list[Obj]) -> dict[str, str]:
    """The data of the ``modelyard-env`` ConfigMap (its rendered name carries a hash suffix)."""
    (data,) = [
        cm["data"] for cm in of_kind(objects, "ConfigMap") if cm["metadata"]["name"].startswith("modelyard-env-")
    ]
    return data


def config_files() -> dict[str, str]:
    """Every file under config/ that Modelyard reads (relative path → text)."""
    return {
        path.relative_to(CONFIG).as_posix(): path.read_text()
        for path in sorted(CONFIG.rglob("*"))
        if path.is_file() and path.name != "kustomization.yaml"
    }


def mounted_config(objects: list[Obj], deployment: Obj) -> tuple[str, dict[str, str]]:
    """The mount path of a pod's config volume and the files it shows there (path → text)."""
    data = {cm["metadata"]["name"]: cm.get("data", {}) for cm in of_kind(objects, "ConfigMap")}
    pod = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    files: dict[str, str] = {}
    for source in volume["projected"]["sources"]:
        contents = data[source["configMap"]["name"]]
        items = source["configMap"].get("items") or [{"key": key, "path": key} for key in contents]
        for item in items:
            assert item["path"] not in files, f"two ConfigMap keys project to {item['path']}"
            files[item["path"]] = contents[item["key"]]
    (mount,) = [m for m in containers(deployment)[0]["volumeMounts"] if m["name"] == "config"]
    return mount["mountPath"], files


def test_every_pod_sees_config_as_the_repository_has_it(rendered: list[Obj]) -> None:
    """A file added to config/ must reach the pods: listed in config/kustomization.yaml and projected."""
    expected = config_files()
    settings = env_settings(rendered)
    for deployment in of_kind(rendered, "Deployment"):
        mount_path, files = mounted_config(rendered, deployment)
        assert settings["MODELYARD_CONFIG_DIR"] == mount_path, f"{name(deployment)}: config mounted elsewhere"
        missing = sorted(set(expected) - set(files))
        assert not missing, (
            f"{name(deployment)}: config files not mounted (add to config/kustomization.yaml): {missing}"
        )
        changed = sorted(path for path in expected if files[path] != expected[path])
        assert not changed, f"{name(deployment)}: mounted config differs from the repository: {changed}"
        assert set(files) == set(expected), f"{name(deployment)}: extra files {sorted(set(files) - set(expected))}"


# --- the example overlay ---


def test_overlay_puts_everything_in_its_namespace(overlay: list[Obj]) -> None:
    (namespace,) = of_kind(overlay, "Namespace")
    for obj in overlay:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace["metadata"]["name"], name(obj)


def test_overlay_names_every_external_service_the_base_expects(overlay: list[Obj]) -> None:
    external = {s["metadata"]["name"] for s in of_kind(overlay, "Service") if s["spec"].get("type") == "ExternalName"}
    assert {"modelyard-redis", "modelyard-postgres", "modelyard-chroma"} <= external
    settings = env_settings(overlay)
    assert settings["CHROMA_HOST"] in external
    assert settings["MODELYARD_REDIS_PREFIX"] == "modelyard-example", "the overlay's merge did not apply"


# --- requests per second through the Prometheus adapter ---


def test_the_adapter_rule_serves_the_metric_the_hpa_asks_for() -> None:
    """The rule reads a series the gateway really exposes and names it as the HPA asks for."""
    from app.server.gateway.metrics import GatewayMetrics  # here, so only this test imports the gateway
    from store.request_log import CallRecord

    rules = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]
    (hpa,) = of_kind(render(BASE), "HorizontalPodAutoscaler")
    (wanted,) = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    metrics = GatewayMetrics()
    metrics.observe(CallRecord(endpoint="chat", model="m", status=200, latency_s=0.1))
    exposed = set(re.findall(r"^(\w+)\{", metrics.render().decode(), flags=re.MULTILINE))
    served = set()
    for rule in rules:
        query = re.match(r"(\w+)\{", rule["seriesQuery"])
        assert query, f"the rule's seriesQuery names no series: {rule['seriesQuery']}"
        series = query.group(1)
        assert series in exposed, f"the rule reads {series}, which the gateway does not expose"
        go_replacement = rule["name"]["as"].replace("${1}", r"\1")
        served.add(re.sub(rule["name"]["matches"], go_replacement, series))
    assert wanted in served, f"the HPA asks for {wanted}; the adapter rules serve {served}"
