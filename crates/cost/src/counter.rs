//! Token counting: OpenAI models with their own BPE encodings (feature `openai-tokens`), every
//! other model with a documented estimate ([`estimate_text`]).
//!
//! ## Which encoding
//! [`encoding_for_model`] maps OpenAI model names to their encodings, as tiktoken does:
//! `gpt-5*`, `gpt-4.1*`, `gpt-4.5*`, `gpt-4o*`, `chatgpt-4o*`, `o1*`, `o3*`, `o4*`, `codex-mini*`
//! → `o200k_base`; `gpt-4`, `gpt-4-*` (`gpt-4-turbo`, `gpt-4-0613`), `gpt-3.5-turbo*`,
//! `gpt-35-turbo*` (Azure), `text-embedding-3-*`, `text-embedding-ada-002` → `cl100k_base`.
//! Names are compared in lower case, after a router's `openai/` or `azure/` prefix, and a
//! fine-tuned model (`ft:gpt-4o-mini:org::id`) counts as its base model. Anything else
//! (Anthropic, Gemini, Llama, unknown names, and OpenAI's retired GPT-3 models) is estimated.
//!
//! ## Chat messages
//! A chat render is counted as OpenAI's chat format bills it (the rule of OpenAI's cookbook,
//! "How to count tokens with tiktoken", `num_tokens_from_messages`, for every model after
//! `gpt-3.5-turbo-0301`):
//! - 3 tokens per message (`<|start|>{role}\n … <|end|>\n`), plus the tokens of its role and
//!   of its content;
//! - a `name` adds 1 token plus the tokens of the name;
//! - 3 tokens once per request, for the reply's priming (`<|start|>assistant<|message|>`).
//!
//! The cookbook gives no rule for tool calls; this counter adds the tokens of a `tool` message's
//! `tool_call_id`, and of each tool call's id, function name and arguments (compact JSON), so a
//! conversation with tool calls is counted to within a few tokens per call. Tool *definitions*
//! (`model_config.tools`) are not part of the render and are not counted.
//!
//! A text render is counted as the text alone, without the chat overhead (for the completions
//! and embeddings endpoints; sent as one chat message it costs 7 tokens more).
//!
//! ## The estimate
//! Without the model's tokenizer, [`estimate_text`] splits the text into runs, roughly as BPE
//! pre-tokenizers do, and prices each run: a run of ASCII letters is a token per 6 letters
//! (rounded up), a run of digits a token per 3, a run of ASCII punctuation a token per 2, a single
//! space nothing (it joins the next word), a longer run of whitespace 1 + ⌊length / 64⌋, and every
//! other character (accented, Cyrillic, CJK, emoji) a token; a non-empty text is at least 1.
//!
//! Its error, measured against `cl100k_base` on this crate's corpus of 44 texts (prose in 12
//! languages, code, markup, whitespace runs, emoji; `tests/tiktoken_reference.rs` prints it): the
//! median text is within ±20 %, nine texts in ten within ±50 %, and the worst cases (long runs of
//! spaces or tabs, emoji sequences) are off by up to a factor of two. Against `o200k_base`, which
//! packs non-Latin scripts tighter, it overestimates Russian, Arabic, Hindi and Thai up to 3×.
//! Anthropic's and Google's tokenizers are not published, so the error for their models cannot
//! be measured offline; treat the estimate as ±50 %. It is never presented as exact: its
//! [`TokenMethod`] is `Estimate`.

use prompt_manager_core::{ChatMessage, RenderOutput, Role, TokenCount, TokenCounter, TokenMethod};

/// An OpenAI BPE encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `o200k_base`: GPT-5, GPT-4.1, GPT-4o, the o-series.
    O200kBase,
    /// `cl100k_base`: GPT-4, GPT-3.5-turbo, the text-embedding-3 models.
    Cl100kBase,
}

impl Encoding {
    /// Its name, as tiktoken spells it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    /// The encoding named `name` (`o200k_base`, `cl100k_base`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "o200k_base" => Some(Encoding::O200kBase),
            "cl100k_base" => Some(Encoding::Cl100kBase),
            _ => None,
        }
    }
}

/// The exact names, then the prefixes, of OpenAI models and their encodings.
const EXACT: &[(&str, Encoding)] = &[
    ("gpt-4", Encoding::Cl100kBase),
    ("gpt-3.5-turbo", Encoding::Cl100kBase),
    ("gpt-3.5", Encoding::Cl100kBase),
    ("gpt-35-turbo", Encoding::Cl100kBase),
    ("text-embedding-ada-002", Encoding::Cl100kBase),
    ("o1", Encoding::O200kBase),
    ("o3", Encoding::O200kBase),
    ("o4-mini", Encoding::O200kBase),
];

