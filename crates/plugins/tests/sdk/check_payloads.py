#!/usr/bin/env python3
"""The providers' own SDKs read what the plugins produce.

Run by `crates/plugins/tests/sdk.rs`; the SDK versions are pinned in `tests/python/requirements.txt`.
Reads on stdin either a JSON array of cases or an object
`{"cases": [...], "litellm_routes": [{"model": ..., "provider": ... | null}]}`, where a case is
`{"plugin", "case_name", "payload", "model"?}` (`model` only for gemini, whose model is in the URL).

Every case is checked twice:

(a) **request types, strictly** — the payload is walked against the SDK's own request-parameter
    types (the TypedDicts `openai`, `anthropic` and `litellm` type their `create` keyword arguments
    with, the pydantic models of `google-genai`, the message classes of `langchain-core`); a key the
    type does not declare, at any depth, is an error, as is a missing required key or a wrong type.
(b) **the client itself** — the SDK client sends the payload to a recording HTTP server on
    127.0.0.1 that answers like the provider, and the JSON body it sent must equal the payload.
    The only reshaping is documented where it happens (`gemini`: the SDK takes the REST body's
    `generationConfig`, `systemInstruction`, `tools`, `toolConfig` and `safetySettings` as one
    `config`, and the model as an argument; `litellm`: its routing prefix is not part of what the
    provider receives).

`litellm_routes` are our plugin's routing of model names, compared with `litellm.get_llm_provider`.

Prints a JSON summary on stdout; exits 1 naming every mismatch.
"""

from __future__ import annotations

import collections.abc
import contextlib
import copy
import inspect
import json
import os
import sys
import threading
import types
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import typing_extensions

# LiteLLM fetches its model list from GitHub on import unless told to use the copy it ships; the
# copy is what the pinned version routes by, and tests must not reach the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# No SDK may talk to anything but the recording server.
for var in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(var, None)
os.environ["NO_PROXY"] = "127.0.0.1"

# ---------------------------------------------------------------------------------------------
# (a) A strict walk over typing annotations: TypedDicts forbid undeclared keys at every depth.
# ---------------------------------------------------------------------------------------------

_LIST_ORIGINS = {list, tuple, collections.abc.Iterable, collections.abc.Sequence, collections.abc.Collection}
_DICT_ORIGINS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}
_hints_cache: dict[type, dict[str, typing.Any]] = {}


def _hints(td: type) -> dict[str, typing.Any]:
    if td not in _hints_cache:
        _hints_cache[td] = typing_extensions.get_type_hints(td, include_extras=True)
    return _hints_cache[td]


def _unwrap(tp: typing.Any) -> typing.Any:
    """Strips Annotated, Required, NotRequired and ReadOnly."""
    while True:
        origin = typing.get_origin(tp)
        if origin in (typing.Annotated, typing_extensions.Annotated):
            tp = typing.get_args(tp)[0]
        elif origin in (
            typing_extensions.Required,
            typing_extensions.NotRequired,
            typing_extensions.ReadOnly,
            getattr(typing, "Required", None),
            getattr(typing, "NotRequired", None),
        ) and origin is not None:
            tp = typing.get_args(tp)[0]
        else:
            return tp


def check_type(value: typing.Any, tp: typing.Any, path: str) -> list[str]:
    """Errors of `value` against the annotation `tp` (empty when it conforms)."""
    tp = _unwrap(tp)
    if tp is typing.Any or tp is object:
        return []
    if tp is None or tp is type(None):
        return [] if value is None else [f"{path}: expected null, got {type(value).__name__}"]
    if isinstance(tp, typing.TypeVar):
        return []
    if typing_extensions.is_typeddict(tp):
        return _check_typeddict(value, tp, path)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        results = [check_type(value, alt, path) for alt in args]
        if any(not r for r in results):
            return []
        # Report the alternative that got furthest: the one whose first error is deepest, which
        # for a tagged union is the variant the tag selected.
        return max(results, key=lambda r: max(_depth(e) for e in r))
    if origin in (typing.Literal, typing_extensions.Literal):
        if any(value == a and type(value) is type(a) for a in args):
            return []
        return [f"{path}: {json.dumps(value)} is not one of {list(args)}"]
    if getattr(tp, "__name__", "") == "SequenceNotStr" or getattr(origin, "__name__", "") == "SequenceNotStr" or origin in _LIST_ORIGINS or tp in (list, tuple):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        item = args[0] if args else typing.Any
        return [e for i, v in enumerate(value) for e in check_type(v, item, f"{path}[{i}]")]
    if origin in _DICT_ORIGINS or tp in (dict,):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        item = args[1] if len(args) == 2 else typing.Any
        return [e for k, v in value.items() for e in check_type(v, item, f"{path}.{k}")]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {json.dumps(value)}"]
    if tp is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer, got {json.dumps(value)}"]
    if tp is float:
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: expected a number, got {json.dumps(value)}"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {json.dumps(value)[:60]}"]
    if isinstance(tp, type):
        return [] if isinstance(value, tp) else [f"{path}: expected {tp.__name__}, got {type(value).__name__}"]
    return [f"{path}: the checker cannot read the annotation {tp!r}"]


