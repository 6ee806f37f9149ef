"""Renders Dotprompt `.prompt` files with Dotprompt's reference implementation (`dotpromptz`),
as tests/tests/dotprompt.rs asks.

stdin: a JSON list of jobs, each {"file": PATH, "root": FOLDER, "input": {...}, "history": [...]}.
  The partials are every `_name.prompt` below FOLDER (`shared/_style.prompt` is `shared/style`),
  registered with their sources as Dotprompt's own folder store does. `history` is a list of
  {"role": "user" | "model", "content": TEXT}, given as Dotprompt's `messages`.
stdout: a JSON list of results, one per job, in order:
  {"messages": [{"role", "content"}], "meta": {...}} or {"error": MESSAGE}.
  A message's content is its parts as text: a media part is written back as the marker
  `{{media}}` prints (`<<<dotprompt:media:url URL TYPE>>>`), a pending section part as
  `<<<dotprompt:section NAME>>>`, so a render here compares with prompt-manager's text.
  "meta" is the rendered metadata: model, config, the input and output schemas as JSON Schema
  (Picoschema converted by Dotprompt), input defaults, and the tool definitions (their input
  schemas converted by Dotprompt's Picoschema converter).
"""

import asyncio
import json
import os
import sys


def partials_below(root):
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith("_") and name.endswith(".prompt"):
                relative = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                head, _, tail = relative.rpartition("/")
                key = (head + "/" if head else "") + tail[1 : -len(".prompt")]
                with open(os.path.join(folder, name), encoding="utf-8", newline="") as f:
                    out[key] = f.read()
    return out


def part_text(part):
    data = part.model_dump(exclude_none=True, by_alias=True)
    if "text" in data:
        return data["text"]
    if "media" in data:
        media = data["media"]
        if media.get("contentType"):
            return "<<<dotprompt:media:url {} {}>>>".format(media["url"], media["contentType"])
        return "<<<dotprompt:media:url {}>>>".format(media["url"])
    purpose = (data.get("metadata") or {}).get("purpose")
    if data.get("metadata", {}).get("pending"):
        return "<<<dotprompt:section {}>>>".format(purpose)
    return json.dumps(data)


async def render(job):
    from dotpromptz import Dotprompt
    from dotpromptz.typing import DataArgument, Message, Role, TextPart, ToolDefinition

    with open(job["file"], encoding="utf-8", newline="") as f:
        source = f.read()
    dp = Dotprompt(partials=partials_below(job["root"]))
    parsed = dp.parse(source)
    # Named tools (`tools: [searchWeb]`) are looked up in a registry a file does not carry:
    # a stub definition per name lets the render go on, and is not compared.
    for name in parsed.tools or []:
        dp.define_tool(ToolDefinition(name=name, input_schema={"type": "object"}))
    history = [
        Message(role=Role(m["role"]), content=[TextPart(text=m["content"])]) for m in job.get("history") or []
    ]
    rendered = await dp.render(source, DataArgument(input=job.get("input") or {}, messages=history or None))
    data = rendered.model_dump(exclude_none=True, by_alias=True)
    messages = []
    for m in rendered.messages:
        messages.append({"role": str(m.role.value if hasattr(m.role, "value") else m.role),
                         "content": "".join(part_text(p) for p in m.content)})
    # Tool input schemas as Dotprompt's own Picoschema converter reads them (it leaves them as
    # written in `toolDefs`; a provider needs JSON Schema).
    from dotpromptz.picoschema import picoschema_to_json_schema

    tool_defs = []
    for d in data.get("toolDefs") or []:
        if d.get("name") in (parsed.tools or []):
            continue
        d = dict(d)
        if d.get("inputSchema") is not None:
            d["inputSchema"] = await picoschema_to_json_schema(d["inputSchema"])
        tool_defs.append(d)
    meta = {
        "model": data.get("model"),
        "config": data.get("config"),
        "input_schema": (data.get("input") or {}).get("schema"),
        "input_default": (data.get("input") or {}).get("default"),
        "output": data.get("output"),
        "tool_defs": tool_defs,
        "description": data.get("description"),
    }
    return {"messages": messages, "meta": meta}


def main():
    jobs = json.load(sys.stdin)
    out = []
    for job in jobs:
        try:
            out.append(asyncio.run(render(job)))
        except Exception as e:  # noqa: BLE001 - every failure is a result for the test to show
            out.append({"error": "{}: {}".format(type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
