"""Compute names, namespaces and templates: what the policy renders is what Azure accepts, one
name per compute, and a policy that cannot do so is refused when it loads, with every reason."""

import json
import re

import pytest

from shared.decisions.arm_id import ResourceId
from shared.decisions.policy import AttachPolicy, PolicyError, decide_attachments
from shared.decisions.templates import TemplateError, substitute

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
ML = SUB + "/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}"
PLATFORM = SUB + "/resourceGroups/rg-platform"
AKS = PLATFORM + "/providers/Microsoft.ContainerService/managedClusters/"
# Azure ML's rule for a Kubernetes compute's name (issue 18.1)
AZURE_ACCEPTS = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")


def load(*workspaces, **extra):
    return AttachPolicy.from_json(json.dumps({"workspaces": list(workspaces), **extra}))


def rule(name="ws-a", group="rg-ml", scopes=(PLATFORM,), computes=None):
    entry = {"workspace": ML.format(group, name), "clusters": list(scopes)}
    if computes is not None:
        entry["computes"] = computes
    return entry


def refusal(*workspaces, **extra):
    with pytest.raises(PolicyError) as caught:
        load(*workspaces, **extra)
    return caught.value


def names(policy, cluster_name, tag="ws-a"):
    cluster = ResourceId.parse(AKS + cluster_name)
    decision = decide_attachments(cluster, {"azureml-attach": tag}, "azureml-attach", policy)
    return [a.compute_name for a in decision.attachments]


# -- 18.1: compute names Azure accepts -------------------------------------------------------


@pytest.mark.parametrize(
    "cluster",
    ["aks-vision-prod-weu-01", "AKS_Vision_Prod_WestEurope_01", "01-edge-cluster", "a" * 63],
)
@pytest.mark.parametrize("template", ["{cluster}", "{cluster}-train", "gpu-{cluster}"])
def test_every_rendered_compute_name_is_one_azure_ml_accepts(cluster, template):
    (name,) = names(load(rule(computes=[{"name": template}])), cluster)
    assert AZURE_ACCEPTS.match(name), name


def test_a_short_clean_cluster_name_is_used_as_it_is():
    policy = load(rule(computes=[{"name": "{cluster}"}, {"name": "{cluster}-gpu"}]))
    assert names(policy, "aks-ml") == ["aks-ml", "aks-ml-gpu"]
    assert names(policy, "AksMl01") == ["AksMl01", "AksMl01-gpu"]


def test_a_long_name_keeps_its_start_and_the_templates_text_and_is_the_same_every_time():
    policy = load(rule(computes=[{"name": "{cluster}-train"}]))
    (name,) = names(policy, "aks-vision-prod-weu-01")
    assert name.startswith("aks-v") and name.endswith("-train") and len(name) == 16
    assert names(policy, "aks-vision-prod-weu-01") == [name]


def test_clusters_whose_names_differ_only_past_the_cut_or_in_punctuation_get_distinct_computes():
    policy = load(rule(computes=[{"name": "{cluster}"}]))
    rendered = [
        names(policy, c)[0]
        for c in (
            "aks-vision-prod-weu-01",
            "aks-vision-prod-weu-02",
            "aks_ml",
            "aks-ml",
            "AKS_Vision_Prod_WestEurope_01",
        )
    ]
    assert len({n.lower() for n in rendered}) == len(rendered), rendered


def test_a_cluster_name_starting_with_a_digit_gets_a_name_starting_with_a_letter():
    (name,) = names(load(rule(computes=[{"name": "{cluster}"}])), "01-edge")
    assert name[0].isalpha()


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{cluster}-training-gpu", "leaves 3 of a compute name's 16 characters"),
        ("{workspace}-{cluster}", "leaves"),
        ("9-{cluster}", "which Azure ML refuses"),
        ("-{cluster}", "which Azure ML refuses"),
    ],
)
def test_a_compute_name_template_that_cannot_give_every_cluster_a_valid_name_is_refused(
    template, says
):
    error = refusal(rule(name="a-very-long-workspace", computes=[{"name": template}]))
    assert "workspaces[0].computes[0].name" in str(error) and says in str(error)


def test_a_fixed_compute_name_is_refused_where_the_scope_can_hold_several_clusters():
    error = refusal(rule(computes=[{"name": "gpu"}]))
    assert "workspaces[0].computes[0].name 'gpu' has no {cluster}" in str(error)


def test_a_fixed_compute_name_is_accepted_for_a_single_clusters_scope():
    policy = load(rule(scopes=[AKS + "aks-ml"], computes=[{"name": "gpu"}]))
    assert names(policy, "aks-ml") == ["gpu"]


# -- 19.4: templates that collide --------------------------------------------------------------


@pytest.mark.parametrize(
    "pair",
    [("{cluster}-gpu", "{cluster}-GPU"), ("{cluster}", "{cluster}"), ("x{cluster}", "X{cluster}")],
)
def test_two_compute_templates_that_render_one_name_are_refused_naming_both(pair):
    computes = [{"name": pair[0], "namespace": "team-a"}, {"name": pair[1], "namespace": "team-b"}]
    error = str(refusal(rule(computes=computes)))
    assert "workspaces[0].computes[0].name" in error and "computes[1].name" in error
    assert "same name" in error