/// Prefixes, longest meaning first: `gpt-4o` before `gpt-4-`.
const PREFIXES: &[(&str, Encoding)] = &[
    ("gpt-5", Encoding::O200kBase),
    ("gpt-4.1", Encoding::O200kBase),
    ("gpt-4.5", Encoding::O200kBase),
    ("gpt-4o", Encoding::O200kBase),
    ("chatgpt-4o", Encoding::O200kBase),
    ("o1-", Encoding::O200kBase),
    ("o3-", Encoding::O200kBase),
    ("o4-", Encoding::O200kBase),
    ("codex-mini", Encoding::O200kBase),
    ("gpt-4-", Encoding::Cl100kBase),
    ("gpt-3.5-turbo-", Encoding::Cl100kBase),
    ("gpt-35-turbo-", Encoding::Cl100kBase),
    ("text-embedding-3-", Encoding::Cl100kBase),
];

/// The encoding of an OpenAI model (see the module documentation), `None` for any other model.
pub fn encoding_for_model(model: &str) -> Option<Encoding> {
    let lower = model.trim().to_lowercase();
    let mut name = lower.as_str();
    for prefix in ["openai/", "azure/"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
        }
    }
    if let Some(rest) = name.strip_prefix("ft:") {
        name = rest.split(':').next().unwrap_or(rest);
    }
    EXACT
        .iter()
        .find(|(exact, _)| *exact == name)
        .or_else(|| PREFIXES.iter().find(|(prefix, _)| name.starts_with(prefix)))
        .map(|(_, encoding)| *encoding)
}

/// The estimate of the tokens of `text` for a model whose tokenizer is not available (see the
/// module documentation for the rule and its measured error).
pub fn estimate_text(text: &str) -> u64 {
    /// What the current run of characters is.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Run {
        Space,
        Letters,
        Digits,
        Punctuation,
    }
    /// The tokens of a run of `len` characters.
    fn cost(run: Run, len: u64) -> u64 {
        match run {
            // One space joins the next word (` word` is one token); longer runs are one token
            // per 64 characters or so.
            Run::Space if len == 1 => 0,
            Run::Space => 1 + len / 64,
            Run::Letters => len.div_ceil(6),
            Run::Digits => len.div_ceil(3),
            Run::Punctuation => len.div_ceil(2),
        }
    }
    let (mut tokens, mut run, mut len) = (0u64, None, 0u64);
    for c in text.chars() {
        let kind = if c.is_whitespace() {
            Some(Run::Space)
        } else if c.is_ascii_alphabetic() {
            Some(Run::Letters)
        } else if c.is_ascii_digit() {
            Some(Run::Digits)
        } else if c.is_ascii() {
            Some(Run::Punctuation)
        } else {
            None
        };
        if kind != run || kind.is_none() {
            if let Some(previous) = run {
                tokens += cost(previous, len);
            }
            run = kind;
            len = 0;
        }
        match kind {
            Some(_) => len += 1,
            // Any other character (accented, Cyrillic, CJK, emoji, …): a token each.
            None => tokens += 1,
        }
    }
    if let Some(previous) = run {
        tokens += cost(previous, len);
    }
    if text.is_empty() { 0 } else { tokens.max(1) }
}

/// Per message of a chat request (OpenAI's `<|start|>role\n…<|end|>\n` framing).
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Per `name` of a message, besides the name's own tokens.
pub const TOKENS_PER_NAME: u64 = 1;
/// Once per chat request: the priming of the reply.
pub const TOKENS_PER_REPLY: u64 = 3;

/// Counts input tokens: exactly for OpenAI models (with `openai-tokens`), by the estimate for
/// the rest. It is cheap to build; each encoding is loaded once per process on first use
/// (0.4–1 s in a release build), and an exact count runs at about 5 MB/s (35 µs for a 170-byte
/// prompt) against about 100 MB/s for the estimate: more than a warm render, so count off the
/// render path (docs/cost.md).
#[derive(Debug, Clone, Default)]
pub struct Counter {
    default_model: Option<String>,
}

impl Counter {
    /// A counter without a default model: a prompt that names no model is estimated.
    pub fn new() -> Self {
        Counter::default()
    }

    /// A counter that counts a prompt naming no model as `model` would.
    pub fn with_default_model(model: impl Into<String>) -> Self {
        Counter {
            default_model: Some(model.into()),
        }
    }

