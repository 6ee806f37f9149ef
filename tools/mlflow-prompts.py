#!/usr/bin/env python3
"""Moves prompts between an MLflow prompt registry and files prompt-manager reads and writes.

MLflow keeps prompts in its registry, not in files; this script is the bridge, built on MLflow's
own client (`pip install mlflow-skinny`, or `mlflow`):

    # every version of every prompt in a registry, as one JSON file per prompt
    python3 tools/mlflow-prompts.py dump --registry sqlite:///mlflow.db out/
    prompt-manager import out/

    # our prompts into a registry (versions in order, aliases set)
    prompt-manager export out/ --format mlflow --all-versions
    python3 tools/mlflow-prompts.py load --registry sqlite:///mlflow.db out/

A file holds a JSON array of versions; each version's keys are the arguments of MLflow's
`PromptVersion` (name, version, template, commit_message, tags, aliases, model_config,
response_format, creation_timestamp, user_id). docs/interop.md says how each maps.
"""

import argparse
import json
import os
import sys


def version_json(version):
    """One `PromptVersion` as the file's object."""
    return {
        "name": version.name,
        "version": int(version.version),
        "template": version.template,
        "commit_message": version.commit_message,
        "tags": dict(version.tags),
        "aliases": sorted(version.aliases or []),
        "model_config": version.model_config,
        "response_format": version.response_format,
        "creation_timestamp": version.creation_timestamp or None,
        "user_id": getattr(version, "user_id", None),
    }


def dump_prompt(client, name):
    """Every version of the prompt `name`, oldest first, with the aliases on it."""
    versions = []
    token = None
    while True:
        page = client.search_prompt_versions(name, max_results=1000, page_token=token)
        versions.extend(page)
        token = getattr(page, "token", None)
        if not token:
            break
    versions.sort(key=lambda v: int(v.version))
    return [version_json(v) for v in versions]


def load_file(client, path):
    """Registers every version in the file `path`, in order, and points its aliases."""
    import mlflow

    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    items = data if isinstance(data, list) else [data]
    loaded = []
    for item in items:
        version = mlflow.genai.register_prompt(
            name=item["name"],
            template=item["template"],
            commit_message=item.get("commit_message"),
            tags=item.get("tags") or None,
            response_format=item.get("response_format"),
            model_config=item.get("model_config"),
        )
        for alias in item.get("aliases") or []:
            mlflow.genai.set_prompt_alias(item["name"], alias=alias, version=int(version.version))
        loaded.append(version)
    return loaded


def files_under(path):
    if os.path.isfile(path):
        return [path]
    found = []
    for root, _, names in os.walk(path):
        found.extend(os.path.join(root, n) for n in names if n.endswith(".json"))
    return sorted(found)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dump", "load"])
    parser.add_argument("path", help="the folder to write (dump) or the file or folder to read (load)")
    parser.add_argument("--registry", help="MLflow's registry URI (default: MLFLOW_REGISTRY_URI or the tracking URI)")
    args = parser.parse_args()

    import mlflow
    from mlflow import MlflowClient

    if args.registry:
        mlflow.set_tracking_uri(args.registry)
        mlflow.set_registry_uri(args.registry)
    client = MlflowClient()
    if args.command == "dump":
        os.makedirs(args.path, exist_ok=True)
        names = [p.name for p in mlflow.genai.search_prompts(max_results=100000)]
        for name in names:
            target = os.path.join(args.path, f"{name}.json")
            with open(target, "w", encoding="utf-8") as f:
                json.dump(dump_prompt(client, name), f, indent=2, ensure_ascii=False)
                f.write("\n")
        print(f"dumped {len(names)} prompts to {args.path}", file=sys.stderr)
    else:
        count = 0
        for path in files_under(args.path):
            count += len(load_file(client, path))
        print(f"registered {count} versions", file=sys.stderr)


if __name__ == "__main__":
    main()