def _depth(error: str) -> int:
    where = error.split(":", 1)[0]
    return where.count(".") + where.count("[")


def _check_typeddict(value: typing.Any, td: type, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({td.__name__}), got {type(value).__name__}"]
    hints = _hints(td)
    errors = [f"{path}.{k}: not a key of {td.__module__}.{td.__name__}" for k in value if k not in hints]
    errors += [f"{path}.{k}: required by {td.__name__} and missing" for k in td.__required_keys__ if k not in value]
    for k, v in value.items():
        if k in hints:
            errors += check_type(v, hints[k], f"{path}.{k}")
    return errors


# ---------------------------------------------------------------------------------------------
# (b) A recording server that answers like each provider.
# ---------------------------------------------------------------------------------------------

_OPENAI_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "recorded",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
_ANTHROPIC_REPLY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "recorded",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
_GEMINI_REPLY = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
    "modelVersion": "recorded",
}


class Recorder:
    """An HTTP server on 127.0.0.1 that keeps every request's path and JSON body."""

    def __init__(self) -> None:
        recorded = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"__not_json__": raw.decode("utf-8", "replace")}
                recorded.append((self.path, body))
                if "/messages" in self.path:
                    reply = _ANTHROPIC_REPLY
                elif "generateContent" in self.path:
                    reply = _GEMINI_REPLY
                else:
                    reply = _OPENAI_REPLY
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: typing.Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> tuple[str, typing.Any]:
        if len(self.requests) != 1:
            raise AssertionError(f"expected one request to the recording server, got {len(self.requests)}")
        return self.requests.pop()


def diff(ours: typing.Any, sent: typing.Any, path: str = "$") -> list[str]:
    """Where two JSON values differ (1 and 1.0 are the same number, as on the wire)."""
    if isinstance(ours, dict) and isinstance(sent, dict):
        out = [f"{path}.{k}: ours has it, the SDK sent none" for k in ours if k not in sent]
        out += [f"{path}.{k}: the SDK sent {json.dumps(sent[k])[:80]}, ours has none" for k in sent if k not in ours]
        for k in ours:
            if k in sent:
                out += diff(ours[k], sent[k], f"{path}.{k}")
        return out
    if isinstance(ours, list) and isinstance(sent, list):
        if len(ours) != len(sent):
            return [f"{path}: ours has {len(ours)} items, the SDK sent {len(sent)}"]
        return [e for i, (a, b) in enumerate(zip(ours, sent)) for e in diff(a, b, f"{path}[{i}]")]
    same = ours == sent and (isinstance(ours, bool) == isinstance(sent, bool))
    return [] if same else [f"{path}: ours {json.dumps(ours)[:80]}, the SDK sent {json.dumps(sent)[:80]}"]


# ---------------------------------------------------------------------------------------------
# The SDKs
# ---------------------------------------------------------------------------------------------


def check_openai(payload: dict, rec: Recorder, _case: dict) -> list[str]:
    import openai
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    errors = check_type(payload, CompletionCreateParamsNonStreaming, "$")
    client = openai.OpenAI(base_url=f"{rec.base}/v1", api_key="x", max_retries=0)
    try:
        client.chat.completions.create(**copy.deepcopy(payload))
    except Exception as e:  # noqa: BLE001 (the SDK's refusal is the finding)
        return errors + [f"openai.OpenAI().chat.completions.create refused it: {type(e).__name__}: {e}"]
    path, sent = rec.take()
    if path != "/v1/chat/completions":
        errors.append(f"the SDK posted to {path}")
    return errors + diff(payload, sent)


def check_anthropic(payload: dict, rec: Recorder, _case: dict) -> list[str]:
    import anthropic
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    errors = check_type(payload, MessageCreateParamsNonStreaming, "$")
    client = anthropic.Anthropic(base_url=rec.base, api_key="x", max_retries=0)
    try:
        client.messages.create(**copy.deepcopy(payload))
    except Exception as e:  # noqa: BLE001
        return errors + [f"anthropic.Anthropic().messages.create refused it: {type(e).__name__}: {e}"]
    path, sent = rec.take()
    if path != "/v1/messages":
        errors.append(f"the SDK posted to {path}")
    return errors + diff(payload, sent)


