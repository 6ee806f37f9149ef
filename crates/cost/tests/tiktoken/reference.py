"""Token counts of OpenAI's own tokenizer, tiktoken, for the Rust crate's corpus.

Reads a JSON object on stdin:
  {"files": {"o200k_base": PATH, "cl100k_base": PATH},   # the .tiktoken files the Rust crate embeds
   "texts": [str, ...],
   "chats": [[{"role": ..., "content": ..., "name": ...?}, ...], ...]}
and writes {"tiktoken": VERSION, "encodings": {NAME: {"texts": [int], "chats": [int]}}}.

tiktoken downloads its rank files on first use; here there is no network, so each encoding is
built from tiktoken's own definition (tiktoken_ext.openai_public: pat_str, special tokens and the
file's expected SHA-256) with the download replaced by a read of the file the Rust crate embeds,
after checking that the file's SHA-256 is the expected_hash tiktoken pins. A mismatch fails.
"""

import hashlib
import json
import os
import sys

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public


def encoding(name, path):
    real_load = tiktoken.load.load_tiktoken_bpe

    def load_embedded(url, expected_hash=None):
        if os.path.basename(url) != f"{name}.tiktoken":
            raise ValueError(f"{name}: tiktoken asked for {url}, expected {name}.tiktoken")
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != expected_hash:
            raise ValueError(f"{path}: SHA-256 {digest} is not tiktoken's expected_hash {expected_hash}")
        # tiktoken's own parser, on the local file (it checks the hash again).
        return real_load(path, expected_hash=expected_hash)

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = load_embedded
    try:
        definition = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**definition)


def chat_tokens(enc, messages):
    """OpenAI cookbook's num_tokens_from_messages (models after gpt-3.5-turbo-0301)."""
    tokens_per_message, tokens_per_name = 3, 1
    total = 0
    for message in messages:
        total += tokens_per_message
        for key, value in message.items():
            total += len(enc.encode_ordinary(value))
            if key == "name":
                total += tokens_per_name
    return total + 3  # every reply is primed with <|start|>assistant<|message|>


def main():
    request = json.load(sys.stdin)
    result = {"tiktoken": tiktoken.__version__, "encodings": {}}
    for name, path in request["files"].items():
        enc = encoding(name, path)
        result["encodings"][name] = {
            "texts": [len(enc.encode_ordinary(t)) for t in request["texts"]],
            "chats": [chat_tokens(enc, chat) for chat in request["chats"]],
        }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