# -- 19.6: one namespace for two workspaces of one name ----------------------------------------


def test_two_workspaces_of_one_name_are_refused_a_shared_workspace_namespace():
    error = str(
        refusal(
            rule(name="ws-ml", group="rg-team-a", computes=[{"namespace": "azureml-{workspace}"}]),
            rule(name="ws-ml", group="rg-team-b", computes=[{"namespace": "azureml-{workspace}"}]),
        )
    )
    assert "workspaces[0].computes[0].namespace" in error
    assert "workspaces[1].computes[0].namespace" in error
    assert "rg-team-a" in error and "rg-team-b" in error


def test_two_workspaces_of_one_name_on_clusters_apart_may_use_the_same_template():
    other = SUB + "/resourceGroups/rg-other"
    load(
        rule(name="ws-ml", group="rg-a", computes=[{"namespace": "azureml-{workspace}"}]),
        rule(
            name="ws-ml",
            group="rg-b",
            scopes=[other],
            computes=[{"namespace": "azureml-{workspace}"}],
        ),
    )


def test_workspaces_sharing_the_default_namespace_on_purpose_are_accepted():
    load(rule(name="ws-a"), rule(name="ws-b"))


# -- 19.8: templates substitute only their placeholders; system namespaces are refused ---------


@pytest.mark.parametrize(
    "template",
    [
        "{cluster.__class__.__name__}",
        "{cluster[0]}",
        "{cluster:>3000000}",
        "{cluster!r}",
        "{}",
        "{",
    ],
)
@pytest.mark.parametrize("field", ["name", "namespace"])
def test_python_format_syntax_is_refused_in_templates(template, field):
    error = str(refusal(rule(computes=[{field: template}])))
    assert f"workspaces[0].computes[0].{field}" in error


def test_the_substitution_fills_named_placeholders_and_nothing_else():
    assert substitute("{cluster}-{workspace}", {"cluster": "c", "workspace": "w"}) == "c-w"
    assert substitute("{cluster}{cluster}", {"cluster": "{workspace}"}) == "{workspace}{workspace}"
    with pytest.raises(TemplateError):
        substitute("{cluster.real}", {"cluster": "c"})


@pytest.mark.parametrize(
    "namespace",
    ["kube-system", "kube-public", "kube-node-lease", "default", "gatekeeper-system",
     "calico-system", "tigera-operator", "azure-arc", "kube-{cluster}"],
)  # fmt: skip
def test_a_system_namespace_is_refused(namespace):
    error = str(refusal(rule(computes=[{"namespace": namespace}])))
    assert "workspaces[0].computes[0].namespace" in error and "keeps" in error


def test_a_cluster_whose_name_renders_a_system_namespace_is_refused_for_that_cluster_only():
    policy = load(rule(computes=[{"namespace": "{cluster}"}]))
    cluster = ResourceId.parse(AKS + "default")
    decision = decide_attachments(cluster, {"azureml-attach": "ws-a"}, "azureml-attach", policy)
    assert decision.attachments == ()
    assert "namespace default" in decision.refusals[0][1]
    assert names(policy, "aks-ml") == ["aks-ml"]


# -- 21.7: one rule for characters; every problem at once ---------------------------------------


@pytest.mark.parametrize("field", ["name", "namespace"])
def test_characters_azure_refuses_typed_in_a_template_are_refused_not_rewritten(field):
    error = str(refusal(rule(computes=[{field: "{cluster}_GPU"}])))
    assert f"workspaces[0].computes[0].{field}" in error


def test_every_semantic_problem_is_reported_in_one_run():
    error = refusal(
        rule(computes=[{"name": "{cluster}_x", "namespace": "kube-system"}]),
        rule(name="ws-b", scopes=["/subscriptions/other"]),
        extension={"when_missing": "install", "settings": {"enableTraining": False}},
    )
    where = [problem.split(" ", 1)[0] for problem in error.problems]
    assert any(w.startswith("workspaces[0].computes[0].name") for w in where)
    assert any(w.startswith("workspaces[0].computes[0].namespace") for w in where)
    assert any(w.startswith("workspaces[1].clusters[0]") for w in where)
    assert any(w.startswith("extension.settings") for w in where)


# -- 18.8: the extension needs training or inference ------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"enableTraining": False, "enableInference": False},
        {"enableTraining": "false"},
        {"installNvidiaDevicePlugin": True},
        {},
    ],
)
def test_installing_the_extension_without_training_or_inference_is_refused(settings):
    error = str(refusal(rule(), extension={"when_missing": "install", "settings": settings}))
    assert "extension.settings" in error and "enableTraining" in error


@pytest.mark.parametrize("settings", [{"enableTraining": True}, {"enableInference": "True"}, None])
def test_installing_the_extension_for_training_or_inference_is_accepted(settings):
    extension = {"when_missing": "install"}
    if settings is not None:
        extension["settings"] = settings
    load(rule(), extension=extension)
