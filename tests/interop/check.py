"""Reads prompt files with the other tools' own packages, as tests/tests/interop.rs asks.

stdin: a JSON list of jobs, each {"format": "langfuse" | "prompty" | "mlflow", "file": PATH, "vars": {...}}.
stdout: a JSON list of results, one per job, in order:
  {"rendered": TEXT or [{"role", "content", "name"?}], "meta": {...}, "dumped"?: TEXT} or {"error": MESSAGE}.

Langfuse: the file's objects are validated by the SDK's own API model (langfuse.api.Prompt, the
type its client parses server answers into), wrapped in the SDK's TextPromptClient or
ChatPromptClient, and compiled with the variables; for an array, the last object (the newest
version). Placeholders are filled from the variables, as compile() does.
Prompty: prompty.load() reads the file and prompty.prepare() renders its messages.
MLflow: tools/mlflow-prompts.py registers every version of the file into a real MLflow prompt
registry (file-backed, in a fresh folder) with MLflow's client, mlflow.genai.load_prompt() loads
the newest version and PromptVersion.format() renders it; "dumped" is the registry dumped again
by the same script, for the importer to read what MLflow itself gives back.
"""

import json
import sys


def langfuse_job(path, variables):
    import pydantic
    from langfuse.api import Prompt
    from langfuse.model import ChatPromptClient, TextPromptClient

    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    items = data if isinstance(data, list) else [data]
    adapter = pydantic.TypeAdapter(Prompt)
    parsed = [adapter.validate_python(item) for item in items]
    prompt = parsed[-1]
    if prompt.type == "chat":
        client = ChatPromptClient(prompt)
        rendered = [dict(m) for m in client.compile(**variables)]
    else:
        client = TextPromptClient(prompt)
        rendered = client.compile(**variables)
    meta = {
        "name": client.name,
        "version": client.version,
        "config": client.config,
        "labels": client.labels,
        "tags": client.tags,
        "commit_message": client.commit_message,
        "variables": client.variables,
        "versions": len(parsed),
    }
    return {"rendered": rendered, "meta": meta}


def prompty_job(path, variables):
    import prompty

    agent = prompty.load(path)
    messages = prompty.prepare(agent, variables)
    rendered = []
    for m in messages:
        text = "".join(getattr(p, "value", "") for p in m.parts)
        out = {"role": m.role, "content": text}
        name = (m.metadata or {}).get("name")
        if name is not None:
            out["name"] = name
        rendered.append(out)
    model = agent.model
    options = model.options if model is not None else None
    meta = {
        "name": agent.name,
        "description": agent.description,
        "model": model.id if model is not None else None,
        "temperature": getattr(options, "temperature", None),
        "max_output_tokens": getattr(options, "max_output_tokens", None),
        "top_p": getattr(options, "top_p", None),
        "inputs": [i.name for i in (agent.inputs or [])],
    }
    return {"rendered": rendered, "meta": meta}


def mlflow_job(path, variables):
    import importlib.util
    import os
    import tempfile

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow
    from mlflow import MlflowClient

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "mlflow_prompts", os.path.join(here, "..", "..", "tools", "mlflow-prompts.py")
    )
    bridge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bridge)
    # MLflow may still write in the background (linking a prompt to an experiment) as the
    # folder goes: its removal is best effort.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as registry:
        uri = "file://" + registry
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        client = MlflowClient()
        loaded = bridge.load_file(client, path)
        newest = loaded[-1]
        prompt = mlflow.genai.load_prompt(f"prompts:/{newest.name}/{newest.version}")
        rendered = prompt.format(**variables)
        dumped = json.dumps(bridge.dump_prompt(client, newest.name), ensure_ascii=False)
        meta = {
            "name": prompt.name,
            "version": int(prompt.version),
            "versions": len(loaded),
            "model_config": prompt.model_config,
            "response_format": prompt.response_format,
            "aliases": sorted(prompt.aliases),
            "commit_message": prompt.commit_message,
            "tags": prompt.tags,
            "variables": sorted(prompt.variables),
            "is_text": prompt.is_text_prompt,
        }
    return {"rendered": rendered, "meta": meta, "dumped": dumped}


def main():
    jobs = json.load(sys.stdin)
    results = []
    for job in jobs:
        try:
            if job["format"] == "langfuse":
                results.append(langfuse_job(job["file"], job.get("vars", {})))
            elif job["format"] == "mlflow":
                results.append(mlflow_job(job["file"], job.get("vars", {})))
            else:
                results.append(prompty_job(job["file"], job.get("vars", {})))
        except Exception as e:  # reported per job, so one bad file names itself
            results.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()
