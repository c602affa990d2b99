"""The AWX/AAP objects under docs/awx/ have the shape AWX accepts.

The rules are those AWX applies when the objects are created through its API: the credential type's ``inputs``
and ``injectors`` JSON schemas and the check that injector templates use only defined fields (AWX renders them in
a Jinja sandbox with StrictUndefined), and the survey spec validation of job templates (keys, types, defaults,
choices, min/max). The survey variables must also be variables that the playbook (or the gateway role) reads.
"""

import json
import pathlib
import re

import jsonschema
import pytest
import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[3]
AWX = ROOT / "docs" / "awx"
NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")

INPUTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required": {"type": "array", "items": {"type": "string"}},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "label"],
                "properties": {
                    "type": {"enum": ["string", "boolean"]},
                    "format": {"enum": ["ssh_private_key", "url"]},
                    "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
                    "id": {"type": "string", "pattern": NAME.pattern},
                    "label": {"type": "string"},
                    "help_text": {"type": "string"},
                    "multiline": {"type": "boolean"},
                    "secret": {"type": "boolean"},
                    "ask_at_runtime": {"type": "boolean"},
                    "default": {},
                },
            },
        },
    },
}
_NAMED_STRINGS = {
    "type": "object",
    "patternProperties": {NAME.pattern: {"type": "string"}},
    "additionalProperties": False,
}
INJECTORS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "file": {
            "type": "object",
            "patternProperties": {r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$": {"type": "string"}},
            "additionalProperties": False,
        },
        "env": {
            "type": "object",
            "patternProperties": {NAME.pattern: {"type": "string", "pattern": "^[\x00-\x7f]*$"}},
            "additionalProperties": False,
        },
        "extra_vars": _NAMED_STRINGS,
    },
}
# Environment variables AWX refuses in credential injectors (besides every ANSIBLE_* name).
ENV_BLOCKLIST = {"VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID",
                 "INVENTORY_UPDATE_ID", "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES",
                 "CALLBACK_QUEUE", "CALLBACK_CONNECTION", "CACHE", "JOB_CALLBACK_DEBUG", "RUNNER_OMIT_EVENTS",
                 "RUNNER_ONLY_FAILED_EVENTS", "PROOT_TMP_DIR", "AWX_HOST"}  # fmt: skip
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": float}  # fmt: skip
CREDENTIAL_KINDS = {"ssh", "vault", "net", "scm", "cloud", "kubernetes", "galaxy", "insights", "registry", "token",
                    "external", "cryptography"}  # fmt: skip


def credential_types():
    return sorted(AWX.glob("credential-type-*.yml"))


def surveys():
    return sorted((AWX / "surveys").glob("*.json"))


def validate_credential_type(ct):
    """Return AWX's complaints about a credential type (empty when AWX would accept it)."""
    errors = []
    for key in ("name", "kind", "inputs", "injectors"):
        if key not in ct:
            errors.append(f"{key} is missing")
    if errors:
        return errors
    if ct["kind"] not in CREDENTIAL_KINDS:
        errors.append(f"kind {ct['kind']} is not an AWX credential kind")
    if ct["kind"] not in ("cloud", "net"):
        errors.append("custom credential types are of kind cloud or net")
    inputs, injectors = ct["inputs"], ct["injectors"]
    for schema, value, what in ((INPUTS_SCHEMA, inputs, "inputs"), (INJECTORS_SCHEMA, injectors, "injectors")):
        for e in jsonschema.Draft4Validator(schema).iter_errors(value):
            errors.append(f"{what}: {e.message} at {list(e.absolute_path)}")
    if errors:
        return errors
    ids = [f["id"] for f in inputs.get("fields", [])]
    if len(ids) != len(set(ids)):
        errors.append("field ids must be unique")
    if "tower" in ids:
        errors.append('"tower" is a reserved field name')
    for f in inputs.get("fields", []):
        ftype = f.get("type", "string")
        for key in ("choices", "multiline", "format", "secret"):
            if key in f and ftype != "string":
                errors.append(f"{key} not allowed for {ftype} type ({f['id']})")
        if "default" in f and type(f["default"]) is not {"string": str, "boolean": bool}[ftype]:
            errors.append(f"default of {f['id']} is not a {ftype}")
    for name in inputs.get("required", []):
        if name not in ids:
            errors.append(f"required names an undefined field {name}")
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    namespace = dict.fromkeys(ids, "EXAMPLE")
    for kind, injector in injectors.items():
        for key, tmpl in injector.items():
            if kind == "env" and (key.startswith("ANSIBLE_") or key in ENV_BLOCKLIST):
                errors.append(f"environment variable {key} is not allowed in credentials")
            try:
                env.from_string(tmpl).render(namespace)
            except UndefinedError as exc:
                errors.append(f"{key} uses an undefined field ({exc})")
            except TemplateSyntaxError as exc:
                errors.append(f"syntax error in {kind}.{key} ({exc})")
    return errors