    /// The tokens of `text` for `model` (`None`: the default model), without chat overhead.
    pub fn count_text(&self, model: Option<&str>, text: &str) -> TokenCount {
        let tokenizer = Tokenizer::for_model(model.or(self.default_model.as_deref()));
        TokenCount {
            tokens: tokenizer.count(text),
            method: tokenizer.method(),
        }
    }

    /// The tokens of `messages` as a chat request to `model`, with the per-message overhead.
    pub fn count_messages(&self, model: Option<&str>, messages: &[ChatMessage]) -> TokenCount {
        let tokenizer = Tokenizer::for_model(model.or(self.default_model.as_deref()));
        let mut tokens = TOKENS_PER_REPLY;
        for message in messages {
            tokens += TOKENS_PER_MESSAGE + tokenizer.count(role_name(message.role)) + tokenizer.count(&message.content);
            if let Some(name) = &message.name {
                tokens += TOKENS_PER_NAME + tokenizer.count(name);
            }
            if let Some(id) = &message.tool_call_id {
                tokens += tokenizer.count(id);
            }
            for call in &message.tool_calls {
                tokens += tokenizer.count(&call.id) + tokenizer.count(&call.name);
                tokens += tokenizer.count(&call.arguments.to_string());
            }
        }
        TokenCount {
            tokens,
            method: tokenizer.method(),
        }
    }
}

impl TokenCounter for Counter {
    fn count(&self, model: Option<&str>, output: &RenderOutput) -> TokenCount {
        match output {
            RenderOutput::Text(text) => self.count_text(model, text),
            RenderOutput::Messages(messages) => self.count_messages(model, messages),
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Function => "function",
        Role::Tool => "tool",
    }
}

/// What one count uses: an encoding that loaded, or the estimate.
#[derive(Clone, Copy)]
enum Tokenizer {
    #[cfg(feature = "openai-tokens")]
    Bpe(Encoding, &'static tiktoken_rs::CoreBPE),
    Estimate,
}

impl Tokenizer {
    fn for_model(model: Option<&str>) -> Self {
        #[cfg(feature = "openai-tokens")]
        if let Some(encoding) = model.and_then(encoding_for_model)
            && let Some(bpe) = bpe::load(encoding)
        {
            return Tokenizer::Bpe(encoding, bpe);
        }
        let _ = model;
        Tokenizer::Estimate
    }

    fn method(self) -> TokenMethod {
        match self {
            #[cfg(feature = "openai-tokens")]
            Tokenizer::Bpe(encoding, _) => TokenMethod::Exact(encoding.name()),
            Tokenizer::Estimate => TokenMethod::Estimate,
        }
    }

    fn count(self, text: &str) -> u64 {
        match self {
            #[cfg(feature = "openai-tokens")]
            Tokenizer::Bpe(_, bpe) => bpe::count(bpe, text),
            Tokenizer::Estimate => estimate_text(text),
        }
    }
}

/// The exact count of `text` in `encoding`, without special tokens (`<|endoftext|>` in a
/// prompt is ordinary text, as the API treats it); `None` when this build has no encodings
/// (feature `openai-tokens` off).
pub fn count_exact(encoding: Encoding, text: &str) -> Option<u64> {
    #[cfg(feature = "openai-tokens")]
    {
        bpe::load(encoding).map(|bpe| bpe::count(bpe, text))
    }
    #[cfg(not(feature = "openai-tokens"))]
    {
        let _ = (encoding, text);
        None
    }
}

#[cfg(feature = "openai-tokens")]
mod bpe {
    use std::sync::LazyLock;

    use tiktoken_rs::CoreBPE;

    use super::Encoding;

    static O200K: LazyLock<Option<CoreBPE>> = LazyLock::new(|| tiktoken_rs::o200k_base().ok());
    static CL100K: LazyLock<Option<CoreBPE>> = LazyLock::new(|| tiktoken_rs::cl100k_base().ok());

    /// The encoding, loaded on first use; `None` if its embedded ranks failed to load (never
    /// seen: the crate's tests load both).
    pub(super) fn load(encoding: Encoding) -> Option<&'static CoreBPE> {
        match encoding {
            Encoding::O200kBase => O200K.as_ref(),
            Encoding::Cl100kBase => CL100K.as_ref(),
        }
    }

    /// The tokens of `text` without special tokens. tiktoken's pre-tokenizer stops with an
    /// error on a regex backtracking limit, which tiktoken-rs turns into a panic; such a text
    /// is estimated instead, so counting never takes a render down.
    pub(super) fn count(bpe: &CoreBPE, text: &str) -> u64 {
        std::panic::catch_unwind(|| bpe.encode_ordinary(text).len() as u64)
            .unwrap_or_else(|_| super::estimate_text(text))
    }
}