# The REST body's top-level fields that the SDK takes inside `config` (GenerateContentConfig),
# and the config fields they are: the one reshaping between Gemini's REST body and the SDK call.
_GEMINI_CONFIG_FIELDS = {
    "systemInstruction": "system_instruction",
    "tools": "tools",
    "toolConfig": "tool_config",
    "safetySettings": "safety_settings",
}


def check_gemini(payload: dict, rec: Recorder, case: dict) -> list[str]:
    import pydantic
    from google import genai
    from google.genai import types as gt

    errors = []
    unknown = set(payload) - {"contents", "generationConfig", *_GEMINI_CONFIG_FIELDS}
    errors += [f"$.{k}: not a field of a generateContent request the SDK can send" for k in sorted(unknown)]
    # The SDK's models accept the REST (camelCase) names and forbid unknown keys at every depth.
    config: dict = dict(payload.get("generationConfig", {}))
    for rest, field in _GEMINI_CONFIG_FIELDS.items():
        if rest in payload:
            config[field] = payload[rest]
    try:
        contents = [gt.Content.model_validate(c) for c in payload.get("contents", [])]
        # No config is no config: an empty one would make the SDK send `generationConfig: {}`.
        typed_config = gt.GenerateContentConfig.model_validate(config) if config else None
    except pydantic.ValidationError as e:
        return errors + [f"google.genai.types refused it: {e}"]
    client = genai.Client(
        api_key="x",
        http_options=gt.HttpOptions(base_url=rec.base, api_version="v1beta", retry_options=None),
    )
    model = case.get("model") or "gemini-2.5-flash"
    try:
        client.models.generate_content(model=model, contents=contents, config=typed_config)
    except Exception as e:  # noqa: BLE001
        return errors + [f"genai.Client().models.generate_content refused it: {type(e).__name__}: {e}"]
    path, sent = rec.take()
    if path != f"/v1beta/models/{model}:generateContent":
        errors.append(f"the SDK posted to {path}")
    # The SDK writes FunctionDeclaration.parameters_json_schema under its proto field name; the REST
    # API reads proto JSON, where `parameters_json_schema` and `parametersJsonSchema` are the same
    # field, and the REST reference spells it `parametersJsonSchema` as we do.
    for tool in sent.get("tools", []):
        for decl in tool.get("functionDeclarations", []):
            if "parameters_json_schema" in decl:
                decl["parametersJsonSchema"] = decl.pop("parameters_json_schema")
    return errors + diff(payload, sent)


def check_langchain(payload: list, _rec: Recorder, _case: dict) -> list[str]:
    from langchain_core.messages import messages_from_dict, messages_to_dict
    from langchain_core.messages.tool import ToolCall

    errors = []
    classes = {
        "system": "SystemMessage",
        "human": "HumanMessage",
        "ai": "AIMessage",
        "tool": "ToolMessage",
        "function": "FunctionMessage",
    }
    import langchain_core.messages as lcm

    for i, m in enumerate(payload):
        cls = getattr(lcm, classes.get(m.get("type"), ""), None)
        if cls is None:
            errors.append(f"$[{i}].type: {m.get('type')!r} is not a LangChain message type")
            continue
        # LangChain's messages allow extra attributes; undeclared keys are checked here instead.
        errors += [f"$[{i}].data.{k}: not a field of {cls.__name__}" for k in m.get("data", {}) if k not in cls.model_fields]
        errors += [f"$[{i}].{k}: a serialised message has only `type` and `data`" for k in m if k not in ("type", "data")]
        for j, call in enumerate(m.get("data", {}).get("tool_calls", [])):
            errors += check_type(call, ToolCall, f"$[{i}].data.tool_calls[{j}]")
    if errors:
        return errors
    try:
        messages = messages_from_dict(payload)
    except Exception as e:  # noqa: BLE001
        return [f"messages_from_dict refused it: {type(e).__name__}: {e}"]
    # messages_to_dict writes every field; the ones at their default are what we left out.
    again = messages_to_dict(messages)
    for i, (ours, theirs) in enumerate(zip(payload, again)):
        cls = type(messages[i])
        written = {
            k: v
            for k, v in theirs["data"].items()
            if k in ours["data"] or v != _default(cls, k)
        }
        errors += diff(ours, {"type": theirs["type"], "data": written}, f"$[{i}]")
    return errors


def _default(cls: type, field: str) -> typing.Any:
    info = cls.model_fields[field]
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