def validate_survey(spec):
    """Return AWX's complaints about a survey spec (empty when AWX would accept it)."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if field not in spec:
            errors.append(f"Field '{field}' is missing from survey spec.")
        elif not isinstance(spec[field], kind):
            errors.append(f"Expected {kind.__name__} for field '{field}'")
    if errors:
        return errors
    if not spec["spec"]:
        errors.append("'spec' doesn't contain any items.")
    seen = set()
    for idx, q in enumerate(spec["spec"]):
        if not isinstance(q, dict):
            errors.append(f"survey question {idx} is not a JSON object")
            continue
        for key in ("type", "question_name", "variable", "required"):
            if key not in q:
                errors.append(f"'{key}' missing from survey question {idx}")
            elif not isinstance(q[key], bool if key == "required" else str):
                errors.append(f"'{key}' in survey question {idx} has the wrong type")
        if errors:
            continue
        if q["variable"] in seen:
            errors.append(f"'variable' '{q['variable']}' duplicated in survey question {idx}")
        seen.add(q["variable"])
        if not NAME.match(q["variable"]):
            errors.append(f"'{q['variable']}' is not a variable name")
        qtype = q["type"]
        if qtype not in SURVEY_TYPES:
            errors.append(f"'{qtype}' in survey question {idx} is not an allowed question type")
            continue
        default = q.get("default", "")
        if default != "" and not isinstance(default, SURVEY_TYPES[qtype]):
            errors.append(f"Default value {default!r} in survey question {idx} expected to be {qtype}")
        if isinstance(default, bool):
            errors.append(f"Default value of question {idx} is a boolean")
        for key in ("min", "max"):
            if key in q and q[key] is not None and (not isinstance(q[key], int) or isinstance(q[key], bool)):
                errors.append(f"The {key} limit in survey question {idx} expected to be integer.")
        if qtype in ("integer", "float") and default != "" and "min" in q and "max" in q:
            if not q["min"] <= default <= q["max"]:
                errors.append(f"Default of question {idx} is outside min/max")
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in q:
                errors.append(f"Survey question {idx} of type {qtype} must specify choices.")
                continue
            choices = q["choices"] if isinstance(q["choices"], list) else q["choices"].splitlines()
            defaults = default.splitlines() if isinstance(default, str) else list(default)
            if qtype == "multiplechoice" and len(defaults) > 1:
                errors.append("Multiple Choice (Single Select) can only have one default value.")
            if any(d not in choices for d in defaults):
                errors.append("Default choice must be answered from the choices listed.")
        if isinstance(default, str) and default.startswith("$encrypted$"):
            errors.append("$encrypted$ is a reserved keyword")
    return errors


def test_there_is_a_credential_type_and_the_three_surveys():
    assert [p.name for p in credential_types()] == ["credential-type-gateway-token.yml"]
    assert {p.stem for p in surveys()} >= {"deploy", "rotate_token", "status"}


@pytest.mark.parametrize("path", credential_types(), ids=lambda p: p.name)
def test_credential_type_is_accepted_by_awx_rules(path):
    ct = yaml.safe_load(path.read_text())
    assert validate_credential_type(ct) == []
    fields = {f["id"]: f for f in ct["inputs"]["fields"]}
    token = fields["gateway_token"]
    assert token["secret"] is True and token.get("type", "string") == "string"
    assert ct["inputs"]["required"] == ["gateway_token"]
    # The injected name is the gateway role's variable (no_log in the role's argument spec).
    assert ct["injectors"]["extra_vars"] == {"gateway_token": "{{ gateway_token }}"}
    spec = yaml.safe_load((ROOT / "roles/gateway/meta/argument_specs.yml").read_text())
    assert spec["argument_specs"]["main"]["options"]["gateway_token"]["no_log"] is True


def test_the_credential_type_validation_catches_mistakes():
    good = yaml.safe_load((AWX / "credential-type-gateway-token.yml").read_text())
    bad_ref = {**good, "injectors": {"extra_vars": {"gateway_token": "{{ gateway_tokn }}"}}}
    assert any("undefined field" in e for e in validate_credential_type(bad_ref))
    bad_field = {**good, "inputs": {"fields": [{"id": "gateway-token", "label": "x"}]}}
    assert validate_credential_type(bad_field)
    no_label = {**good, "inputs": {"fields": [{"id": "gateway_token", "type": "string"}]}}
    assert validate_credential_type(no_label)
    ansible_env = {**good, "injectors": {"env": {"ANSIBLE_TOKEN": "{{ gateway_token }}"}}}
    assert validate_credential_type(ansible_env)
    bool_secret = {**good, "inputs": {"fields": [{"id": "t", "label": "t", "type": "boolean", "secret": True}]}}
    assert validate_credential_type(bool_secret)


@pytest.mark.parametrize("path", surveys(), ids=lambda p: p.name)
def test_survey_is_accepted_by_awx_rules(path):
    spec = json.loads(path.read_text())
    assert validate_survey(spec) == []
    role = yaml.safe_load((ROOT / "roles/gateway/meta/argument_specs.yml").read_text())
    secrets = {k for k, v in role["argument_specs"]["main"]["options"].items() if v.get("no_log")}
    for q in spec["spec"]:
        assert q.get("question_description"), f"{path.name}: {q['variable']} has no description"
        # Secrets never go into a survey: they belong in credentials.
        assert q["type"] != "password" and q["variable"] not in secrets, q


@pytest.mark.parametrize("path", surveys(), ids=lambda p: p.name)
def test_survey_variables_are_read_by_the_playbook(path):
    playbook = ROOT / "playbooks" / f"{path.stem}.yml"
    if not playbook.exists():
        pytest.skip(f"playbooks/{path.stem}.yml is not in the collection yet")
    text = playbook.read_text() + "".join(p.read_text() for p in sorted((ROOT / "playbooks" / "tasks").glob("*.yml")))
    for q in json.loads(path.read_text())["spec"]:
        assert re.search(rf"\b{q['variable']}\b", text), f"{path.name}: {q['variable']} is not read by {playbook.name}"


def test_the_survey_validation_catches_mistakes():
    ok = {"name": "n", "description": "d", "spec": [{"type": "text", "question_name": "q", "variable": "v",
                                                       "required": True}]}  # fmt: skip
    assert validate_survey(ok) == []
    for bad in (
        {"name": "n", "spec": ok["spec"]},
        {**ok, "spec": []},
        {**ok, "spec": [{**ok["spec"][0], "type": "boolean"}]},
        {**ok, "spec": [{**ok["spec"][0], "type": "integer", "default": "3"}]},
        {**ok, "spec": [{**ok["spec"][0], "type": "multiplechoice", "choices": ["a"], "default": "b"}]},
        {**ok, "spec": [{**ok["spec"][0], "required": "yes"}]},
        {**ok, "spec": [ok["spec"][0], ok["spec"][0]]},
    ):
        assert validate_survey(bad), bad
