"""The Bicep is complete, conventional and parseable: what `azd up` needs to compile it."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from pycep import BicepParser

from tests.infra.bicep_model import (
    INFRA,
    ROOT,
    all_templates,
    bicep_files,
    body,
    module_path,
    template,
)


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses_with_a_real_bicep_parser(path):
    assert BicepParser().parse(text=path.read_text(encoding="utf-8"))


def test_main_deploys_at_subscription_scope():
    assert template("main.bicep")["globals"]["scope"]["value"] == "subscription"


def test_every_module_is_a_local_file_that_exists():
    for name, tpl in all_templates().items():
        base = (INFRA / name).parent
        for module_name, module in tpl.get("modules", {}).items():
            assert module["type"] == "local", f"{name}: {module_name} is a registry module"
            path = module_path(module)
            assert (base / path).is_file(), f"{name}: {module_name} -> {path} does not exist"


# Types whose published api-versions are all previews for what infra/ declares: diagnostic settings
# as an extension resource (2016-09-01 is the older per-resource "service" setting, another shape).
PREVIEW_ONLY = {"microsoft.insights/diagnosticsettings": "2021-05-01-preview"}


def test_every_resource_pins_a_stable_api_version():
    for name, tpl in all_templates().items():
        for resource_name, resource in tpl.get("resources", {}).items():
            version = resource["api_version"]
            if PREVIEW_ONLY.get(resource["type"].lower()) == version:
                continue
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", version), f"{name}: {resource_name}@{version}"


def test_every_module_file_is_used_by_the_deployment():
    used = set()
    for name, tpl in all_templates().items():
        base = (INFRA / name).parent
        used |= {(base / module_path(m)).resolve() for m in tpl.get("modules", {}).values()}
    unused = {p for p in bicep_files() if p.name != "main.bicep"} - used
    assert not unused, f"modules nothing deploys: {sorted(str(p) for p in unused)}"


def test_parameters_file_sets_every_parameter_without_a_default_and_only_real_ones():
    parameters = template("main.bicep")["parameters"]
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(values) <= set(parameters), set(values) - set(parameters)
    required = {name for name, p in parameters.items() if p["default"] is None}
    assert required <= set(values), required - set(values)


def test_parameters_come_from_the_azd_environment_not_from_hand_edited_placeholders():
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for name, entry in values.items():
        assert re.fullmatch(r"\$\{[A-Z0-9_]+(=[^}]*)?\}", entry["value"]), (name, entry["value"])


def test_azure_yaml_deploys_the_function_app_tagged_for_it_from_the_bicep():
    config = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    (service_name, service), *others = config["services"].items()
    assert not others
    assert service["host"] == "function"
    assert service["language"] == "python"
    site = template("modules/functionapp.bicep")["resources"]["site"]
    assert f'azd-service-name\'": "{service_name}"' in json.dumps(body(site)["tags"])


def test_function_app_runs_python_3_11_on_flex_consumption_by_default():
    tpl = template("modules/functionapp.bicep")
    plan = body(tpl["resources"]["plan"])
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    runtime = body(tpl["resources"]["site"])["properties"]["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "3.11"}


def test_every_checkov_skip_sits_in_a_resource_and_gives_a_reason():
    for path in bicep_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = re.search(r"checkov:skip=(CKV2?_AZURE_\d+):\s*(.+)", line)
                assert match and len(match.group(2)) > 30, f"{path.name}: {line.strip()}"
                where = f"{path.name}: skip outside a resource: {line.strip()}"
                assert line.startswith("  "), where