def _litellm_declared() -> set[str]:
    import litellm
    from litellm.types.utils import all_litellm_params

    params = inspect.signature(litellm.completion).parameters
    named = {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    # Read by completion() from **kwargs and documented as request options.
    return named | set(all_litellm_params) | {"drop_params", "additional_drop_params"}


def check_litellm(payload: dict, rec: Recorder, _case: dict) -> list[str]:
    import litellm
    from litellm.types.llms.openai import ChatCompletionRequest

    declared = _litellm_declared()
    typed = _hints(ChatCompletionRequest)
    errors = [f"$.{k}: litellm.completion declares no such parameter" for k in payload if k not in declared and k not in typed]
    # What ChatCompletionRequest types is checked through it; the rest (max_completion_tokens,
    # num_retries, …) are completion()'s own parameters.
    errors += check_type({k: v for k, v in payload.items() if k in typed}, ChatCompletionRequest, "$")
    model, provider, _, _ = litellm.get_llm_provider(payload["model"])
    kwargs = copy.deepcopy(payload)
    kwargs.update(api_base=f"{rec.base}/v1" if provider != "anthropic" else rec.base, api_key="x")
    if provider not in ("openai", "anthropic"):
        return errors  # only the routes a local server can stand in for are called
    try:
        litellm.completion(**kwargs)
    except Exception as e:  # noqa: BLE001
        return errors + [f"litellm.completion refused it: {type(e).__name__}: {e}"]
    path, sent = rec.take()
    if provider == "openai":
        # LiteLLM's routing prefix is not the provider's model name: `openai/gpt-4o` goes out as `gpt-4o`.
        expected = dict(payload, model=model)
        return errors + diff(expected, sent)
    # Routed to Anthropic, LiteLLM translates; what it sends must be a request the Anthropic SDK
    # types — except for the keys LiteLLM's own translation chooses (see LITELLM_ANTHROPIC_KEYS).
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    for key, why in LITELLM_ANTHROPIC_KEYS.items():
        if key in sent:
            NOTES.add(f"litellm -> anthropic: LiteLLM sent `{key}`: {why}")
            sent.pop(key)
    return errors + [f"(as LiteLLM sent it to Anthropic) {e}" for e in check_type(sent, MessageCreateParamsNonStreaming, "$")]


# Keys LiteLLM's Anthropic translation writes that the Anthropic SDK does not declare. They come from
# LiteLLM, not from our payload (which is checked against LiteLLM's own types above), so they are
# reported in the summary's `notes` rather than failed.
LITELLM_ANTHROPIC_KEYS = {
    "output_format": "LiteLLM's translation of response_format json_schema (Anthropic's structured-outputs "
    "beta field); the anthropic SDK now declares output_config.format instead",
}
NOTES: set[str] = set()


CHECKS = {
    "openai": check_openai,
    "anthropic": check_anthropic,
    "gemini": check_gemini,
    "langchain": check_langchain,
    "litellm": check_litellm,
}
SDKS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google-genai",
    "langchain": "langchain-core",
    "litellm": "litellm",
}


def check_routes(routes: list[dict]) -> list[str]:
    import litellm

    errors = []
    for r in routes:
        try:
            theirs: str | None = litellm.get_llm_provider(r["model"])[1]
        except Exception:  # noqa: BLE001 (LiteLLM raises when it routes nowhere)
            theirs = None
        if theirs != r["provider"]:
            errors.append(f"model {r['model']!r}: we route to {r['provider']!r}, litellm.get_llm_provider to {theirs!r}")
    return errors


def main() -> int:
    data = json.load(sys.stdin)
    cases = data if isinstance(data, list) else data.get("cases", [])
    routes = [] if isinstance(data, list) else data.get("litellm_routes", [])
    from importlib.metadata import version

    rec = Recorder()
    summary: dict[str, typing.Any] = {"versions": {sdk: version(sdk) for sdk in SDKS.values()}, "accepted": {}, "failed": []}
    for case in cases:
        plugin = case["plugin"]
        rec.requests.clear()
        with contextlib.redirect_stdout(sys.stderr):  # SDKs that print must not spoil the summary
            try:
                errors = CHECKS[plugin](case["payload"], rec, case)
            except Exception as e:  # noqa: BLE001
                errors = [f"the check itself failed: {type(e).__name__}: {e}"]
        counts = summary["accepted"].setdefault(SDKS[plugin], {"accepted": 0, "total": 0})
        counts["total"] += 1
        if errors:
            summary["failed"].append({"plugin": plugin, "case": case["case_name"], "errors": errors})
        else:
            counts["accepted"] += 1
    if routes:
        with contextlib.redirect_stdout(sys.stderr):
            route_errors = check_routes(routes)
        summary["litellm_routes"] = {"agreed": len(routes) - len(route_errors), "total": len(routes)}
        if route_errors:
            summary["failed"].append({"plugin": "litellm", "case": "routing", "errors": route_errors})
    rec.server.shutdown()
    summary["notes"] = sorted(NOTES)
    print(json.dumps(summary, indent=2))
    for f in summary["failed"]:
        print(f"\n{f['plugin']} / {f['case']}:", file=sys.stderr)
        for e in f["errors"]:
            print(f"  {e}", file=sys.stderr)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
